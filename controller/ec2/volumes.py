"""CreateVolume, DescribeVolumes, DeleteVolume, DescribeVolumeStatus, Describe/ModifyVolumeAttribute.

The handlers only change rows; the volume reconciler (``volume_reconciler.py``) makes and
removes the bytes and drives attachments through the nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from controller import ids
from controller.db.models import Snapshot, Volume
from controller.ec2 import errors
from controller.ec2 import volume_rules as rules
from controller.ec2.context import RequestContext
from controller.ec2.filters import apply_filters
from controller.ec2.idempotency import check_same_request, client_token, request_digest
from controller.ec2.pagination import paginate
from controller.ec2.registry import Params, Result, action
from controller.ec2.snapshot_restore import source_snapshot
from controller.ec2.tagging import set_tags, tags_by_resource, tags_from_specifications
from controller.ec2.volumes_view import (
    FILTERS,
    STATUS_FILTERS,
    describe_status,
    describe_volume,
)


def check_volume_ids(values: Sequence[str]) -> list[str]:
    for value in values:
        if not ids.is_resource_id(value, "vol"):
            raise errors.InvalidVolumeIDMalformed(
                f'Invalid id: "{value[:64]}" (expecting "vol-...")')
    return list(dict.fromkeys(values))


def _not_found(missing: Sequence[str]) -> errors.InvalidVolumeNotFound:
    if len(missing) == 1:
        return errors.InvalidVolumeNotFound(f"The volume '{missing[0]}' does not exist.")
    return errors.InvalidVolumeNotFound(f"The volumes '{', '.join(missing)}' do not exist.")


def owned_volumes(ctx: RequestContext, volume_ids: Sequence[str], *,
                  for_update: bool = False) -> list[Volume]:
    """The caller's volumes with these ids, in id order; all exist or ``NotFound``."""
    wanted = check_volume_ids(volume_ids)
    query = select(Volume).where(Volume.account_id == ctx.account_id).order_by(Volume.id)
    if wanted:
        query = query.where(Volume.id.in_(wanted))
    if for_update:
        query = query.with_for_update()
    found = list(ctx.session.scalars(query))
    missing = [v for v in wanted if v not in {x.id for x in found}]
    if missing:
        raise _not_found(missing)
    return found


def owned_volume(ctx: RequestContext, volume_id: str | None) -> Volume:
    if not volume_id:
        raise errors.MissingParameter("The request must contain the parameter volumeId")
    return owned_volumes(ctx, [volume_id], for_update=True)[0]


def _replay(ctx: RequestContext, token: str, digest: str) -> Result | None:
    volume = ctx.session.scalar(select(Volume).where(
        Volume.account_id == ctx.account_id, Volume.client_token == token))
    if volume is None:
        return None
    check_same_request(volume.request_digest, digest)
    return describe_volume(volume, tags_by_resource(ctx.session, ctx.account_id, [volume.id])[volume.id])


def _size(params: Params, volume_type: str, snapshot: Snapshot | None) -> int:
    size: int | None = params.get("Size")
    if size is None and snapshot is None:
        raise errors.MissingParameter("The request must contain the parameter size or snapshotId")
    if snapshot is not None:
        if size is None:
            size = snapshot.volume_size_gib
        elif size < snapshot.volume_size_gib:
            raise errors.InvalidParameterValue(
                f"Volume of {size}GiB is smaller than snapshot '{snapshot.id}', expect size >= "
                f"{snapshot.volume_size_gib}GiB")
    assert size is not None
    rules.check_size(volume_type, size)
    return size


def _zone(ctx: RequestContext, params: Params) -> str:
    zone = params.get("AvailabilityZone")
    if params.get("AvailabilityZoneId"):
        raise errors.InvalidParameterValue(
            "AvailabilityZoneId is not supported here; give AvailabilityZone")
    if not zone:
        raise errors.MissingParameter("The request must contain the parameter availabilityZone")
    if zone not in ctx.settings.zones:
        raise errors.InvalidZoneNotFound(f"The zone '{zone[:64]}' does not exist.")
    return str(zone)


@action("CreateVolume")
def create_volume(ctx: RequestContext, params: Params) -> Result:
    token = client_token(params)
    digest = request_digest(params)
    if token:
        replayed = _replay(ctx, token, digest)
        if replayed is not None:
            return replayed
    if params.get("Encrypted"):
        raise errors.UnsupportedOperation(
            "Encrypted volumes are not supported by this cloud yet: create the volume without "
            "Encrypted=true (or encrypt inside the guest).")
    if params.get("KmsKeyId"):
        raise errors.InvalidParameterDependency(
            "The parameter KmsKeyId requires the parameter Encrypted to be set.")
    if params.get("MultiAttachEnabled"):
        raise errors.InvalidParameterValue("Multi-Attach is not supported by this cloud.")
    if params.get("OutpostArn"):
        raise errors.InvalidParameterValue("Outposts are not supported by this cloud.")
    zone = _zone(ctx, params)
    volume_type = rules.check_type(params.get("VolumeType"))
    snapshot_id = params.get("SnapshotId")
    snapshot = source_snapshot(ctx.session, ctx.account_id, snapshot_id) if snapshot_id \
        else None
    size = _size(params, volume_type, snapshot)
    perf = rules.performance(volume_type, size, params.get("Iops"), params.get("Throughput"))
    tags = tags_from_specifications(params.get("TagSpecifications"), "volume")
    now = datetime.now(UTC)
    volume = Volume(
        id=ids.new_resource_id("vol"), account_id=ctx.account_id, size_gib=size,
        snapshot_id=snapshot.id if snapshot else None, availability_zone=zone,
        volume_type=volume_type, iops=perf.iops, throughput=perf.throughput, encrypted=False,
        auto_enable_io=False, state=rules.CREATING, backend="file",
        host=ctx.settings.storage_host, format=ctx.settings.volume_format,
        delete_on_termination=False, created_at=now, state_changed_at=now,
        client_token=token or None, request_digest=digest)
    ctx.session.add(volume)
    ctx.session.flush()
    if tags:
        set_tags(ctx.session, ctx.account_id, {volume.id: "volume"}, tags)
    return describe_volume(volume, tags)


@action("DescribeVolumes", mutating=False)
def describe_volumes(ctx: RequestContext, params: Params) -> Result:
    wanted = params.get("VolumeIds") or []
    if wanted and params.get("MaxResults") is not None:
        raise errors.InvalidParameterCombination(
            "The parameter volumeSet cannot be used with the parameter maxResults")
    volumes = owned_volumes(ctx, wanted)
    tags = tags_by_resource(ctx.session, ctx.account_id, [v.id for v in volumes])
    volumes = apply_filters(volumes, params.get("Filters"), FILTERS, lambda v: tags[v.id])
    page, token = paginate(volumes, lambda v: v.id, params.get("MaxResults"),
                           params.get("NextToken"))
    result: dict[str, Any] = {"Volumes": [describe_volume(v, tags[v.id]) for v in page]}
    if token:
        result["NextToken"] = token
    return result


@action("DeleteVolume")
def delete_volume(ctx: RequestContext, params: Params) -> Result:
    volume = owned_volume(ctx, params.get("VolumeId"))
    if volume.attach_state is not None:
        raise errors.VolumeInUse(
            f"Volume {volume.id} is currently attached to {volume.instance_id}")
    if volume.state not in (rules.AVAILABLE, rules.ERROR, rules.DELETING):
        raise errors.IncorrectState(
            f"The volume '{volume.id}' is '{volume.state}' and cannot be deleted.")
    if volume.state != rules.DELETING:
        volume.state = rules.DELETING
        volume.state_changed_at = datetime.now(UTC)
    return {}


@action("DescribeVolumeStatus", mutating=False)
def describe_volume_status(ctx: RequestContext, params: Params) -> Result:
    volumes = owned_volumes(ctx, params.get("VolumeIds") or [])
    volumes = apply_filters(volumes, params.get("Filters"), STATUS_FILTERS)
    page, token = paginate(volumes, lambda v: v.id, params.get("MaxResults"),
                           params.get("NextToken"))
    result: dict[str, Any] = {"VolumeStatuses": [describe_status(v) for v in page]}
    if token:
        result["NextToken"] = token
    return result


@action("DescribeVolumeAttribute", mutating=False)
def describe_volume_attribute(ctx: RequestContext, params: Params) -> Result:
    attribute = params.get("Attribute")
    if not attribute:
        raise errors.MissingParameter("The request must contain the parameter attribute")
    if attribute not in ("autoEnableIO", "productCodes"):
        raise errors.InvalidParameterValue(
            f"Value ({attribute[:64]}) for parameter attribute is invalid. Unknown attribute.")
    if not params.get("VolumeId"):
        raise errors.MissingParameter("The request must contain the parameter volumeId")
    volume = owned_volumes(ctx, [params["VolumeId"]])[0]
    if attribute == "autoEnableIO":
        return {"VolumeId": volume.id, "AutoEnableIO": {"Value": volume.auto_enable_io}}
    return {"VolumeId": volume.id, "ProductCodes": []}


@action("ModifyVolumeAttribute")
def modify_volume_attribute(ctx: RequestContext, params: Params) -> Result:
    volume = owned_volume(ctx, params.get("VolumeId"))
    value = (params.get("AutoEnableIO") or {}).get("Value")
    if value is None:
        raise errors.MissingParameter("The request must contain the parameter autoEnableIO")
    volume.auto_enable_io = bool(value)
    return {}
