"""RegisterImage's parameter rules (pure): names, device names, block device mappings."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from controller.ec2 import errors
from controller.ec2.image_manifest import ARCHITECTURES

_NAME = re.compile(r"[A-Za-z0-9()\[\] ./\-'@_]{3,128}")
_DEVICE = re.compile(r"(/dev/)?(sd|xvd|hd|vd)[a-z]{1,2}[0-9]{0,2}")
_EPHEMERAL = re.compile(r"ephemeral([0-9]|1[0-9]|2[0-3])")
VIRTUALIZATION_TYPES = ("paravirtual", "hvm")
MAX_DESCRIPTION = 255


def check_name(name: str | None) -> str:
    if name is None or name == "":
        raise errors.MissingParameter("The request must contain the parameter name")
    if not _NAME.fullmatch(name):
        raise errors.InvalidAMINameMalformed(
            "AMI names must be between 3 and 128 characters long, and may contain letters, "
            "numbers, '(', ')', '.', '-', '/' and '_'")
    return name


def check_description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise errors.InvalidParameterValue(
            f"Value for parameter description is invalid: longer than {MAX_DESCRIPTION} characters")
    return description


def check_architecture(value: str | None) -> str | None:
    if value is not None and value not in ARCHITECTURES:
        raise errors.InvalidParameterValue(
            f"Value ({value[:64]}) for parameter architecture is invalid. "
            f"Valid values: {', '.join(ARCHITECTURES)}")
    return value


def check_virtualization_type(value: str | None) -> str:
    if value is None:
        return "paravirtual"
    if value not in VIRTUALIZATION_TYPES:
        raise errors.InvalidParameterValue(
            f"Value ({value[:64]}) for parameter virtualizationType is invalid. "
            "Valid values: paravirtual, hvm")
    return value


def check_device_name(name: str | None, parameter: str = "rootDeviceName") -> str:
    if not name:
        raise errors.MissingParameter(f"The request must contain the parameter {parameter}")
    if not _DEVICE.fullmatch(name):
        raise errors.InvalidBlockDeviceMapping(f"Invalid device name {name[:64]}")
    return name


SnapshotSize = Callable[[str], int]
"""The size in GiB of a snapshot the caller may use (raises ``InvalidSnapshot.NotFound``)."""


def block_device_mappings(mappings: Sequence[Mapping[str, Any]] | None,
                          snapshot_size: SnapshotSize | None = None) -> list[dict[str, Any]]:
    """The mappings as DescribeImages (and RunInstances) take them: ephemeral and
    ``NoDevice`` mappings, empty EBS volumes, and EBS volumes from snapshots (checked with
    ``snapshot_size``; without it a snapshot is refused)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for mapping in mappings or ():
        device = check_device_name(mapping.get("DeviceName"), "deviceName")
        short = device.removeprefix("/dev/")
        if short in seen:
            raise errors.InvalidBlockDeviceMapping(f"The device '{device}' is used more than once")
        seen.add(short)
        out.append(_mapping(device, mapping, snapshot_size))
    return out


def _mapping(device: str, mapping: Mapping[str, Any],
             snapshot_size: SnapshotSize | None) -> dict[str, Any]:
    virtual, ebs, no_device = mapping.get("VirtualName"), mapping.get("Ebs"), mapping.get("NoDevice")
    if sum(x is not None for x in (virtual, ebs, no_device)) != 1:
        raise errors.InvalidBlockDeviceMapping(
            f"The device {device} needs exactly one of VirtualName, Ebs and NoDevice")
    if no_device is not None:
        return {"DeviceName": device, "NoDevice": ""}
    if virtual is not None:
        if not _EPHEMERAL.fullmatch(virtual):
            raise errors.InvalidBlockDeviceMapping(f"Invalid virtual name {virtual[:64]}")
        return {"DeviceName": device, "VirtualName": virtual}
    assert ebs is not None
    return {"DeviceName": device, "Ebs": _ebs(device, ebs, snapshot_size)}


def _ebs(device: str, ebs: Mapping[str, Any],
         snapshot_size: SnapshotSize | None) -> dict[str, Any]:
    snapshot = ebs.get("SnapshotId")
    size = ebs.get("VolumeSize")
    if snapshot:
        if snapshot_size is None:
            raise errors.InvalidSnapshotNotFound(f"The snapshot '{snapshot[:64]}' does not exist.")
        least = snapshot_size(snapshot)
        if size is None:
            size = least
        elif size < least:
            raise errors.InvalidBlockDeviceMapping(
                f"Volume of size {size}GB is smaller than snapshot '{snapshot}', expect size "
                f">= {least}GB")
    if size is None:
        raise errors.InvalidBlockDeviceMapping(
            f"The device {device} needs a VolumeSize when it names no snapshot")
    if not 1 <= size <= 16384:
        raise errors.InvalidBlockDeviceMapping(
            f"Volume of size {size}GB is outside the range 1-16384 GB")
    volume_type = ebs.get("VolumeType") or "standard"
    if volume_type not in ("standard", "gp2", "gp3", "io1", "io2", "st1", "sc1"):
        raise errors.InvalidParameterValue(f"Value ({volume_type[:32]}) for parameter volumeType "
                                           "is invalid.")
    delete = ebs.get("DeleteOnTermination")
    out: dict[str, Any] = {"VolumeSize": size, "VolumeType": volume_type,
                           "DeleteOnTermination": True if delete is None else bool(delete),
                           "Encrypted": False}
    if snapshot:
        out = {"SnapshotId": snapshot, **out}
    return out
