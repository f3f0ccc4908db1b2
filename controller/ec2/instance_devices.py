"""RunInstances' BlockDeviceMappings (pure): the request's mappings over the image's, checked
as EC2 checks them, reduced to what an instance-store instance gets — its ephemeral disks.

- A request mapping replaces the image's mapping of the same device (``sdb``, ``/dev/sdb`` and
  ``xvdb`` are one device: the guest sees each as the virtio disk ``vdb``); ``NoDevice``
  suppresses it.
- ``ephemeralN`` gets the instance type's instance store: a type has one instance-store disk of
  ``disk_gib`` (the catalog's local disk), so only ``ephemeral0`` is honoured; higher indexes, and
  every ephemeral mapping of a type without local disk, are ignored, as EC2 ignores mappings
  beyond the type's instance-store volumes.
- ``Ebs`` entries are volumes: ``controller/ec2/instance_volumes.py`` makes them (the caller
  leaves them out of what it passes here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from controller.ec2 import errors
from controller.ec2.image_checks import check_device_name

_EPHEMERAL = re.compile(r"ephemeral([0-9]|1[0-9]|2[0-3])")
# Names the node can give a virtio disk of its own (vdb..vdz; vda is the root disk).
_DISK = re.compile(r"(?:/dev/)?(?:sd|xvd|vd)([b-z])")
INSTANCE_STORE_DISKS = 1


def _key(device: str) -> str:
    """One key per guest disk: the letter of a ``sd``/``xvd``/``vd`` name, else the name."""
    match = _DISK.fullmatch(device)
    return "vd" + match.group(1) if match else device.removeprefix("/dev/")


def _check_request(mappings: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for mapping in mappings:
        device = mapping.get("DeviceName")
        if not device:
            raise errors.InvalidBlockDeviceMapping("Missing device name")
        check_device_name(device, "deviceName")
        key = _key(device)
        if key in out:
            raise errors.InvalidBlockDeviceMapping(
                f"{device[:64]} is being assigned to multiple times.")
        given = [n for n in ("VirtualName", "Ebs", "NoDevice") if mapping.get(n) is not None]
        if len(given) != 1:
            raise errors.InvalidBlockDeviceMapping(
                f"The device {device[:64]} needs exactly one of VirtualName, Ebs and NoDevice")
        virtual = mapping.get("VirtualName")
        if virtual is not None and not _EPHEMERAL.fullmatch(virtual):
            raise errors.InvalidBlockDeviceMapping(f"Invalid virtual name {virtual[:64]}")
        out[key] = mapping
    return out


def launch_mappings(requested: Sequence[Mapping[str, Any]] | None,
                    image_mappings: Sequence[Mapping[str, Any]], root_device: str,
                    disk_gib: int) -> list[dict[str, Any]]:
    """The instance's ephemeral disks, ``[{"DeviceName", "VirtualName", "SizeGiB"}]`` by
    virtual name, or the EC2 error the request deserves."""
    wanted = _check_request(requested or ())
    root = _key(root_device)
    if root in wanted:
        raise errors.InvalidBlockDeviceMapping(
            f"The device {root_device[:64]} is the root device of an instance store-backed AMI "
            "and cannot be remapped")
    merged: dict[str, tuple[Mapping[str, Any], bool]] = {
        _key(m["DeviceName"]): (m, True) for m in image_mappings}
    merged.update({key: (m, False) for key, m in wanted.items()})
    out: dict[str, dict[str, Any]] = {}
    for key, (mapping, from_image) in sorted(merged.items()):
        device = mapping["DeviceName"]
        if mapping.get("NoDevice") is not None:
            continue
        if mapping.get("Ebs") is not None:
            continue  # a volume (instance_volumes)
        virtual = mapping.get("VirtualName")
        if virtual is None or key == root or not _DISK.fullmatch(device):
            if not from_image:
                raise errors.InvalidBlockDeviceMapping(f"Invalid device name {device[:64]}")
            continue  # an image's partition-style name (sda2): not a disk of its own here
        index = int(virtual.removeprefix("ephemeral"))
        if disk_gib > 0 and index < INSTANCE_STORE_DISKS and virtual not in out:
            out[virtual] = {"DeviceName": device, "VirtualName": virtual, "SizeGiB": disk_gib}
    return [out[name] for name in sorted(out)]


def node_ephemeral(mappings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The spec's ``ephemeral`` entries: virtio disk name, virtual name, size."""
    return [{"name": m["VirtualName"], "device": _key(m["DeviceName"]),
             "size_gib": int(m["SizeGiB"])} for m in mappings]
