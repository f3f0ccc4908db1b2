"""CreateSnapshot, DeleteSnapshot, DescribeSnapshots and CopySnapshot.

A new snapshot is a ``pending`` row; the snapshot job (``snapshot_job``) stores the bytes and
moves it to ``completed`` (or ``error``). Deleting a pending snapshot cancels it: the job sees
its row gone and removes what it stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select

from controller import ids
from controller.db.models import Image, Snapshot, SnapshotPermission, Tag, Volume
from controller.ec2 import errors
from controller.ec2.context import RequestContext
from controller.ec2.filters import apply_filters
from controller.ec2.pagination import paginate
from controller.ec2.permissions import owner_ids, users_named
from controller.ec2.registry import Params, Result, action
from controller.ec2.snapshot_parts import BUCKET, release_parts
from controller.ec2.snapshots_store import (
    COMPLETED,
    COPIED_VOLUME,
    PENDING,
    check_snapshot_id,
    describe,
    granted_accounts,
    not_found,
    owned_snapshot,
    start_time,
    visible_snapshot,
    visible_snapshots,
)
from controller.ec2.tagging import set_tags, tags_from_specifications

MAX_DESCRIPTION = 255
_SNAPSHOT_STATES = ("available", "in-use")

_FILTERS: dict[str, Callable[[Any], object]] = {
    "description": lambda s: s.description,
    "encrypted": lambda s: bool(s.encrypted),
    "owner-alias": lambda s: None,
    "owner-id": lambda s: s.account_id,
    "progress": lambda s: f"{s.progress}%",
    "snapshot-id": lambda s: s.id,
    "start-time": start_time,
    "status": lambda s: s.state,
    "storage-tier": lambda s: "standard",
    "transfer-type": lambda s: "standard",
    "volume-id": lambda s: s.volume_id,
    "volume-size": lambda s: s.volume_size_gib,
}


def _description(value: str | None) -> str:
    if value is not None and len(value) > MAX_DESCRIPTION:
        raise errors.InvalidParameterValue(
            f"Value for parameter description is invalid. It must be at most "
            f"{MAX_DESCRIPTION} characters long.")
    return value or ""


def _volume(ctx: RequestContext, volume_id: str) -> Volume:
    if not ids.is_resource_id(volume_id, "vol"):
        raise errors.InvalidVolumeIDMalformed(f'Invalid id: "{volume_id[:64]}" '
                                              '(expecting "vol-...")')
    volume = ctx.session.get(Volume, volume_id)
    if volume is None or volume.account_id != ctx.account_id:
        raise errors.InvalidVolumeNotFound(f"The volume '{volume_id}' does not exist.")
    if volume.state not in _SNAPSHOT_STATES or not volume.location:
        raise errors.IncorrectState(f"The volume '{volume_id}' is '{volume.state}' and "
                                    "cannot be snapshotted now.")
    return volume


def new_snapshot(ctx: RequestContext, *, volume_id: str, size_gib: int, description: str,
                 tags: dict[str, str], source: str | None = None) -> Snapshot:
    """A pending snapshot row for the job to fill (``source``: the snapshot to copy)."""
    snapshot_id = ids.new_resource_id("snap")
    snapshot = Snapshot(id=snapshot_id, account_id=ctx.account_id, volume_id=volume_id,
                        volume_size_gib=size_gib, description=description, state=PENDING,
                        progress=0, source_snapshot_id=source, bucket=BUCKET,
                        prefix=f"{snapshot_id}/", stored_bytes=0, is_public=False)
    ctx.session.add(snapshot)
    ctx.session.flush()
    if tags:
        set_tags(ctx.session, ctx.account_id, {snapshot_id: "snapshot"}, tags)
    return snapshot


@action("CreateSnapshot")
def create_snapshot(ctx: RequestContext, params: Params) -> Result:
    if params.get("OutpostArn") or params.get("Location") not in (None, "regional"):
        raise errors.InvalidParameterValue("Outposts and Local Zones are not supported by "
                                           "this cloud")
    description = _description(params.get("Description"))
    tags = tags_from_specifications(params.get("TagSpecifications"), "snapshot")
    volume = _volume(ctx, params["VolumeId"])
    if volume.encrypted:
        raise errors.InvalidParameterValue("Encrypted volumes are not supported by this cloud")
    snapshot = new_snapshot(ctx, volume_id=volume.id, size_gib=volume.size_gib,
                            description=description, tags=tags)
    return describe(snapshot, tags)


def _images_using(ctx: RequestContext, snapshot_id: str) -> list[str]:
    """Registered images whose block device mappings name the snapshot."""
    marker = f'"{snapshot_id}"'
    rows = ctx.session.execute(select(Image.id, Image.block_device_mappings)
                               .where(Image.block_device_mappings.contains(marker)))
    using = []
    for image_id, mappings in rows:
        if any((m.get("Ebs") or {}).get("SnapshotId") == snapshot_id
               for m in json.loads(mappings or "[]")):
            using.append(image_id)
    return sorted(using)


@action("DeleteSnapshot")
def delete_snapshot(ctx: RequestContext, params: Params) -> Result:
    snapshot = owned_snapshot(ctx.session, ctx.account_id, params["SnapshotId"],
                              for_update=True)
    images = _images_using(ctx, snapshot.id)
    if images:
        raise errors.InvalidSnapshotInUse(
            f"The snapshot {snapshot.id} is currently in use by {images[0]}")
    release_parts(ctx.session, snapshot)
    ctx.session.execute(delete(SnapshotPermission)
                        .where(SnapshotPermission.snapshot_id == snapshot.id))
    ctx.session.execute(delete(Tag).where(Tag.resource_id == snapshot.id))
    ctx.session.delete(snapshot)
    return {}


def _restorable_by(ctx: RequestContext, users: list[str], rows: list[Any]) -> list[Any]:
    """Snapshots the named accounts may create volumes from: ``all`` = public ones; ``self``
    (or an account id) = the ones that account owns or that are shared with it."""
    accounts, public = users_named(ctx.account_id, users)
    grants = granted_accounts(ctx.session, [r.id for r in rows]) if accounts else {}

    def restorable(row: Any) -> bool:
        if (public and row.is_public) or row.account_id in accounts:
            return True
        # Whom someone else's snapshot is shared with is the owner's business: the caller
        # learns only about itself.
        asked = accounts if row.account_id == ctx.account_id else accounts & {ctx.account_id}
        return bool(grants.get(row.id, set()) & asked)

    return [r for r in rows if restorable(r)]


@action("DescribeSnapshots", mutating=False)
def describe_snapshots(ctx: RequestContext, params: Params) -> Result:
    snapshot_ids: list[str] = params.get("SnapshotIds") or []
    if snapshot_ids and (params.get("MaxResults") is not None or params.get("NextToken")):
        raise errors.InvalidParameterCombination(
            "The parameter snapshotSet cannot be used with the parameter maxResults")
    for snapshot_id in snapshot_ids:
        check_snapshot_id(snapshot_id)
    found = visible_snapshots(ctx.reader, ctx.account_id, snapshot_ids)
    found_ids = {row.id for row, _ in found}
    missing = [i for i in snapshot_ids if i not in found_ids]
    if missing:
        raise not_found(missing[0])
    tags = {row.id: t for row, t in found}
    rows = [row for row, _ in found]
    if params.get("OwnerIds"):
        owners = owner_ids(ctx.account_id, params["OwnerIds"])
        rows = [r for r in rows if r.account_id in owners]
    if params.get("RestorableByUserIds"):
        rows = _restorable_by(ctx, params["RestorableByUserIds"], rows)
    rows = apply_filters(rows, params.get("Filters"), _FILTERS, lambda r: tags[r.id])
    page, token = paginate(rows, lambda r: r.id, params.get("MaxResults"),
                           params.get("NextToken"), low=5, high=1000)
    result: dict[str, Any] = {"Snapshots": [describe(r, tags[r.id]) for r in page]}
    if token:
        result["NextToken"] = token
    return result


@action("CopySnapshot")
def copy_snapshot(ctx: RequestContext, params: Params) -> Result:
    region = params["SourceRegion"]
    if region != ctx.settings.region:
        raise errors.InvalidParameterValue(
            f"Value ({region[:64]}) for parameter sourceRegion is invalid. This cloud copies "
            f"snapshots within its region ({ctx.settings.region}) only.")
    if params.get("DestinationRegion") not in (None, ctx.settings.region):
        raise errors.InvalidParameterValue("Value for parameter destinationRegion is invalid.")
    if params.get("Encrypted") or params.get("KmsKeyId") or params.get("DestinationOutpostArn"):
        raise errors.InvalidParameterValue("Encryption and Outposts are not supported by this "
                                           "cloud")
    source = visible_snapshot(ctx.session, ctx.account_id, params["SourceSnapshotId"])
    if source.state != COMPLETED:
        raise errors.IncorrectState(f"Snapshot {source.id} is not in the 'completed' state.")
    description = _description(params.get("Description")
                               or f"[Copied {source.id} from {region}]")
    tags = tags_from_specifications(params.get("TagSpecifications"), "snapshot")
    snapshot = new_snapshot(ctx, volume_id=COPIED_VOLUME, size_gib=source.volume_size_gib,
                            description=description, tags=tags, source=source.id)
    result: dict[str, Any] = {"SnapshotId": snapshot.id}
    if tags:
        result["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    return result
