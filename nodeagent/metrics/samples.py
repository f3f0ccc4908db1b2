"""Readings and samples: pure logic, no libvirt, no I/O.

libvirt keeps cumulative counters per running domain: CPU time, and per disk and per network
interface bytes and operations/packets. A *reading* is those counters at one moment; a
*sample* is the difference between two readings of one instance over ``[start, end)``, in the
shape of the metrics wire contract (``POST /_ironbark/nodes/metrics``, docs/node-agent.md).

- Counters restart from zero when QEMU starts again (stop/start, a crash: the domain id
  changes; a guest reboot keeps the same QEMU and its counters), when a disk is plugged again,
  and for a domain or disk that appeared since the last reading: a counter that is new or went
  backwards is reported as its new value.
- Disks split into the instance's own (root, ephemeral) and attached EBS volumes, keyed by
  volume id, through the attachment records' target devices (``vdf`` -> ``vol-...``).
- Network orientation: libvirt reports interface statistics from the *domain's* point of view
  (``virNetDevTapInterfaceStats`` swaps the host tap's rx/tx for bridge and network
  interfaces: what the host's tap receives is what the guest sent), so ``net.N.rx`` is what the
  guest received, i.e. NetworkIn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import astuple, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class BlockIO:
    """Bytes and operations read and written: cumulative in a reading, a delta in a sample."""

    read_bytes: int = 0
    write_bytes: int = 0
    read_ops: int = 0
    write_ops: int = 0

    def since(self, before: BlockIO | None) -> BlockIO:
        return BlockIO(*_since(self, before))

    def __add__(self, other: BlockIO) -> BlockIO:
        return BlockIO(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def wire(self) -> dict[str, int]:
        return {"read_bytes": self.read_bytes, "write_bytes": self.write_bytes,
                "read_ops": self.read_ops, "write_ops": self.write_ops}


@dataclass(frozen=True)
class NetIO:
    """Bytes and packets as the guest sees them: ``in`` is what the guest received."""

    in_bytes: int = 0
    out_bytes: int = 0
    in_packets: int = 0
    out_packets: int = 0

    def since(self, before: NetIO | None) -> NetIO:
        return NetIO(*_since(self, before))

    def __add__(self, other: NetIO) -> NetIO:
        return NetIO(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def _since(now: BlockIO | NetIO, before: BlockIO | NetIO | None) -> list[int]:
    if before is None:
        return list(astuple(now))
    return [counter(b, c) for b, c in zip(astuple(before), astuple(now), strict=True)]


def counter(before: int | None, now: int) -> int:
    """The increase of a cumulative counter; a new counter, or one that went backwards (it
    restarted from zero since ``before``), counts as its new value."""
    if before is None or now < before:
        return now
    return now - before


@dataclass(frozen=True)
class Disk:
    path: str | None
    io: BlockIO


@dataclass(frozen=True)
class Reading:
    """One running domain's counters at one moment. ``unread`` names disks libvirt listed
    without counters (QEMU's monitor was busy and the call does not wait for it)."""

    domain_id: int
    cpu_time_ns: int
    disks: Mapping[str, Disk] = field(default_factory=dict)
    nics: Mapping[str, NetIO] = field(default_factory=dict)
    unread: frozenset[str] = frozenset()

    def keeping_unread(self, before: Reading | None) -> Reading:
        """This reading with the previous counters of its unread disks, so their I/O is
        counted at the next reading instead of being lost or counted twice."""
        if before is None or before.domain_id != self.domain_id or not self.unread:
            return self
        kept = {name: before.disks[name] for name in self.unread if name in before.disks}
        return Reading(self.domain_id, self.cpu_time_ns, {**kept, **self.disks}, self.nics)


def parse_stats(domain_id: int, flat: Mapping[str, Any]) -> Reading | None:
    """A :class:`Reading` from libvirt's flat statistics (``cpu.time``, ``block.0.name``,
    ``block.0.rd.bytes``, ``net.0.rx.pkts``, ...); None without ``cpu.time`` (a driver whose
    bulk call reports only the state)."""
    if "cpu.time" not in flat:
        return None
    disks: dict[str, Disk] = {}
    unread: set[str] = set()
    for i in range(int(flat.get("block.count", 0))):
        name = flat.get(f"block.{i}.name")
        if name is None:
            continue
        keys = [f"block.{i}.{key}" for key in ("rd.bytes", "wr.bytes", "rd.reqs", "wr.reqs")]
        if not all(key in flat for key in keys):
            unread.add(str(name))
            continue
        path = flat.get(f"block.{i}.path")
        disks[str(name)] = Disk(None if path is None else str(path),
                                BlockIO(*(int(flat[key]) for key in keys)))
    nics: dict[str, NetIO] = {}
    for i in range(int(flat.get("net.count", 0))):
        name = flat.get(f"net.{i}.name")
        keys = [f"net.{i}.{key}" for key in ("rx.bytes", "tx.bytes", "rx.pkts", "tx.pkts")]
        if name is not None and all(key in flat for key in keys):
            nics[str(name)] = NetIO(*(int(flat[key]) for key in keys))
    return Reading(domain_id, int(flat["cpu.time"]), disks, nics, frozenset(unread))


@dataclass(frozen=True)
class MetricTarget:
    """What the sampler needs to know of one instance: its vCPUs, its disks and interfaces
    (target device names) and which disks are attached volumes."""

    instance_id: str
    vcpus: int
    disks: tuple[str, ...] = ("vda",)
    nics: tuple[str, ...] = ()
    volumes: Mapping[str, str] = field(default_factory=dict)  # target dev -> volume id


@dataclass(frozen=True)
class Sample:
    """One instance over ``[start, end)``: the wire contract's sample."""

    instance_id: str
    start: datetime
    end: datetime
    vcpus: int
    cpu_time_ns: int
    disk: BlockIO
    net: NetIO
    volumes: Mapping[str, BlockIO]

    def wire(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "start": timestamp(self.start),
            "end": timestamp(self.end),
            "vcpus": self.vcpus,
            "cpu_time_ns": self.cpu_time_ns,
            "disk_read_bytes": self.disk.read_bytes,
            "disk_write_bytes": self.disk.write_bytes,
            "disk_read_ops": self.disk.read_ops,
            "disk_write_ops": self.disk.write_ops,
            "net_in_bytes": self.net.in_bytes,
            "net_out_bytes": self.net.out_bytes,
            "net_in_packets": self.net.in_packets,
            "net_out_packets": self.net.out_packets,
            "volumes": {vol: io.wire() for vol, io in sorted(self.volumes.items())},
        }


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sample(target: MetricTarget, before: Reading | None, now: Reading,
           start: datetime, end: datetime) -> Sample:
    """The sample between two readings of ``target``'s domain. ``before`` is None for a
    domain that was not running at the previous reading (its counters started with it)."""
    if before is not None and before.domain_id != now.domain_id:
        before = None  # QEMU started again: every counter restarted from zero
    own = BlockIO()
    volumes: dict[str, BlockIO] = {}
    for name, disk in now.disks.items():
        previous = before.disks.get(name) if before is not None else None
        if previous is not None and previous.path != disk.path:
            previous = None  # another file on the same device: a different disk
        io = disk.io.since(previous.io if previous is not None else None)
        volume_id = target.volumes.get(name)
        if volume_id is None:
            own += io
        else:
            volumes[volume_id] = volumes.get(volume_id, BlockIO()) + io
    net = NetIO()
    for name, nic in now.nics.items():
        net += nic.since(before.nics.get(name) if before is not None else None)
    return Sample(
        instance_id=target.instance_id, start=start, end=end, vcpus=target.vcpus,
        cpu_time_ns=counter(before.cpu_time_ns if before is not None else None,
                            now.cpu_time_ns),
        disk=own, net=net, volumes=volumes)
