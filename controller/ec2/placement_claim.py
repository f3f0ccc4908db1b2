"""The transactional half of scheduling: lock the healthy nodes, read what they hold, place.

On PostgreSQL the node rows are locked with ``SELECT ... FOR UPDATE``; on SQLite a no-op UPDATE
takes the database's write lock first. Either way two controllers placing at the same time run
one after the other, and the second sees the first one's instances: no node is over-committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from controller.db.models import Instance, Node
from controller.ec2.instance_states import HOLDS_CAPACITY
from controller.ec2.scheduler import NodeRoom
from controller.nodes.registry import HEALTHY


def zone_of(node_name: str, zones: Sequence[str], node_zones: Mapping[str, str]) -> str:
    """A node's zone: the operator's ``node_zones`` mapping, else the first zone."""
    return node_zones.get(node_name, zones[0])


def lock_healthy_nodes(session: Session) -> list[Node]:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Node).where(Node.id == "").values(state=Node.state))
    query = select(Node).where(Node.state == HEALTHY).order_by(Node.id).with_for_update()
    return list(session.scalars(query))


def rooms(session: Session, nodes: Sequence[Node], zones: Sequence[str],
          node_zones: Mapping[str, str]) -> list[NodeRoom]:
    """Each node's capacity minus what its instances in a capacity-holding state use."""
    if not nodes:
        return []
    used = {row[0]: row[1:] for row in session.execute(
        select(Instance.node_id, func.count(), func.sum(Instance.vcpus),
               func.sum(Instance.memory_mib), func.sum(Instance.disk_gib))
        .where(Instance.node_id.in_([n.id for n in nodes]), Instance.state.in_(HOLDS_CAPACITY))
        .group_by(Instance.node_id))}
    out: list[NodeRoom] = []
    for node in nodes:
        count, vcpus, memory, disk = used.get(node.id, (0, 0, 0, 0))
        out.append(NodeRoom(
            node_id=node.id, zone=zone_of(node.name, zones, node_zones),
            vcpus=node.vcpus - int(vcpus or 0), memory_mib=node.memory_mib - int(memory or 0),
            disk_gib=node.disk_gib - int(disk or 0), instances=node.max_instances - int(count),
            load=int(vcpus or 0) / max(node.vcpus, 1), total_vcpus=node.vcpus))
    return out
