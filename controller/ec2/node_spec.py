"""The spec a node agent runs an instance from (``nodeagent/spec.py``'s format), built from the
instance row and its images' stored manifests (see ``controller/ec2/image_urls.py``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.config import Settings
from controller.db.models import AccessKey, Image, Instance
from controller.ec2.image_urls import presign_get
from controller.ec2.instance_devices import node_ephemeral
from controller.ec2.instance_volumes import BootVolumes
from controller.identity.secretbox import SecretBox

DEFAULT_CMDLINE = "console=ttyS0 root=/dev/vda rw"


class LaunchError(Exception):
    """The instance cannot be launched (its images cannot be served to the node)."""


def tap_name(instance_id: str) -> str:
    return "ib" + instance_id.removeprefix("i-")[:13]


def hostname(address: str | None) -> str:
    return "ip-" + (address or "0.0.0.0").replace(".", "-")


def _owner_key(session: Session, box: SecretBox, account_id: str) -> tuple[str, str]:
    key = session.scalar(select(AccessKey).where(AccessKey.account_id == account_id,
                                                 AccessKey.status == "Active")
                         .order_by(AccessKey.created_at, AccessKey.id))
    if key is None:
        raise LaunchError(f"account {account_id} has no active access key to sign image URLs")
    return key.id, box.open(key.secret_encrypted)


def _source(session: Session, box: SecretBox, settings: Settings, image_id: str,
            instance: Instance) -> tuple[dict[str, Any], dict[str, Any]]:
    image = session.get(Image, image_id)
    if image is None:
        raise LaunchError(f"image {image_id} no longer exists")
    manifest: dict[str, Any] = json.loads(image.manifest)
    parts = manifest.get("parts") or []
    if len(parts) != 1 or not parts[0].get("sha256"):
        raise LaunchError(f"image {image_id}: only single-part images with a SHA-256 are launched")
    bucket = image.image_location.split("/", 1)[0]
    access, secret = _owner_key(session, box, image.account_id)
    endpoint = settings.image_url_endpoint or settings.local_endpoint
    url = presign_get(endpoint, settings.region, access, secret, bucket, parts[0]["key"],
                      instance.launch_time, settings.image_url_seconds)
    return {"url": url, "sha256": parts[0]["sha256"], "size": int(parts[0]["size"])}, manifest


def build_spec(session: Session, box: SecretBox, settings: Settings,
               instance: Instance, boot: BootVolumes | None = None) -> dict[str, Any]:
    """The run spec; ``boot``: the instance's EBS volumes (the root one for an EBS-backed
    instance, which then has no root image)."""
    images: dict[str, Any] = {}
    manifest: dict[str, Any] = {}
    if boot is None or boot.root is None:
        images["root"], manifest = _source(session, box, settings, instance.image_id, instance)
    if instance.kernel_id:
        images["kernel"] = _source(session, box, settings, instance.kernel_id, instance)[0]
    if instance.ramdisk_id:
        images["ramdisk"] = _source(session, box, settings, instance.ramdisk_id, instance)[0]
    spec: dict[str, Any] = {
        "instance_id": instance.id, "memory_mib": instance.memory_mib, "vcpus": instance.vcpus,
        "mac": instance.mac, "tap": tap_name(instance.id), "private_ip": instance.private_ip,
        "images": images, "root_image_format": manifest.get("disk_format") or "raw",
        "cmdline": manifest.get("kernel_cmdline") or DEFAULT_CMDLINE,
        "hostname": hostname(instance.private_ip),
    }
    if boot is not None and boot.root is not None:
        spec["root_volume"] = boot.root
    if boot is not None and boot.extra:
        spec["volumes"] = boot.extra
    ephemeral = node_ephemeral(json.loads(instance.block_device_mappings))
    if ephemeral:  # only then: specs of instances without any stay as they were
        spec["ephemeral"] = ephemeral
    return spec
