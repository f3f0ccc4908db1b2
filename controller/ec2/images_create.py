"""CreateImage: an EBS-backed AMI from an EBS-backed instance, running or stopped.

Each attached volume gets a pending snapshot (the snapshot job takes it: from the volume file,
or through the node's live backup while the guest runs) and the image is recorded ``pending``
with those snapshots in its block device mappings; :func:`finish_images` (called by the
instance reconciler) makes it ``available`` once they all completed, ``failed`` if one did not.

Without ``NoReboot`` a running instance is shut down first, as EC2 does, so the snapshots see
data at rest: ``Instance.image_hold`` is ``stopping`` until the node reports the guest off
(the snapshot job leaves its volumes alone meanwhile), then ``off`` while the snapshots are
taken from the files, and the instance reconciler boots the guest again once none is pending
(``booting`` until a node report shows the guest running: older reports of it powered off must
not stop the instance). The instance stays ``running`` to the API throughout.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import ids
from controller.db.models import Image, Instance, Snapshot, Volume
from controller.ec2 import errors, image_checks
from controller.ec2 import instance_states as states
from controller.ec2 import volume_rules as rules
from controller.ec2.context import RequestContext
from controller.ec2.images_register import _check_name_free, snapshot_sizer
from controller.ec2.instances import owned_instances
from controller.ec2.registry import Params, Result, action
from controller.ec2.snapshots import new_snapshot
from controller.ec2.snapshots_store import COMPLETED, ERROR, PENDING
from controller.ec2.tagging import set_tags, tags_from_specifications

STOPPING_FOR_IMAGE = "stopping"
OFF_FOR_IMAGE = "off"
BOOTING_AFTER_IMAGE = "booting"


def _tags(params: Params, kind: str) -> dict[str, str]:
    specs = params.get("TagSpecifications") or []
    for spec in specs:
        if spec.get("ResourceType") not in ("image", "snapshot"):
            raise errors.InvalidParameterValue(
                f"'{spec.get('ResourceType')}' is not a valid taggable resource type for this "
                "operation.")
    return tags_from_specifications([s for s in specs if s.get("ResourceType") == kind], kind)


def _overrides(params: Params) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for mapping in params.get("BlockDeviceMappings") or []:
        device = image_checks.check_device_name(mapping.get("DeviceName"), "deviceName")
        out[device.removeprefix("/dev/")] = dict(mapping)
    return out


@action("CreateImage")
def create_image(ctx: RequestContext, params: Params) -> Result:
    name = image_checks.check_name(params.get("Name"))
    description = image_checks.check_description(params.get("Description"))
    if not params.get("InstanceId"):
        raise errors.MissingParameter("The request must contain the parameter instanceId")
    instance = owned_instances(ctx, [params["InstanceId"]])[0]
    if instance.root_device_type != "ebs":
        raise errors.UnsupportedOperation(
            f"The instance '{instance.id}' does not have an 'ebs' root device type; "
            "instance-store images are bundled and registered with RegisterImage.")
    if instance.state not in (states.RUNNING, states.STOPPED) or \
            instance.image_hold not in (None, BOOTING_AFTER_IMAGE):
        raise errors.IncorrectInstanceState(
            f"The instance '{instance.id}' is not in a state from which an image can be made "
            "(running or stopped, and not already imaging).")
    _check_name_free(ctx.session, ctx.account_id, name)
    image_tags, snapshot_tags = _tags(params, "image"), _tags(params, "snapshot")
    overrides = _overrides(params)
    image_id = ids.new_resource_id("ami")
    volumes = list(ctx.session.scalars(select(Volume).where(
        Volume.instance_id == instance.id, Volume.attach_state == rules.ATTACHED)
        .order_by(Volume.device)))
    mappings: list[dict[str, Any]] = []
    for volume in volumes:
        key = (volume.device or "").removeprefix("/dev/")
        override = overrides.pop(key, {})
        if override.get("NoDevice") is not None:
            continue
        delete = (override.get("Ebs") or {}).get("DeleteOnTermination")
        snapshot = new_snapshot(
            ctx, volume_id=volume.id, size_gib=volume.size_gib, tags=snapshot_tags,
            description=f"Created by CreateImage({instance.id}) for {image_id} from {volume.id}")
        mappings.append({"DeviceName": volume.device, "Ebs": {
            "SnapshotId": snapshot.id, "VolumeSize": volume.size_gib,
            "VolumeType": volume.volume_type,
            "DeleteOnTermination": volume.delete_on_termination if delete is None
            else bool(delete), "Encrypted": False}})
    root_key = (instance.root_device_name or "").removeprefix("/dev/")
    if not any(m["DeviceName"].removeprefix("/dev/") == root_key for m in mappings):
        raise errors.InvalidBlockDeviceMapping(
            f"The root device {instance.root_device_name} of {instance.id} has no attached "
            "volume to image")
    mappings += image_checks.block_device_mappings(list(overrides.values()), snapshot_sizer(ctx))
    image = Image(
        id=image_id, account_id=ctx.account_id, name=name, description=description,
        image_type="machine", state="pending", architecture=instance.architecture,
        virtualization_type="paravirtual", root_device_type="ebs",
        root_device_name=instance.root_device_name, kernel_id=instance.kernel_id,
        ramdisk_id=instance.ramdisk_id, image_location=f"{ctx.account_id}/{name}",
        manifest=json.dumps({"created_from": instance.id}),
        block_device_mappings=json.dumps(mappings), is_public=False)
    ctx.session.add(image)
    if instance.state == states.RUNNING and not params.get("NoReboot"):
        instance.image_hold = STOPPING_FOR_IMAGE
    ctx.session.flush()
    if image_tags:
        set_tags(ctx.session, ctx.account_id, {image.id: "image"}, image_tags)
    return {"ImageId": image.id}


def _snapshot_ids(image: Image) -> list[str]:
    return [str(m["Ebs"]["SnapshotId"]) for m in json.loads(image.block_device_mappings)
            if m.get("Ebs", {}).get("SnapshotId")]


def finish_images(session: Session) -> None:
    """Pending EBS images whose snapshots are all done: ``available``, or ``failed``."""
    pending = list(session.scalars(select(Image).where(
        Image.state == "pending", Image.root_device_type == "ebs").with_for_update()))
    for image in pending:
        wanted = _snapshot_ids(image)
        found = {s.id: s.state for s in session.scalars(
            select(Snapshot).where(Snapshot.id.in_(wanted)))} if wanted else {}
        if any(found.get(i) in (None, ERROR) for i in wanted):
            image.state = "failed"
        elif all(found[i] == COMPLETED for i in wanted):
            image.state = "available"


def imaging_done(session: Session, instance: Instance) -> bool:
    """No snapshot of the instance's volumes is pending any more (its guest may boot)."""
    volumes = select(Volume.id).where(Volume.instance_id == instance.id)
    return session.scalar(select(Snapshot.id).where(
        Snapshot.state == PENDING, Snapshot.volume_id.in_(volumes)).limit(1)) is None
