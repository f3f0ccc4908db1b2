"""DescribeImages and DeregisterImage (RegisterImage is in ``images_register``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete

from controller.db.models import ImageLaunchPermission, Tag
from controller.ec2 import errors
from controller.ec2.context import RequestContext
from controller.ec2.filters import apply_filters
from controller.ec2.images_store import (
    check_image_id,
    describe,
    granted_accounts,
    not_found,
    owned_image,
    visible_images,
)
from controller.ec2.pagination import paginate
from controller.ec2.permissions import owner_ids, users_named
from controller.ec2.registry import Params, Result, action


def _mappings(image: Any, field: str) -> list[object]:
    return [m.get("Ebs", {}).get(field) if field in ("DeleteOnTermination", "VolumeSize",
                                                     "VolumeType", "SnapshotId")
            else m.get(field) for m in json.loads(image.block_device_mappings)]


_FILTERS: dict[str, Callable[[Any], object]] = {
    "architecture": lambda i: i.architecture,
    "block-device-mapping.delete-on-termination":
        lambda i: _mappings(i, "DeleteOnTermination"),
    "block-device-mapping.device-name": lambda i: _mappings(i, "DeviceName"),
    "block-device-mapping.snapshot-id": lambda i: _mappings(i, "SnapshotId"),
    "block-device-mapping.volume-size": lambda i: _mappings(i, "VolumeSize"),
    "block-device-mapping.volume-type": lambda i: _mappings(i, "VolumeType"),
    "creation-date": lambda i: i.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    "description": lambda i: i.description,
    "hypervisor": lambda i: "xen",
    "image-id": lambda i: i.id,
    "image-type": lambda i: i.image_type,
    "is-public": lambda i: bool(i.is_public),
    "kernel-id": lambda i: i.kernel_id,
    "manifest-location": lambda i: i.image_location,
    "name": lambda i: i.name,
    "owner-alias": lambda i: None,
    "owner-id": lambda i: i.account_id,
    "platform": lambda i: None,
    "platform-details": lambda i: "Linux/UNIX",
    "product-code": lambda i: None,
    "product-code.type": lambda i: None,
    "ramdisk-id": lambda i: i.ramdisk_id,
    "root-device-name": lambda i: i.root_device_name,
    "root-device-type": lambda i: i.root_device_type,
    "state": lambda i: i.state,
    "state-reason-code": lambda i: None,
    "state-reason-message": lambda i: None,
    "sriov-net-support": lambda i: None,
    "usage-operation": lambda i: "RunInstances",
    "virtualization-type": lambda i: i.virtualization_type,
}


def _executable_by(ctx: RequestContext, users: list[str], rows: list[Any]) -> list[Any]:
    """Images launchable by the named users: ``all`` = public ones; ``self`` (or the caller's
    own id) = the ones shared with the caller; another id = the ones shared with it."""
    accounts, public = users_named(ctx.account_id, users)
    grants = granted_accounts(ctx.session, [r.id for r in rows]) if accounts else {}
    return [r for r in rows if (public and r.is_public) or grants.get(r.id, set()) & accounts]


@action("DescribeImages", mutating=False)
def describe_images(ctx: RequestContext, params: Params) -> Result:
    image_ids: list[str] = params.get("ImageIds") or []
    if image_ids and (params.get("MaxResults") is not None or params.get("NextToken")):
        raise errors.InvalidParameterCombination(
            "The parameter imageIdsSet cannot be used with the parameter maxResults")
    for image_id in image_ids:
        check_image_id(image_id)
    found = visible_images(ctx.reader, ctx.account_id, image_ids)
    found_ids = {row.id for row, _ in found}
    missing = [i for i in image_ids if i not in found_ids]
    if missing:
        raise not_found(", ".join(missing)) if len(missing) > 1 else not_found(missing[0])
    tags = {row.id: t for row, t in found}
    rows = [row for row, _ in found]
    if params.get("Owners"):
        owners = owner_ids(ctx.account_id, params["Owners"])
        rows = [r for r in rows if r.account_id in owners]
    if params.get("ExecutableUsers"):
        rows = _executable_by(ctx, params["ExecutableUsers"], rows)
    rows = apply_filters(rows, params.get("Filters"), _FILTERS, lambda r: tags[r.id])
    page, token = paginate(rows, lambda r: r.id, params.get("MaxResults"),
                           params.get("NextToken"), low=1, high=1000)
    result: dict[str, Any] = {"Images": [describe(r, tags[r.id]) for r in page]}
    if token:
        result["NextToken"] = token
    return result


@action("DeregisterImage")
def deregister_image(ctx: RequestContext, params: Params) -> Result:
    image = owned_image(ctx.session, ctx.account_id, params["ImageId"])
    session = ctx.session
    session.execute(delete(ImageLaunchPermission).where(ImageLaunchPermission.image_id == image.id))
    session.execute(delete(Tag).where(Tag.resource_id == image.id))
    session.delete(image)
    return {"Return": True}
