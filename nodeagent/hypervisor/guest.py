"""One domain: start, ACPI shutdown (then destroy after a grace period), reboot, destroy,
undefine, state, and the tail of its console log. Every operation is idempotent: asking for
the state a domain is already in succeeds.
"""

from __future__ import annotations

import asyncio
import enum
import time
from pathlib import Path

from nodeagent.hypervisor import libvirt_api as lv
from nodeagent.hypervisor.errors import DomainNotFound, InvalidDomainState
from nodeagent.hypervisor.host import Host

CONSOLE_TAIL_BYTES = 64 * 1024


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

    async def xml(self) -> str:
        return str(await self.host.call(lambda c: c.lookupByName(self.name).XMLDesc(0)))


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
