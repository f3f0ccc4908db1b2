"""EBS volumes of instances: the ones RunInstances makes from block device mappings (an
EBS-backed image's root volume restored from its snapshot, and extra ``Ebs`` entries), and what
the instance reconciler gives a node to boot with.

A launch volume is recorded ``creating`` and ``attaching`` to its instance; the volume
reconciler restores (or creates) its bytes and marks it ``in-use``/``attached``. The instance
stays ``pending`` until all its volumes are there; a volume that ends ``error`` fails the
launch (``terminated``, ``Server.InternalError``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import ids
from controller.config import Settings
from controller.db.models import Image, Instance, Volume
from controller.ec2 import image_checks
from controller.ec2 import volume_rules as rules
from controller.ec2.context import RequestContext
from controller.ec2.images_register import snapshot_sizer
from controller.ec2.snapshot_restore import source_snapshot


def launch_volume_mappings(ctx: RequestContext, image: Image,
                           requested: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The image's block device mappings overridden by RunInstances' (same device: the
    request's ``Ebs`` values over the image's, so ``VolumeSize`` may grow the root volume),
    checked; only the ``Ebs`` ones are returned (ephemeral disks are
    ``instance_devices.launch_mappings``' part, ``NoDevice`` entries make nothing)."""
    merged: dict[str, dict[str, Any]] = {}
    for mapping in json.loads(image.block_device_mappings or "[]"):
        merged[str(mapping["DeviceName"]).removeprefix("/dev/")] = dict(mapping)
    caller = snapshot_sizer(ctx)
    for mapping in requested or ():
        named = (mapping.get("Ebs") or {}).get("SnapshotId")
        if named:
            caller(named)  # a snapshot the request names must be the caller's to use
        device = image_checks.check_device_name(mapping.get("DeviceName"), "deviceName")
        key = device.removeprefix("/dev/")
        known = merged.get(key)
        if known is not None and "Ebs" in known and mapping.get("Ebs") is not None:
            ebs = {**known["Ebs"], **{k: v for k, v in mapping["Ebs"].items() if v is not None}}
            merged[key] = {"DeviceName": device, "Ebs": ebs}
        elif mapping.get("NoDevice") is not None:
            merged.pop(key, None)
        else:
            merged[key] = dict(mapping)
    checked = image_checks.block_device_mappings(
        [_input(m) for m in merged.values()], _sizer(ctx, image))
    return [m for m in checked if "Ebs" in m]


def _sizer(ctx: RequestContext, image: Image) -> image_checks.SnapshotSize:
    """The image's own snapshots come with it on its owner's authority (a public or shared
    EBS image launches without its snapshots being shared, as on EC2); snapshots the request
    names were checked as the caller's."""
    own = {str(m["Ebs"]["SnapshotId"]) for m in json.loads(image.block_device_mappings or "[]")
           if m.get("Ebs", {}).get("SnapshotId")}
    caller = snapshot_sizer(ctx)

    def size(snapshot_id: str) -> int:
        if snapshot_id in own:
            return source_snapshot(ctx.session, image.account_id, snapshot_id).volume_size_gib
        return caller(snapshot_id)
    return size


def _input(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A stored mapping back in request form (``Encrypted`` false is what we store)."""
    out = dict(mapping)
    if "Ebs" in out:
        out["Ebs"] = {k: v for k, v in out["Ebs"].items() if k != "Encrypted"}
    return out


def record_launch_volumes(session: Session, settings: Settings, instance: Instance,
                          mappings: Sequence[Mapping[str, Any]], now: datetime) -> list[str]:
    """Volume rows for ``instance``'s EBS mappings, ``creating`` and ``attaching``; their ids."""
    made = []
    for mapping in mappings:
        ebs = mapping["Ebs"]
        volume_type = rules.check_type(ebs.get("VolumeType"))
        perf = rules.performance(volume_type, ebs["VolumeSize"], None, None)
        volume = Volume(
            id=ids.new_resource_id("vol"), account_id=instance.account_id,
            size_gib=ebs["VolumeSize"], snapshot_id=ebs.get("SnapshotId"),
            availability_zone=instance.availability_zone, volume_type=volume_type,
            iops=perf.iops, throughput=perf.throughput, encrypted=False, auto_enable_io=False,
            state=rules.CREATING, backend="file", host=settings.storage_host,
            format=settings.volume_format, instance_id=instance.id,
            device=mapping["DeviceName"], attach_state=rules.ATTACHING, attach_time=now,
            delete_on_termination=bool(ebs.get("DeleteOnTermination", True)),
            created_at=now, state_changed_at=now)
        session.add(volume)
        made.append(volume.id)
    return made


class VolumesNotReady(Exception):
    """Some of the instance's volumes are still being made."""


class VolumesFailed(Exception):
    """A volume of the instance could not be made (its restore failed)."""


@dataclass
class BootVolumes:
    """The spec's ``root_volume`` and ``volumes`` entries, and the exports still to start
    (entries for a node on another host than the volume: filled with an ``nbd`` URI)."""

    root: dict[str, str] | None = None
    extra: list[dict[str, str]] = field(default_factory=list)
    exports: list[tuple[dict[str, str], Volume]] = field(default_factory=list)


def boot_volumes(session: Session, settings: Settings, instance: Instance,
                 node_name: str) -> BootVolumes:
    """What the node boots ``instance`` with: its attached volumes, the root one apart."""
    volumes = list(session.scalars(select(Volume).where(
        Volume.instance_id == instance.id).order_by(Volume.device)))
    failed = [v for v in volumes if v.state == rules.ERROR]
    if failed:
        raise VolumesFailed(f"volume {failed[0].id}: {failed[0].state_message or 'error'}")
    if any(v.state == rules.CREATING for v in volumes):
        raise VolumesNotReady(instance.id)
    out = BootVolumes()
    root_key = (instance.root_device_name or "").removeprefix("/dev/")
    for volume in volumes:
        if volume.attach_state not in (rules.ATTACHED, rules.ATTACHING) \
                or volume.location is None:
            continue
        entry = {"volume_id": volume.id, "format": volume.format}
        if settings.volume_attach == "auto" and volume.host == node_name:
            entry["path"] = volume.location
        elif volume.host == settings.storage_host:
            out.exports.append((entry, volume))
        else:
            raise VolumesNotReady(f"{volume.id} is on storage host {volume.host}")
        if instance.root_device_type == "ebs" and \
                (volume.device or "").removeprefix("/dev/") == root_key:
            out.root = entry
        else:
            out.extra.append({**entry, "device": volume.device or ""})
    if instance.root_device_type == "ebs" and out.root is None:
        raise VolumesFailed(f"the root volume of {instance.id} is missing")
    # the extra entries were copied: point the exports at the copies
    copies = {e["volume_id"]: e for e in out.extra}
    out.exports = [(copies.get(entry["volume_id"], entry), volume)
                   for entry, volume in out.exports]
    return out
