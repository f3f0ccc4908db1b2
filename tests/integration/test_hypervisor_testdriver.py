"""The hypervisor layer against libvirt's built-in test driver (``test:///default``).

No daemon and no QEMU: real libvirt API semantics (states, errors, redefinition) without
booting anything. Real boots are in tests/e2e/test_node_boot.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from nodeagent.hypervisor import libvirt_api as lv
from nodeagent.hypervisor.designer import NodePolicy, design
from nodeagent.hypervisor.errors import (
    DomainNotFound,
    HypervisorOperationFailed,
    HypervisorTimeout,
    HypervisorUnavailable,
)
from nodeagent.hypervisor.guest import Guest, GuestState, console_tail
from nodeagent.hypervisor.host import Host
from nodeagent.spec import InstancePaths, InstanceSpec
from tests.hostcheck import require_libvirt_binding

T = TypeVar("T")
POLICY = NodePolicy(virt_type="qemu", bridge="ibr0")


@pytest.fixture(autouse=True)
def _binding() -> None:
    require_libvirt_binding()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def new_spec(tmp_path: Path) -> InstanceSpec:
    return InstanceSpec(
        instance_id="i-" + uuid.uuid4().hex[:17],
        memory_mib=128,
        vcpus=1,
        kernel=str(tmp_path / "vmlinux"),
        root_image=str(tmp_path / "root.img"),
        mac="52:54:00:00:00:01",
        tap="ib-test",
        private_ip="10.77.0.9",
    )


def define(host: Host, spec: InstanceSpec, tmp_path: Path) -> Guest:
    paths = InstancePaths(tmp_path / spec.instance_id)
    run(host.define(design(spec, paths, POLICY).to_string()))
    return Guest(host, spec.instance_id)


def test_constants_match_the_binding() -> None:
    import libvirt

    for name in [
        "DOMAIN_RUNNING",
        "DOMAIN_PAUSED",
        "DOMAIN_SHUTDOWN",
        "DOMAIN_SHUTOFF",
        "DOMAIN_CRASHED",
        "DOMAIN_SHUTDOWN_ACPI_POWER_BTN",
        "DOMAIN_REBOOT_ACPI_POWER_BTN",
        "DOMAIN_UNDEFINE_NVRAM",
    ]:
        ours = name.removeprefix("DOMAIN_") if "_ACPI_" in name or "NVRAM" in name else name
        assert getattr(lv, ours) == getattr(libvirt, f"VIR_{name}"), name
    for name in [
        "ERR_INTERNAL_ERROR",
        "ERR_NO_CONNECT",
        "ERR_INVALID_CONN",
        "ERR_OPERATION_FAILED",
        "ERR_INVALID_ARG",
        "ERR_XML_ERROR",
        "ERR_SYSTEM_ERROR",
        "ERR_RPC",
        "ERR_NO_DOMAIN",
        "ERR_OPERATION_INVALID",
        "ERR_OPERATION_TIMEOUT",
        "ERR_DOM_EXIST",
        "ERR_AUTH_FAILED",
        "ERR_AUTH_UNAVAILABLE",
        "FROM_RPC",
        "FROM_REMOTE",
    ]:
        assert getattr(lv, name) == getattr(libvirt, f"VIR_{name}"), name


def test_guest_lifecycle_is_idempotent(tmp_path: Path) -> None:
    host = Host("test:///default")
    spec = new_spec(tmp_path)
    guest = define(host, spec, tmp_path)
    assert run(guest.state()) is GuestState.SHUTOFF
    run(guest.start())
    run(guest.start())
    assert run(guest.state()) is GuestState.RUNNING
    assert spec.instance_id in run(host.domain_names())
    run(guest.reboot())
    run(guest.reboot(hard=True))
    assert run(guest.state()) is GuestState.RUNNING
    assert run(guest.shutdown(grace=5, poll=0.05)) is True
    assert run(guest.state()) is GuestState.SHUTOFF
    assert run(guest.shutdown(grace=5)) is True  # already off
    run(guest.start())
    run(guest.destroy())
    run(guest.destroy())
    assert run(guest.state()) is GuestState.SHUTOFF
    run(guest.undefine())
    run(guest.undefine())
    assert run(guest.state()) is GuestState.MISSING
    run(host.close())


def test_redefining_keeps_one_domain(tmp_path: Path) -> None:
    host = Host("test:///default")
    spec = new_spec(tmp_path)
    guest = define(host, spec, tmp_path)
    run(guest.start())
    define(host, spec, tmp_path)  # same instance, same derived UUID: an update, not a clash
    assert run(host.domain_names()).count(spec.instance_id) == 1
    xml = run(guest.xml())
    assert "<kernel>" in xml and "<acpi/>" in xml
    assert f"<serial>{spec.instance_id}</serial>" in xml
    run(guest.destroy())
    run(guest.undefine())
    run(host.close())


def test_libvirt_errors_become_ours(tmp_path: Path) -> None:
    host = Host("test:///default")
    with pytest.raises(DomainNotFound):
        run(host.call(lambda c: c.lookupByName("i-00000000000000000").create()))
    with pytest.raises(HypervisorOperationFailed):
        run(host.define("<domain type='qemu'><name>x</name></domain>"))  # no memory
    assert run(Guest(host, "i-00000000000000000").state()) is GuestState.MISSING
    run(host.close())


def test_unreachable_hypervisor_is_unavailable() -> None:
    host = Host("qemu+unix:///system?socket=/nonexistent/libvirt-sock", deadline=10)
    with pytest.raises(HypervisorUnavailable):
        run(host.version())
    run(host.close())


def test_calls_have_deadlines_and_share_no_lock() -> None:
    host = Host("test:///default")
    release = threading.Event()

    def stuck(conn: Any) -> int:
        release.wait(5)
        return 1

    async def scenario() -> float:
        slow = asyncio.ensure_future(host.call(stuck, deadline=3))
        started = time.monotonic()
        await host.version()  # not blocked behind the stuck call
        elapsed = time.monotonic() - started
        with pytest.raises(HypervisorTimeout):
            await host.call(stuck, deadline=0.2)
        release.set()
        assert await slow == 1
        return elapsed

    assert run(scenario()) < 1.0
    run(host.close())


def test_reconnects_after_the_connection_drops() -> None:
    host = Host("test:///default")
    before = run(host.version())
    conn = host._conn
    assert conn is not None
    conn.close()  # behind the host's back, as a daemon restart would
    assert run(host.version()) == before
    assert host._conn is not conn
    run(host.close())


def test_console_tail_reaches_into_the_rotated_log(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    assert run(console_tail(log)) == b""
    (tmp_path / "console.log.1").write_bytes(b"A" * 100 + b"older")
    log.write_bytes(b"newer")
    assert run(console_tail(log, limit=10)) == b"oldernewer"
    log.write_bytes(b"x" * 70_000)
    assert run(console_tail(log)) == b"x" * 65_536
