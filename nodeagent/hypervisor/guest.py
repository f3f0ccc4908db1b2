"""One domain: start, ACPI shutdown (then destroy after a grace period), reboot, destroy,
undefine, state, disks (attach, detach, live backup), and the tail of its console log. Every operation is idempotent: asking for
the state a domain is already in succeeds.
"""

from __future__ import annotations

import asyncio
import enum
import time
from pathlib import Path

from lxml import etree

from nodeagent.hypervisor import libvirt_api as lv
from nodeagent.hypervisor.config import DiskConfig
from nodeagent.hypervisor.errors import (
    DomainNotFound,
    HypervisorOperationFailed,
    HypervisorTimeout,
    InvalidDomainState,
)
from nodeagent.hypervisor.events import DEVICE_REMOVAL_FAILED, DEVICE_REMOVED, DomainEvent
from nodeagent.hypervisor.host import Host

CONSOLE_TAIL_BYTES = 64 * 1024
XML_INACTIVE = 2  # VIR_DOMAIN_XML_INACTIVE: the persistent definition, not the live one
DETACH_DEADLINE = 30.0
BACKUP_DEADLINE = 3600.0
JOB_NONE, JOB_COMPLETED = 0, 3  # virDomainJobType
JOB_STATS_COMPLETED = 1  # VIR_DOMAIN_JOB_STATS_COMPLETED: the stats of the job that just ended


class GuestState(enum.Enum):
    RUNNING = "running"
    PAUSED = "paused"
    SHUTTING_DOWN = "shutting-down"
    SHUTOFF = "shutoff"
    CRASHED = "crashed"
    MISSING = "missing"  # no such domain defined

    @property
    def active(self) -> bool:
        return self in (GuestState.RUNNING, GuestState.PAUSED, GuestState.SHUTTING_DOWN)


_STATES = {
    lv.DOMAIN_NOSTATE: GuestState.RUNNING,
    lv.DOMAIN_RUNNING: GuestState.RUNNING,
    lv.DOMAIN_BLOCKED: GuestState.RUNNING,
    lv.DOMAIN_PAUSED: GuestState.PAUSED,
    lv.DOMAIN_SHUTDOWN: GuestState.SHUTTING_DOWN,
    lv.DOMAIN_SHUTOFF: GuestState.SHUTOFF,
    lv.DOMAIN_CRASHED: GuestState.CRASHED,
    lv.DOMAIN_PMSUSPENDED: GuestState.PAUSED,
}


class Guest:
    """A handle on the domain called ``name``; holds no libvirt object between calls."""

    def __init__(self, host: Host, name: str) -> None:
        self.host = host
        self.name = name

    async def state(self) -> GuestState:
        try:
            code = await self.host.call(lambda c: c.lookupByName(self.name).state(0)[0])
        except DomainNotFound:
            return GuestState.MISSING
        return _STATES.get(int(code), GuestState.CRASHED)

    async def start(self) -> None:
        """Boot the defined domain; a running one is left alone."""
        if (await self.state()).active:
            return
        try:
            await self.host.call(lambda c: c.lookupByName(self.name).create())
        except InvalidDomainState:
            if not (await self.state()).active:
                raise

    async def destroy(self) -> None:
        """Pull the plug; a domain that is not running (or not defined) is left alone."""
        try:
            await self.host.call(lambda c: c.lookupByName(self.name).destroy())
        except (InvalidDomainState, DomainNotFound):
            return

    async def shutdown(self, grace: float, *, poll: float = 0.5) -> bool:
        """ACPI power button, then destroy if still running after ``grace`` seconds.

        libvirt's default shutdown method is the ACPI power button for QEMU guests without a
        guest-agent channel (ours have none); the test driver supports only the default.

        Returns True when the guest powered itself off within the grace period.
        """
        if not (await self.state()).active:
            return True
        try:
            await self.host.call(
                lambda c: c.lookupByName(self.name).shutdownFlags(lv.SHUTDOWN_DEFAULT)
            )
        except (InvalidDomainState, DomainNotFound):
            return True
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not (await self.state()).active:
                return True
            await asyncio.sleep(poll)
        await self.destroy()
        return False

    async def reboot(self, *, hard: bool = False) -> None:
        """ACPI reboot (the guest shuts down, libvirt restarts it), or a hard reset."""
        if hard:
            await self.host.call(lambda c: c.lookupByName(self.name).reset(0))
        else:
            await self.host.call(lambda c: c.lookupByName(self.name).reboot(lv.REBOOT_DEFAULT))

    async def undefine(self) -> None:
        """Forget the (stopped) domain; an unknown one is fine."""
        try:
            await self.host.call(lambda c: c.lookupByName(self.name).undefineFlags(0))
        except DomainNotFound:
            return

    async def xml(self, *, inactive: bool = False) -> str:
        flags = XML_INACTIVE if inactive else 0
        return str(await self.host.call(lambda c: c.lookupByName(self.name).XMLDesc(flags)))

    async def _disk_places(self, target_dev: str) -> tuple[int, str | None]:
        """AFFECT_* flags of where a disk with ``target_dev`` is (live guest, persistent
        definition), and its live alias."""
        flags, alias = 0, None
        if (await self.state()).active:
            live = _disk(await self.xml(), target_dev)
            if live is not None:
                flags |= lv.AFFECT_LIVE
                alias_element = live.find("alias")
                alias = alias_element.get("name") if alias_element is not None else None
        if _disk(await self.xml(inactive=True), target_dev) is not None:
            flags |= lv.AFFECT_CONFIG
        return flags, alias

    async def attach_disk(self, disk: DiskConfig) -> None:
        """Hot-plug ``disk`` into the running guest and its definition, or into the definition
        only when the guest is stopped. Where it is already attached it is left alone."""
        present, _ = await self._disk_places(disk.target_dev)
        wanted = lv.AFFECT_CONFIG
        if (await self.state()).active:
            wanted |= lv.AFFECT_LIVE
        missing = wanted & ~present
        if missing:
            xml = etree.tostring(disk.to_xml(), encoding="unicode")
            await self.host.call(
                lambda c: c.lookupByName(self.name).attachDeviceFlags(xml, missing)
            )

    async def detach_disk(self, disk: DiskConfig, *, deadline: float = DETACH_DEADLINE) -> None:
        """Unplug the disk from the guest and its definition. A running guest must release it
        (libvirt's DEVICE_REMOVED event) within ``deadline`` seconds, else
        :class:`HypervisorTimeout`; the definition no longer has it then, and repeating the
        call waits again. A disk that is not attached is fine."""
        present, alias = await self._disk_places(disk.target_dev)
        if not present:
            return
        xml = etree.tostring(disk.to_xml(), encoding="unicode")
        waiter = self.host.events.expect(
            lambda e: _removal_of(e, self.name, alias)
        ) if present & lv.AFFECT_LIVE else None
        try:
            await self.host.call(
                lambda c: c.lookupByName(self.name).detachDeviceFlags(xml, present)
            )
            if waiter is None:
                return
            event = await waiter.wait(deadline)
        finally:
            if waiter is not None:
                waiter.close()
        if event is not None and event.kind == DEVICE_REMOVAL_FAILED:
            raise HypervisorOperationFailed(f"the guest refused to release {disk.target_dev}")
        if event is None and (await self._disk_places(disk.target_dev))[0] & lv.AFFECT_LIVE:
            raise HypervisorTimeout(
                f"the guest did not release {disk.target_dev} within {deadline} s"
            )

    async def backup_disk(self, target_dev: str, target: Path, *, fmt: str = "qcow2",
                          deadline: float = BACKUP_DEADLINE, poll: float = 0.1) -> None:
        """A point-in-time copy of the running guest's disk ``target_dev`` into the new file
        ``target`` (libvirt's push-mode backup; a qcow2 target stays sparse). Returns once
        the copy is complete; the guest keeps running and writing meanwhile."""
        live = etree.fromstring((await self.xml()).encode())
        names = [t.get("dev") for t in live.iterfind("devices/disk/target")]
        if target_dev not in names:
            raise InvalidDomainState(f"{self.name} has no disk {target_dev}")
        xml = _backup_xml(target_dev, [n for n in names if n and n != target_dev], target, fmt)
        await self.host.call(lambda c: c.lookupByName(self.name).backupBegin(xml, None, 0))
        started = time.monotonic()
        while await self.host.call(lambda c: c.lookupByName(self.name).jobInfo()[0]) != JOB_NONE:
            if time.monotonic() - started > deadline:
                await self.host.call(lambda c: c.lookupByName(self.name).abortJob())
                raise HypervisorTimeout(f"the backup of {target_dev} overran {deadline} s")
            await asyncio.sleep(poll)
        stats = await self.host.call(
            lambda c: c.lookupByName(self.name).jobStats(JOB_STATS_COMPLETED))
        if int(stats.get("type", 0)) != JOB_COMPLETED:
            raise HypervisorOperationFailed(
                f"the backup of {target_dev} did not complete: {stats.get('errmsg', stats)}")


def _backup_xml(target_dev: str, others: list[str], target: Path, fmt: str) -> str:
    root = etree.Element("domainbackup", mode="push")
    disks = etree.SubElement(root, "disks")
    disk = etree.SubElement(disks, "disk", name=target_dev, backup="yes", type="file")
    etree.SubElement(disk, "driver", type=fmt)
    etree.SubElement(disk, "target", file=str(target))
    for name in others:
        etree.SubElement(disks, "disk", name=name, backup="no")
    return etree.tostring(root, encoding="unicode")


def _disk(xml: str, target_dev: str) -> etree._Element | None:
    root = etree.fromstring(xml.encode())
    for disk in root.iterfind("devices/disk"):
        target = disk.find("target")
        if target is not None and target.get("dev") == target_dev:
            return disk
    return None


def _removal_of(event: DomainEvent, domain: str, alias: str | None) -> bool:
    return (
        event.domain == domain
        and event.kind in (DEVICE_REMOVED, DEVICE_REMOVAL_FAILED)
        and (alias is None or event.alias == alias)
    )


async def console_tail(log_file: Path, limit: int = CONSOLE_TAIL_BYTES) -> bytes:
    """The last ``limit`` bytes of a console log, reaching into virtlogd's rotated ``.1`` file
    when the current one is shorter. Empty when there is no log yet."""
    return await asyncio.to_thread(_tail_blocking, log_file, limit)


def _tail_blocking(log_file: Path, limit: int) -> bytes:
    chunks: list[bytes] = []
    wanted = limit
    for path in (log_file, log_file.with_name(log_file.name + ".1")):
        if wanted <= 0:
            break
        try:
            with path.open("rb") as f:
                size = f.seek(0, 2)
                f.seek(max(0, size - wanted))
                data = f.read(wanted)
        except FileNotFoundError:
            continue
        chunks.insert(0, data)
        wanted -= len(data)
    return b"".join(chunks)
