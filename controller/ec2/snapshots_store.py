"""Which snapshots an account sees, and how one is shown: the reads behind the snapshot actions.

A snapshot is visible to its owner, to every account when it is public, and to the accounts its
owner gave create-volume permission. Tags on a snapshot are its owner's (tags are per account).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from controller import ids
from controller.db.models import Snapshot, SnapshotPermission, Tag
from controller.db.queries import rows_with_tags
from controller.db.reader import Prepared, Reader
from controller.ec2 import errors
from controller.ec2.tagging import as_tag_list

PENDING, COMPLETED, ERROR = "pending", "completed", "error"
COPIED_VOLUME = "vol-ffffffff"
"""The VolumeId EC2 reports for a copied snapshot."""


def check_snapshot_id(value: str) -> str:
    if not ids.is_resource_id(value, "snap"):
        raise errors.InvalidSnapshotIDMalformed(
            f'Invalid id: "{value[:64]}" (expecting "snap-...")')
    return value


def not_found(snapshot_id: str) -> errors.InvalidSnapshotNotFound:
    return errors.InvalidSnapshotNotFound(f"The snapshot '{snapshot_id}' does not exist.")


@lru_cache(maxsize=128)
def _visible(id_count: int) -> Prepared:
    snaps = Snapshot.__table__
    tags = Tag.__table__
    grants = SnapshotPermission.__table__
    caller: Any = bindparam("caller")
    query = (
        select(snaps, tags.c.key.label("tag_key"), tags.c.value.label("tag_value"))
        .outerjoin(tags, (tags.c.resource_id == snaps.c.id) & (tags.c.account_id == caller))
        .where(or_(snaps.c.account_id == caller, snaps.c.is_public.is_(True),
                   snaps.c.id.in_(select(grants.c.snapshot_id)
                                  .where(grants.c.account_id == caller))))
        .order_by(snaps.c.id)
    )
    if id_count:
        query = query.where(snaps.c.id.in_([bindparam(f"id_{i}") for i in range(id_count)]))
    return Prepared(query)


def visible_snapshots(reader: Reader, account_id: str,
                      snapshot_ids: Sequence[str] = ()) -> list[tuple[Any, dict[str, str]]]:
    """The snapshots ``account_id`` may see (narrowed to ``snapshot_ids`` if any), each with
    the caller's tags on it, in id order."""
    wanted = list(dict.fromkeys(snapshot_ids))
    params: dict[str, Any] = {"caller": account_id}
    params.update({f"id_{i}": v for i, v in enumerate(wanted)})
    return rows_with_tags(reader.all(_visible(len(wanted)), params))


def granted_accounts(session: Session, snapshot_ids: Iterable[str]) -> dict[str, set[str]]:
    """The accounts each snapshot is explicitly shared with."""
    wanted = list(snapshot_ids)
    out: dict[str, set[str]] = {i: set() for i in wanted}
    if not wanted:
        return out
    rows = session.execute(select(SnapshotPermission.snapshot_id, SnapshotPermission.account_id)
                           .where(SnapshotPermission.snapshot_id.in_(wanted)))
    for snapshot_id, account in rows:
        out[snapshot_id].add(account)
    return out


def is_visible(session: Session, snapshot: Snapshot, account_id: str) -> bool:
    if snapshot.account_id == account_id or snapshot.is_public:
        return True
    return session.get(SnapshotPermission, (snapshot.id, account_id)) is not None


def visible_snapshot(session: Session, account_id: str, snapshot_id: str,
                     *, for_update: bool = False) -> Snapshot:
    """The snapshot if the account may see it (and so create volumes from it)."""
    check_snapshot_id(snapshot_id)
    snapshot = session.get(Snapshot, snapshot_id, with_for_update=for_update)
    if snapshot is None or not is_visible(session, snapshot, account_id):
        raise not_found(snapshot_id)
    return snapshot


def owned_snapshot(session: Session, account_id: str, snapshot_id: str,
                   *, for_update: bool = False) -> Snapshot:
    """The snapshot if the account owns it; someone else's visible snapshot is refused."""
    snapshot = visible_snapshot(session, account_id, snapshot_id, for_update=for_update)
    if snapshot.account_id != account_id:
        raise errors.AuthFailure(f"Not authorized for snapshot:{snapshot_id}")
    return snapshot


def start_time(snapshot: Any) -> str:
    return str(snapshot.start_time.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


def describe(snapshot: Any, tags: dict[str, str]) -> dict[str, Any]:
    """One ``Snapshot`` of DescribeSnapshots, from a row (or model) of ``snapshots``."""
    item: dict[str, Any] = {
        "SnapshotId": snapshot.id,
        "VolumeId": snapshot.volume_id,
        "State": snapshot.state,
        "StartTime": _utc(snapshot.start_time),
        "Progress": f"{snapshot.progress}%",
        "OwnerId": snapshot.account_id,
        "Description": snapshot.description,
        "VolumeSize": snapshot.volume_size_gib,
        "Encrypted": bool(snapshot.encrypted),
        "StorageTier": "standard",
        "Tags": as_tag_list(tags),
    }
    if snapshot.state == ERROR and snapshot.state_message:
        item["StateMessage"] = snapshot.state_message
    if snapshot.completed_at is not None:
        item["CompletionTime"] = _utc(snapshot.completed_at)
    return item


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
