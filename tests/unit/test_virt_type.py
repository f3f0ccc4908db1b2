"""KVM vs TCG: the HOST-SETUP rule (kvm_pvm or no vmx/svm means TCG), and its override."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodeagent.hypervisor.virt_type import choose_virt_type, detect_virt_type

VMX = "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse2\n"
NO_VMX = "processor\t: 0\nflags\t\t: fpu vme de pse sse2 hypervisor\n"
PVM = "kvm_pvm 94208 0 - Live 0x0000000000000000\nkvm 1105920 1 kvm_pvm, Live 0x0\n"
KVM_INTEL = "kvm_intel 380928 0 - Live 0x0\nkvm 1105920 1 kvm_intel, Live 0x0\n"


@pytest.mark.parametrize(
    ("dev_kvm", "modules", "cpuinfo", "expected"),
    [
        (True, KVM_INTEL, VMX, "kvm"),
        (True, PVM, NO_VMX, "qemu"),  # this machine: /dev/kvm exists, KVM guests hang
        (True, PVM, VMX, "qemu"),
        (True, KVM_INTEL, NO_VMX, "qemu"),
        (False, KVM_INTEL, VMX, "qemu"),
        (True, "", "flags : svm\n", "kvm"),
    ],
)
def test_auto(dev_kvm: bool, modules: str, cpuinfo: str, expected: str) -> None:
    assert choose_virt_type("auto", dev_kvm=dev_kvm, modules=modules, cpuinfo=cpuinfo) == expected


@pytest.mark.parametrize("forced", ["kvm", "qemu"])
def test_setting_overrides_the_rule(forced: str) -> None:
    assert choose_virt_type(forced, dev_kvm=False, modules=PVM, cpuinfo=NO_VMX) == forced


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError):
        choose_virt_type("xen", dev_kvm=True, modules="", cpuinfo=VMX)


def test_detect_reads_the_host_files(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "proc").mkdir()
    (tmp_path / "dev/kvm").touch()
    (tmp_path / "proc/modules").write_text(KVM_INTEL)
    (tmp_path / "proc/cpuinfo").write_text(VMX)
    assert detect_virt_type("auto", tmp_path) == "kvm"
    (tmp_path / "proc/modules").write_text(PVM)
    assert detect_virt_type("auto", tmp_path) == "qemu"
