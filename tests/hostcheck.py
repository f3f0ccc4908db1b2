"""What a host test needs, checked up front: skipped (or failed in CI) with a precise reason."""

from __future__ import annotations

import os
import shutil

from tests.conftest import host_tests_unavailable


def require_libvirt_binding() -> None:
    try:
        import libvirt  # noqa: F401
    except ImportError:
        host_tests_unavailable("libvirt-python is not installed (deploy/host-setup.sh)")


def require_real_host(*tools: str) -> None:
    """Root, libvirt-python, a libvirtd answering on qemu:///system, and these tools on PATH."""
    if os.geteuid() != 0:
        host_tests_unavailable("needs root (bridges, nftables, libvirt's system instance)")
    require_libvirt_binding()
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        host_tests_unavailable(f"missing {', '.join(missing)} (deploy/host-setup.sh)")
    import libvirt

    try:
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        libvirt.open("qemu:///system").close()
    except libvirt.libvirtError as exc:
        host_tests_unavailable(f"libvirtd does not answer on qemu:///system: {exc}")
