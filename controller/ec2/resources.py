"""Which EC2 resources exist for an account, by id: what CreateTags and friends rely on.

Each resource kind that gets a table adds a line to ``_KINDS``; tags then work for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import ids
from controller.db.models import (
    Base,
    Image,
    Instance,
    KeyPair,
    SecurityGroup,
    Snapshot,
    Volume,
)
from controller.ec2 import errors


@dataclass(frozen=True)
class Kind:
    resource_type: str
    model: type[Base]
    not_found: type[errors.ClientError]
    noun: str


_KINDS: dict[str, Kind] = {
    "sg": Kind("security-group", SecurityGroup, errors.InvalidGroupNotFound, "security group ID"),
    "key": Kind("key-pair", KeyPair, errors.InvalidKeyPairNotFound, "key pair ID"),
    "ami": Kind("image", Image, errors.InvalidAMIIDNotFound, "image id"),
    "aki": Kind("image", Image, errors.InvalidAMIIDNotFound, "image id"),
    "ari": Kind("image", Image, errors.InvalidAMIIDNotFound, "image id"),
    "i": Kind("instance", Instance, errors.InvalidInstanceIDNotFound, "instance ID"),
    "snap": Kind("snapshot", Snapshot, errors.InvalidSnapshotNotFound, "snapshot"),
    "vol": Kind("volume", Volume, errors.InvalidVolumeNotFound, "volume"),
}


def kind_of(resource_id: str) -> Kind:
    """The kind of a well-formed, supported resource id; ``InvalidID`` otherwise."""
    prefix = resource_id.partition("-")[0]
    kind = _KINDS.get(prefix)
    if kind is None or not ids.is_resource_id(resource_id, prefix):
        raise errors.InvalidID(f"The ID '{resource_id}' is not valid")
    return kind


def require_existing(session: Session, account_id: str, resource_ids: Iterable[str]) -> dict[str, str]:
    """Map each id to its resource type; raise the kind's NotFound for the first missing one."""
    by_kind: dict[str, list[str]] = {}
    found: dict[str, str] = {}
    wanted = list(dict.fromkeys(resource_ids))
    for rid in wanted:
        by_kind.setdefault(rid.partition("-")[0], []).append(rid)
        kind_of(rid)
    for prefix, batch in by_kind.items():
        kind = _KINDS[prefix]
        table = kind.model.__table__
        rows = session.execute(
            select(table.c.id).where(table.c.id.in_(batch), table.c.account_id == account_id)
        ).scalars()
        found.update({rid: kind.resource_type for rid in rows})
    for rid in wanted:
        if rid not in found:
            kind = _KINDS[rid.partition("-")[0]]
            raise kind.not_found(f"The {kind.noun} '{rid}' does not exist")
    return found
