"""AttachVolume and DetachVolume: check, then record ``attaching``/``detaching``.

The volume reconciler sends the commands to the instance's node and moves the attachment on
(``attached``, or ``available`` once the node confirms the guest released the disk).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from controller.db.models import Instance, Node, Volume
from controller.ec2 import errors
from controller.ec2 import instance_states as istates
from controller.ec2 import volume_rules as rules
from controller.ec2.context import RequestContext
from controller.ec2.instances import owned_instances
from controller.ec2.registry import Params, Result, action
from controller.ec2.volumes import owned_volume
from controller.ec2.volumes_view import attachment_of
from controller.nodes.registry import HEALTHY

MAX_ATTACHED = 24  # /dev/sd[b-z] less the root disk's letter


def _check_device(session_volumes: list[Volume], instance: Instance, device: str) -> None:
    letter = rules.device_letter(device)
    taken = {rules.device_letter(v.device) for v in session_volumes if v.device}
    if letter in taken or letter == rules.root_letter(instance.root_device_name):
        raise errors.InvalidParameterValue(
            f"Invalid value '{device}' for unixDevice. Attachment point {device} is already "
            "in use")
    if len(taken) >= MAX_ATTACHED:
        raise errors.AttachmentLimitExceeded(
            f"The instance '{instance.id}' has reached its volume attachment limit.")


def _attached_to(ctx: RequestContext, instance_id: str) -> list[Volume]:
    return list(ctx.session.scalars(select(Volume).where(
        Volume.instance_id == instance_id, Volume.attach_state.is_not(None)).with_for_update()))


@action("AttachVolume")
def attach_volume(ctx: RequestContext, params: Params) -> Result:
    device = params.get("Device")
    if not device:
        raise errors.MissingParameter("The request must contain the parameter device")
    volume = owned_volume(ctx, params.get("VolumeId"))
    instance = owned_instances(ctx, [params.get("InstanceId") or ""])[0] \
        if params.get("InstanceId") else None
    if instance is None:
        raise errors.MissingParameter("The request must contain the parameter instanceId")
    if volume.attach_state is not None:
        raise errors.VolumeInUse(f"{volume.id} is already attached to an instance")
    if volume.state != rules.AVAILABLE:
        raise errors.IncorrectState(f"The volume '{volume.id}' is not 'available'.")
    if instance.state not in (istates.RUNNING, istates.STOPPED):
        raise errors.IncorrectState(
            f"Instance '{instance.id}' is not 'running' or 'stopped'.")
    if volume.availability_zone != instance.availability_zone:
        raise errors.InvalidVolumeZoneMismatch(
            f"The volume '{volume.id}' is not in the same availability zone as instance "
            f"'{instance.id}'")
    _check_device(_attached_to(ctx, instance.id), instance, device)
    now = datetime.now(UTC)
    volume.instance_id, volume.device = instance.id, device
    volume.attach_state, volume.attach_time = rules.ATTACHING, now
    volume.delete_on_termination = False
    volume.state, volume.state_changed_at, volume.state_message = rules.IN_USE, now, None
    ctx.session.flush()
    shown = attachment_of(volume)
    assert shown is not None
    return shown


def _node_gone(ctx: RequestContext, instance: Instance | None) -> bool:
    """Nothing on a node holds the disk any more: the instance is terminated, unplaced, or
    its node is not healthy (what a forced detach may skip)."""
    if instance is None or instance.state == istates.TERMINATED or instance.node_id is None:
        return True
    node = ctx.session.get(Node, instance.node_id)
    return node is None or node.state != HEALTHY


@action("DetachVolume")
def detach_volume(ctx: RequestContext, params: Params) -> Result:
    volume = owned_volume(ctx, params.get("VolumeId"))
    if volume.attach_state is None:
        raise errors.IncorrectState(f"Volume '{volume.id}' is in the '{volume.state}' state.")
    wanted_instance, wanted_device = params.get("InstanceId"), params.get("Device")
    if (wanted_instance and wanted_instance != volume.instance_id) or \
            (wanted_device and wanted_device != volume.device):
        raise errors.InvalidAttachmentNotFound(
            f"Volume '{volume.id}' can not be detached from instance "
            f"'{wanted_instance or volume.instance_id}' as device '{wanted_device or volume.device}'"
            " because it is not attached there")
    shown = attachment_of(volume)
    assert shown is not None
    now = datetime.now(UTC)
    instance = ctx.session.get(Instance, volume.instance_id)
    if params.get("Force") and _node_gone(ctx, instance):
        shown["State"] = rules.DETACHING
        clear_attachment(volume, now)
        return shown
    if volume.attach_state != rules.DETACHING:
        volume.attach_state = rules.DETACHING
        volume.state_changed_at = now
    shown["State"] = rules.DETACHING
    return shown


def clear_attachment(volume: Volume, now: datetime) -> None:
    """The volume is on no instance any more: ``available`` again."""
    volume.instance_id = volume.device = volume.attach_state = None
    volume.attach_time = None
    volume.delete_on_termination = False
    volume.state, volume.state_changed_at = rules.AVAILABLE, now


def set_delete_on_termination(ctx: RequestContext, instance: Instance, mappings: Any) -> None:
    """ModifyInstanceAttribute ``BlockDeviceMappings``: DeleteOnTermination of attached volumes,
    named by device."""
    attached = {v.device: v for v in _attached_to(ctx, instance.id)}
    for mapping in mappings or []:
        device = mapping.get("DeviceName")
        ebs = mapping.get("Ebs") or {}
        volume = attached.get(device)
        if volume is None:
            raise errors.InvalidInstanceAttributeValue(
                f"No device is currently mapped at {str(device)[:64]}")
        if ebs.get("VolumeId") and ebs["VolumeId"] != volume.id:
            raise errors.InvalidParameterValue(
                f"Volume {str(ebs['VolumeId'])[:64]} is not attached at {device}")
        if ebs.get("DeleteOnTermination") is not None:
            volume.delete_on_termination = bool(ebs["DeleteOnTermination"])
