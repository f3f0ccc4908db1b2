"""The one module that imports the untyped ``libvirt`` binding; everything else goes through it.

``libvirt`` comes from the optional ``[node]`` extra (libvirt-python), so it is imported lazily:
a controller without libvirt installed never touches this module.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from nodeagent.hypervisor.errors import HypervisorUnavailable

Connection = Any  # libvirt.virConnect; untyped binding
Domain = Any  # libvirt.virDomain

# Constants copied from libvirt's public headers (stable ABI), so modules that only need a
# number do not import the binding.
DOMAIN_NOSTATE = 0
DOMAIN_RUNNING = 1
DOMAIN_BLOCKED = 2
DOMAIN_PAUSED = 3
DOMAIN_SHUTDOWN = 4
DOMAIN_SHUTOFF = 5
DOMAIN_CRASHED = 6
DOMAIN_PMSUSPENDED = 7
SHUTDOWN_DEFAULT = 0  # QEMU without a guest agent channel (ours have none): ACPI power button
SHUTDOWN_ACPI_POWER_BTN = 1
REBOOT_DEFAULT = 0
REBOOT_ACPI_POWER_BTN = 1
UNDEFINE_NVRAM = 4

ERR_INTERNAL_ERROR = 1
ERR_NO_CONNECT = 5
ERR_INVALID_CONN = 6
ERR_OPERATION_FAILED = 9
ERR_INVALID_ARG = 8
ERR_XML_ERROR = 27
ERR_SYSTEM_ERROR = 38
ERR_RPC = 39
ERR_NO_DOMAIN = 42
ERR_OPERATION_INVALID = 55
ERR_OPERATION_TIMEOUT = 68
ERR_DOM_EXIST = 28
ERR_AUTH_FAILED = 45
ERR_AUTH_UNAVAILABLE = 94

FROM_RPC = 7
FROM_REMOTE = 13


@dataclass(frozen=True)
class LibvirtFailure:
    """What we keep of a ``libvirtError``: its code, its domain (subsystem) and message."""

    code: int
    domain: int
    message: str


def binding() -> ModuleType:
    """The ``libvirt`` module, or :class:`HypervisorUnavailable` when it is not installed."""
    try:
        return importlib.import_module("libvirt")
    except ImportError as exc:
        raise HypervisorUnavailable(
            "libvirt-python is not installed (pip install 'ironbark[node]')"
        ) from exc


def open_connection(uri: str) -> Connection:
    """Open a read-write connection; libvirt's own error handler is silenced first."""
    libvirt = binding()
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt.open(uri)


def failure_of(exc: BaseException) -> LibvirtFailure | None:
    """The code/domain/message of a ``libvirtError``; None for any other exception."""
    libvirt = binding()
    if not isinstance(exc, libvirt.libvirtError):
        return None
    return LibvirtFailure(
        code=int(exc.get_error_code() or 0),
        domain=int(exc.get_error_domain() or 0),
        message=str(exc.get_error_message() or exc),
    )


# --- events ---------------------------------------------------------------------------------

AFFECT_CURRENT = 0
AFFECT_LIVE = 1
AFFECT_CONFIG = 2
EVENT_ID_LIFECYCLE = 0
EVENT_ID_DEVICE_REMOVED = 15
EVENT_ID_DEVICE_REMOVAL_FAILED = 22
# virDomainEventType and the virDomainEventStoppedDetailType values we tell apart.
EVENT_DEFINED = 0
EVENT_UNDEFINED = 1
EVENT_STARTED = 2
EVENT_SUSPENDED = 3
EVENT_RESUMED = 4
EVENT_STOPPED = 5
EVENT_SHUTDOWN = 6
EVENT_PMSUSPENDED = 7
EVENT_CRASHED = 8
STOPPED_SHUTDOWN = 0
STOPPED_DESTROYED = 1
STOPPED_CRASHED = 2
STOPPED_FAILED = 5

LifecycleCallback = Callable[[str, int, int], None]  # domain name, event, detail
DeviceCallback = Callable[[str, str, bool], None]  # domain name, device alias, removed?

_event_loop_lock = threading.Lock()
_event_loop_started = False


def start_event_loop() -> None:
    """Register libvirt's default event implementation and run it in a daemon thread, once per
    process. Must happen before the connections that want events are opened."""
    global _event_loop_started
    with _event_loop_lock:
        if _event_loop_started:
            return
        libvirt = binding()
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _event_loop_started = True


def register_domain_events(
    conn: Connection, lifecycle: LifecycleCallback, device: DeviceCallback
) -> list[int]:
    """Subscribe ``conn`` to every domain's lifecycle and device-removal events; the callbacks
    run in the event thread. Returns the callback ids."""

    def on_lifecycle(_c: Any, dom: Domain, event: int, detail: int, _o: Any) -> None:
        lifecycle(str(dom.name()), int(event), int(detail))

    def on_removed(_c: Any, dom: Domain, alias: str, _o: Any) -> None:
        device(str(dom.name()), str(alias), True)

    def on_failed(_c: Any, dom: Domain, alias: str, _o: Any) -> None:
        device(str(dom.name()), str(alias), False)

    return [
        int(conn.domainEventRegisterAny(None, EVENT_ID_LIFECYCLE, on_lifecycle, None)),
        int(conn.domainEventRegisterAny(None, EVENT_ID_DEVICE_REMOVED, on_removed, None)),
        int(conn.domainEventRegisterAny(None, EVENT_ID_DEVICE_REMOVAL_FAILED, on_failed, None)),
    ]


def close_connection(conn: Connection, event_ids: list[int]) -> None:
    """Drop the event subscriptions, then the connection (errors ignored: it may be dead)."""
    for callback_id in event_ids:
        try:
            conn.domainEventDeregisterAny(callback_id)
        except Exception:  # noqa: BLE001, S110 - a dead connection has no callbacks left
            pass
    conn.close()


# --- statistics -----------------------------------------------------------------------------

STATS_STATE = 1  # VIR_DOMAIN_STATS_*
STATS_CPU_TOTAL = 2
STATS_INTERFACE = 16
STATS_BLOCK = 32
GET_ALL_DOMAINS_STATS_ACTIVE = 1  # VIR_CONNECT_GET_ALL_DOMAINS_STATS_*
GET_ALL_DOMAINS_STATS_NOWAIT = 1 << 29  # skip what needs a busy QEMU monitor, never wait

StatsRecord = tuple[str, int, dict[str, Any]]  # domain name, domain id, flat statistics


def all_domain_stats(conn: Connection) -> list[StatsRecord]:
    """CPU, block and interface statistics of every running domain in one call
    (``virConnectGetAllDomainStats``), in libvirt's flat ``cpu.time``/``block.0.rd.bytes``
    form. The domain id changes whenever QEMU is started again (not on a guest reboot)."""
    records = conn.getAllDomainStats(
        STATS_STATE | STATS_CPU_TOTAL | STATS_INTERFACE | STATS_BLOCK,
        GET_ALL_DOMAINS_STATS_ACTIVE | GET_ALL_DOMAINS_STATS_NOWAIT,
    )
    return [(str(dom.name()), int(dom.ID()), dict(stats)) for dom, stats in records]


def domain_stats(conn: Connection, name: str, disks: list[str], nics: list[str]) -> StatsRecord:
    """The same statistics for one domain from the per-domain calls (``getCPUStats``,
    ``blockStats``, ``interfaceStats``), for drivers whose bulk call reports only the state
    (libvirt's test driver). ``disks`` and ``nics`` are target device names."""
    dom = conn.lookupByName(name)
    stats: dict[str, Any] = {"cpu.time": int(dom.getCPUStats(True)[0]["cpu_time"]),
                             "block.count": len(disks), "net.count": len(nics)}
    for i, disk in enumerate(disks):
        rd_reqs, rd_bytes, wr_reqs, wr_bytes, _errors = dom.blockStats(disk)
        stats.update({f"block.{i}.name": disk, f"block.{i}.rd.reqs": rd_reqs,
                      f"block.{i}.rd.bytes": rd_bytes, f"block.{i}.wr.reqs": wr_reqs,
                      f"block.{i}.wr.bytes": wr_bytes})
    for i, nic in enumerate(nics):
        rx_bytes, rx_pkts, _re, _rd, tx_bytes, tx_pkts, _te, _td = dom.interfaceStats(nic)
        stats.update({f"net.{i}.name": nic, f"net.{i}.rx.bytes": rx_bytes,
                      f"net.{i}.rx.pkts": rx_pkts, f"net.{i}.tx.bytes": tx_bytes,
                      f"net.{i}.tx.pkts": tx_pkts})
    return str(dom.name()), int(dom.ID()), stats
