"""How a volume is shown: the ``Volume``, ``VolumeAttachment`` and ``VolumeStatusItem``
shapes, and DescribeVolumes' filters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.db.models import Volume
from controller.ec2.tagging import as_tag_list


def attachment_of(volume: Volume) -> dict[str, Any] | None:
    if volume.instance_id is None or volume.attach_state is None:
        return None
    item: dict[str, Any] = {"VolumeId": volume.id, "InstanceId": volume.instance_id,
                            "Device": volume.device, "State": volume.attach_state,
                            "DeleteOnTermination": volume.delete_on_termination}
    if volume.attach_time is not None:
        item["AttachTime"] = volume.attach_time
    return item


def describe_volume(volume: Volume, tags: dict[str, str]) -> dict[str, Any]:
    attachment = attachment_of(volume)
    item: dict[str, Any] = {
        "VolumeId": volume.id,
        "Size": volume.size_gib,
        "SnapshotId": volume.snapshot_id or "",
        "AvailabilityZone": volume.availability_zone,
        "State": volume.state,
        "CreateTime": volume.created_at,
        "Attachments": [attachment] if attachment else [],
        "VolumeType": volume.volume_type,
        "Encrypted": volume.encrypted,
        "MultiAttachEnabled": False,
        "Tags": as_tag_list(tags),
    }
    if volume.iops is not None:
        item["Iops"] = volume.iops
    if volume.throughput is not None:
        item["Throughput"] = volume.throughput
    return item


def status_of(volume: Volume) -> str:
    if volume.state == "error":
        return "impaired"
    if volume.state == "creating":
        return "insufficient-data"
    return "ok"


def describe_status(volume: Volume) -> dict[str, Any]:
    status = status_of(volume)
    io = "passed" if status == "ok" else "failed" if status == "impaired" else "insufficient-data"
    item: dict[str, Any] = {
        "VolumeId": volume.id,
        "AvailabilityZone": volume.availability_zone,
        "VolumeStatus": {"Status": status, "Details": [
            {"Name": "io-enabled", "Status": io},
            {"Name": "io-performance", "Status": "not-applicable"}]},
        "Events": [],
        "Actions": [],
    }
    if volume.instance_id is not None and volume.attach_state is not None:
        item["AttachmentStatuses"] = [{"InstanceId": volume.instance_id,
                                       "IoPerformance": "not-applicable"}]
    return item


_F = Callable[[Volume], object]


def _attached(value: Callable[[Volume], object]) -> _F:
    return lambda v: value(v) if v.attach_state is not None else None


FILTERS: dict[str, _F] = {
    "volume-id": lambda v: v.id,
    "volume-type": lambda v: v.volume_type,
    "size": lambda v: v.size_gib,
    "snapshot-id": lambda v: v.snapshot_id or "",
    "status": lambda v: v.state,
    "availability-zone": lambda v: v.availability_zone,
    "create-time": lambda v: v.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    "encrypted": lambda v: v.encrypted,
    "multi-attach-enabled": lambda v: False,
    "attachment.instance-id": _attached(lambda v: v.instance_id),
    "attachment.device": _attached(lambda v: v.device),
    "attachment.status": _attached(lambda v: v.attach_state),
    "attachment.delete-on-termination": _attached(lambda v: v.delete_on_termination),
    "attachment.attach-time": _attached(
        lambda v: v.attach_time.strftime("%Y-%m-%dT%H:%M:%S.000Z") if v.attach_time else None),
}

STATUS_FILTERS: dict[str, _F] = {
    "volume-id": lambda v: v.id,
    "availability-zone": lambda v: v.availability_zone,
    "volume-status.status": status_of,
    "volume-status.details-name": lambda v: ["io-enabled", "io-performance"],
    "volume-status.details-status": lambda v: [
        "passed" if status_of(v) == "ok" else "failed" if status_of(v) == "impaired"
        else "insufficient-data", "not-applicable"],
    "event.event-type": lambda v: None,
    "action.code": lambda v: None,
}
