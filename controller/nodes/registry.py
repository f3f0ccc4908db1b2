"""Registering node agents and recording their heartbeats (no HTTP here).

A node registers with the cluster token and gets a node id and a per-node credential; only the
credential's SHA-256 is stored. Registering again under the same name (a node that lost its
state directory) keeps the node id and replaces the credential. Helpers never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controller import ids
from controller.db.models import Node
from controller.identity.secretbox import SecretBox
from controller.nodes.protocol import Capacity, Heartbeat, Registration

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"


class NodeAuthError(Exception):
    """Wrong cluster token, unknown node or wrong credential (all answered alike: 403)."""


@dataclass(frozen=True)
class NewCredential:
    node_id: str
    credential: str


def credential_hash(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def check_cluster_token(given: str | None, expected: str) -> None:
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise NodeAuthError("wrong cluster token")


def _apply_capacity(node: Node, capacity: Capacity) -> None:
    node.vcpus = capacity.vcpus
    node.memory_mib = capacity.memory_mib
    node.disk_gib = capacity.disk_gib
    node.max_instances = capacity.max_instances


def register(session: Session, box: SecretBox, reg: Registration, now: datetime) -> NewCredential:
    """Create the node, or give a known name a new credential; either way it is healthy."""
    credential = secrets.token_urlsafe(32)
    node = session.scalars(select(Node).where(Node.name == reg.name).with_for_update()).first()
    if node is None:
        node = Node(id=ids.new_resource_id("node"), name=reg.name, registered_at=now)
        session.add(node)
    node.endpoint = reg.endpoint
    node.hypervisor = reg.hypervisor
    _apply_capacity(node, reg.capacity)
    node.credential_hash = credential_hash(credential)
    node.api_token_encrypted = box.seal(reg.api_token) if reg.api_token else None
    node.state = HEALTHY
    node.last_heartbeat_at = now
    session.flush()
    return NewCredential(node.id, credential)


def authenticate(session: Session, node_id: str, credential: str | None) -> Node:
    node = session.get(Node, node_id) if ids.is_resource_id(node_id, "node") else None
    if node is None or credential is None:
        raise NodeAuthError("unknown node or no credential")
    if not hmac.compare_digest(node.credential_hash, credential_hash(credential)):
        raise NodeAuthError("wrong node credential")
    return node


def heartbeat(session: Session, node: Node, beat: Heartbeat, now: datetime) -> None:
    if beat.capacity is not None:
        _apply_capacity(node, beat.capacity)
    node.instances = json.dumps([report.model_dump() for report in beat.instances])
    node.last_heartbeat_at = now
    node.state = HEALTHY


def mark_silent_nodes(session: Session, now: datetime, silence: timedelta) -> list[str]:
    """Healthy nodes not heard from for ``silence`` become unhealthy; nothing is deleted.

    One UPDATE, so several controllers running it at once agree."""
    rows = session.execute(
        update(Node)
        .where(Node.state == HEALTHY, Node.last_heartbeat_at < now - silence)
        .values(state=UNHEALTHY)
        .returning(Node.id)
    )
    return sorted(row[0] for row in rows)


def instance_reports(node: Node) -> list[dict[str, str]]:
    reports: list[dict[str, str]] = json.loads(node.instances) if node.instances else []
    return reports


def describe(node: Node) -> dict[str, object]:
    return {
        "node_id": node.id,
        "name": node.name,
        "endpoint": node.endpoint,
        "hypervisor": node.hypervisor,
        "capacity": {
            "vcpus": node.vcpus,
            "memory_mib": node.memory_mib,
            "disk_gib": node.disk_gib,
            "max_instances": node.max_instances,
        },
        "state": node.state,
        "registered_at": node.registered_at.isoformat(),
        "last_heartbeat_at": node.last_heartbeat_at.isoformat(),
        "instances": instance_reports(node),
    }
