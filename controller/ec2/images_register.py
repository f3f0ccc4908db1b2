"""RegisterImage: read a manifest from the object store, as the caller, and record the image.

The caller must be allowed ``s3:GetObject`` on the manifest and on every part it lists (the S3
access model decides: owners, ACLs, bucket policies); each part must exist with the size the
manifest gives. Checksums are kept for the node agent, which verifies them when it fetches.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controller import ids
from controller.db.models import Bucket, Image, S3Object
from controller.ec2 import errors, image_checks
from controller.ec2.context import RequestContext
from controller.ec2.image_manifest import Manifest, ManifestError, Part, parse_manifest
from controller.ec2.images_store import PREFIXES, check_image_id, visible_image
from controller.ec2.registry import Params, Result, action
from controller.ec2.snapshot_restore import source_snapshot
from controller.ec2.tagging import set_tags, tags_from_specifications
from controller.identity.authenticate import Principal
from controller.s3 import lookup, stored_bytes
from controller.s3.access import RequestFacts, authorize
from controller.s3.encryption import SSE_C
from controller.s3.errors import S3Error

MAX_LOCATION = 1024 + 64


@action("RegisterImage")
def register_image(ctx: RequestContext, params: Params) -> Result:
    name = image_checks.check_name(params.get("Name"))
    description = image_checks.check_description(params.get("Description"))
    architecture = image_checks.check_architecture(params.get("Architecture"))
    virtualization = image_checks.check_virtualization_type(params.get("VirtualizationType"))
    mappings = image_checks.block_device_mappings(params.get("BlockDeviceMappings"),
                                                  snapshot_sizer(ctx))
    tags = tags_from_specifications(params.get("TagSpecifications"), "image")
    location = params.get("ImageLocation")
    session = ctx.session
    _check_name_free(session, ctx.account_id, name)
    if not location:
        image = _ebs_image(ctx, params, name, description, architecture, virtualization,
                           mappings)
        _record(ctx, image, tags)
        return {"ImageId": image.id}
    manifest = _read_manifest(ctx, location)
    machine = manifest.image_type == "machine"
    kernel_id = params.get("KernelId") or manifest.kernel_id
    ramdisk_id = params.get("RamdiskId") or manifest.ramdisk_id
    if not machine and (params.get("KernelId") or params.get("RamdiskId")):
        raise errors.InvalidParameterCombination(
            "KernelId and RamdiskId apply to machine images only")
    if machine:
        _check_boot_image(session, ctx.account_id, kernel_id, "kernel")
        _check_boot_image(session, ctx.account_id, ramdisk_id, "ramdisk")
    root = params.get("RootDeviceName") or ("/dev/sda1" if machine else None)
    if root is not None:
        image_checks.check_device_name(root)
    image = Image(
        id=ids.new_resource_id(PREFIXES[manifest.image_type]), account_id=ctx.account_id,
        name=name, description=description, image_type=manifest.image_type, state="available",
        architecture=architecture or manifest.architecture or "x86_64",
        virtualization_type=virtualization, root_device_type="instance-store",
        root_device_name=root, kernel_id=kernel_id if machine else None,
        ramdisk_id=ramdisk_id if machine else None, image_location=location,
        manifest=manifest.to_json(), block_device_mappings=json.dumps(mappings), is_public=False)
    _record(ctx, image, tags)
    return {"ImageId": image.id}


def _record(ctx: RequestContext, image: Image, tags: dict[str, str]) -> None:
    ctx.session.add(image)
    try:
        ctx.session.flush()
    except IntegrityError:
        raise _duplicate(image.name, None) from None
    if tags:
        set_tags(ctx.session, ctx.account_id, {image.id: "image"}, tags)


def snapshot_sizer(ctx: RequestContext) -> image_checks.SnapshotSize:
    """Sizes of the completed snapshots the caller may use, for block device mappings."""
    def size(snapshot_id: str) -> int:
        return source_snapshot(ctx.session, ctx.account_id, snapshot_id).volume_size_gib
    return size


def _ebs_image(ctx: RequestContext, params: Params, name: str, description: str | None,
               architecture: str | None, virtualization: str,
               mappings: list[dict[str, Any]]) -> Image:
    """An EBS-backed machine image: its root device is a volume made from a snapshot."""
    root = params.get("RootDeviceName")
    if not root:
        raise errors.MissingParameter(
            "The request must contain the parameter imageLocation or rootDeviceName")
    image_checks.check_device_name(root)
    by_device = {m["DeviceName"].removeprefix("/dev/"): m for m in mappings}
    root_mapping = by_device.get(root.removeprefix("/dev/"))
    if root_mapping is None or not root_mapping.get("Ebs", {}).get("SnapshotId"):
        raise errors.InvalidBlockDeviceMapping(
            f"The root device {root[:64]} needs a block device mapping with a snapshot")
    kernel_id, ramdisk_id = params.get("KernelId"), params.get("RamdiskId")
    _check_boot_image(ctx.session, ctx.account_id, kernel_id, "kernel")
    _check_boot_image(ctx.session, ctx.account_id, ramdisk_id, "ramdisk")
    return Image(
        id=ids.new_resource_id("ami"), account_id=ctx.account_id, name=name,
        description=description, image_type="machine", state="available",
        architecture=architecture or "x86_64", virtualization_type=virtualization,
        root_device_type="ebs", root_device_name=root, kernel_id=kernel_id,
        ramdisk_id=ramdisk_id, image_location=f"{ctx.account_id}/{name}", manifest="{}",
        block_device_mappings=json.dumps(mappings), is_public=False)


def _duplicate(name: str, image_id: str | None) -> errors.InvalidAMINameDuplicate:
    suffix = f" by AMI {image_id}" if image_id else ""
    return errors.InvalidAMINameDuplicate(f"AMI name {name} is already in use{suffix}.")


def _check_name_free(session: Session, account_id: str, name: str) -> None:
    taken = session.scalar(select(Image.id).where(Image.account_id == account_id,
                                                  Image.name == name))
    if taken is not None:
        raise _duplicate(name, taken)


def _check_boot_image(session: Session, account_id: str, image_id: str | None, kind: str) -> None:
    if image_id is None:
        return
    check_image_id(image_id)
    image = visible_image(session, account_id, image_id)
    if image.image_type != kind:
        raise errors.InvalidParameterValue(f"The image {image_id} is not a {kind} image")
    if image.state != "available":
        raise errors.InvalidAMIIDUnavailable(f"The image {image_id} is not available")


def _split_location(location: str) -> tuple[str, str]:
    bucket, _, key = location.lstrip("/").partition("/")
    if len(location) > MAX_LOCATION or not bucket or not key:
        raise errors.InvalidManifest(
            f"ImageLocation {location[:200]!r} is not of the form BUCKET/KEY")
    return bucket, key


def _read_manifest(ctx: RequestContext, location: str) -> Manifest:
    bucket_name, key = _split_location(location)
    bucket = ctx.session.get(Bucket, bucket_name)
    if bucket is None:
        raise errors.InvalidManifest(f"HTTP 404 (Not Found) for {location[:200]}: no such bucket")
    principal = Principal(ctx.account_id, ctx.user_id, "", None, None)
    manifest_object = _readable(ctx.session, principal, bucket, key, location)
    body = _object_bytes(ctx, manifest_object)
    try:
        manifest = parse_manifest(body, key.rpartition("/")[0] + "/" if "/" in key else "")
    except ManifestError as exc:
        raise errors.InvalidManifest(f"{location[:200]}: {exc}") from None
    parts = [_check_part(ctx.session, principal, bucket, part, manifest.source) for part in manifest.parts]
    return Manifest(**{**manifest.__dict__, "parts": tuple(parts)})


def _readable(session: Session, principal: Principal, bucket: Bucket, key: str,
              location: str) -> S3Object:
    found = lookup.latest(session, bucket.name, key)
    try:
        authorize(session, principal, bucket, "s3:GetObject", RequestFacts(), obj=found, key=key)
    except S3Error:
        raise errors.InvalidManifest(
            f"HTTP 403 (Forbidden) for {location[:200]}: the caller may not read it") from None
    if found is None or found.delete_marker:
        raise errors.InvalidManifest(f"HTTP 404 (Not Found) for {location[:200]}")
    return found


def _object_bytes(ctx: RequestContext, obj: S3Object) -> bytes:
    limit = 1024 * 1024
    if obj.size > limit:
        raise errors.InvalidManifest(f"the manifest is larger than {limit} bytes")
    if obj.sse == SSE_C:
        raise errors.InvalidManifest("the manifest is encrypted with a customer-provided key")
    if obj.inline_data is None and (obj.blob_id is None or ctx.blobs is None):
        return b""
    assert ctx.blobs is not None
    data = stored_bytes.read(ctx.blobs, ctx.keys, obj, 0, obj.size - 1)
    return data if isinstance(data, bytes) else b"".join(data)


def _check_part(session: Session, principal: Principal, bucket: Bucket, part: Part,
                source: str) -> Part:
    obj = _readable(session, principal, bucket, part.key, f"{bucket.name}/{part.key}")
    if source == "bundle":
        return Part(part.key, obj.size, part.sha256)
    if obj.size != part.size:
        raise errors.InvalidManifest(
            f"part {bucket.name}/{part.key[:200]} is {obj.size} bytes; the manifest says {part.size}")
    return part

