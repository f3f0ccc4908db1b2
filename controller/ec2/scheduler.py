"""Placement (pure): which node each new instance goes to, given a snapshot of capacity.

The claim — reading the snapshot under a lock and recording the instances — is in
``controller/ec2/placement_claim.py``; this module only decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

POLICIES = ("least-loaded", "packing")


@dataclass(frozen=True)
class NodeRoom:
    """What a healthy node has left: its capacity minus what its live instances hold."""

    node_id: str
    zone: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    instances: int
    """How many more instances it may take (max_instances minus live ones)."""
    load: float = 0.0
    """Fraction of its vCPUs in use, for the least-loaded policy."""
    total_vcpus: int = 1


@dataclass(frozen=True)
class Demand:
    vcpus: int
    memory_mib: int
    disk_gib: int


def fits(room: NodeRoom, demand: Demand) -> bool:
    return (room.instances >= 1 and room.vcpus >= demand.vcpus
            and room.memory_mib >= demand.memory_mib and room.disk_gib >= demand.disk_gib)


def _take(room: NodeRoom, demand: Demand) -> NodeRoom:
    used = room.total_vcpus * room.load + demand.vcpus
    return replace(room, vcpus=room.vcpus - demand.vcpus,
                   memory_mib=room.memory_mib - demand.memory_mib,
                   disk_gib=room.disk_gib - demand.disk_gib, instances=room.instances - 1,
                   load=used / max(room.total_vcpus, 1))


def _rank(room: NodeRoom, policy: str) -> tuple[float, str]:
    # least-loaded: the emptiest node first; packing: the fullest node that still fits first
    return (room.load if policy == "least-loaded" else -room.load, room.node_id)


def place(rooms: Sequence[NodeRoom], demand: Demand, zone: str | None, min_count: int,
          max_count: int, policy: str = "least-loaded") -> list[str]:
    """Node ids for between ``min_count`` and ``max_count`` instances (as many as fit), or []
    when fewer than ``min_count`` fit. ``zone`` None: the zone with the most room, one zone
    for the whole reservation (as EC2 does)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown placement policy {policy!r}")
    zones = sorted({r.zone for r in rooms}) if zone is None else [zone]
    best: list[str] = []
    for candidate in zones:
        chosen = _place_in_zone([r for r in rooms if r.zone == candidate], demand, max_count,
                                policy)
        if len(chosen) > len(best):
            best = chosen
    return best if len(best) >= min_count else []


def _place_in_zone(rooms: Sequence[NodeRoom], demand: Demand, count: int,
                   policy: str) -> list[str]:
    pool = {r.node_id: r for r in rooms if fits(r, demand)}
    chosen: list[str] = []
    while len(chosen) < count and pool:
        room = min(pool.values(), key=lambda r: _rank(r, policy))
        chosen.append(room.node_id)
        after = _take(room, demand)
        if fits(after, demand):
            pool[room.node_id] = after
        else:
            del pool[room.node_id]
    return chosen
