"""KVM or QEMU/TCG: the rule measured on our machines, overridable by configuration.

``/dev/kvm`` alone proves nothing: under ``kvm_pvm`` (no vmx/svm) a KVM guest spins at 100 %
CPU and prints nothing. Choose ``kvm`` only when /dev/kvm exists, ``kvm_pvm`` is not loaded
and the CPU advertises vmx or svm.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

VirtType = Literal["kvm", "qemu"]
_HW_VIRT = re.compile(r"^flags\s*:.*\b(vmx|svm)\b", re.MULTILINE)


def choose_virt_type(setting: str, *, dev_kvm: bool, modules: str, cpuinfo: str) -> VirtType:
    """``setting`` is ``auto``, ``kvm`` or ``qemu``; the other arguments are host facts."""
    if setting == "kvm":
        return "kvm"
    if setting == "qemu":
        return "qemu"
    if setting != "auto":
        raise ValueError(f"virt_type must be auto, kvm or qemu, not {setting!r}")
    pvm = any(line.split(" ", 1)[0] == "kvm_pvm" for line in modules.splitlines())
    if dev_kvm and not pvm and _HW_VIRT.search(cpuinfo):
        return "kvm"
    return "qemu"


def detect_virt_type(setting: str, root: Path = Path("/")) -> VirtType:
    """Apply :func:`choose_virt_type` to this machine's /dev/kvm, /proc/modules, /proc/cpuinfo."""

    def read(path: str) -> str:
        try:
            return (root / path).read_text()
        except OSError:
            return ""

    return choose_virt_type(
        setting,
        dev_kvm=(root / "dev/kvm").exists(),
        modules=read("proc/modules"),
        cpuinfo=read("proc/cpuinfo"),
    )
