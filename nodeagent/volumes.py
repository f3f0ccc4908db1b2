"""Volumes attached to an instance: what the controller asked for, persisted next to the spec.

``STATE/instances/<id>/volumes.json`` lists the attachments; the designer renders each as a
virtio disk, so a stopped instance boots with its volumes and a re-adopted one keeps them. The
instance spec itself stays what ``run`` received (repeating ``run`` must not conflict with a
later attachment).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nodeagent.spec import InstancePaths, InvalidSpec

VOLUME_ID = re.compile(r"^vol-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
# EC2 device names (/dev/sdf, /dev/xvdf, /dev/vdf; "sdf" alone too). vda is the root disk.
DEVICE = re.compile(r"^(?:/dev/)?(?:sd|xvd|vd)([b-z])$")
FORMATS = ("raw", "qcow2")
# nbd://HOST:PORT/EXPORT (HOST a name, an IPv4 address or an [IPv6] one), as qemu-nbd serves it.
NBD_URI = re.compile(r"^nbd://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}/[A-Za-z0-9._-]{1,64}$")


class VolumeInUse(ValueError):
    """The device name is taken by another volume, or the volume is attached differently."""


@dataclass(frozen=True)
class NbdSource:
    host: str
    port: int
    name: str


@dataclass(frozen=True)
class VolumeAttachment:
    """One volume on one instance: either ``path``, the volume's file on this node (the
    storage host is this node), or ``nbd``, an ``nbd://host:port/export`` URI of the volume
    exported by its storage host, which QEMU opens itself (``format`` is then ``raw``)."""

    volume_id: str
    device: str
    path: str = ""
    format: str = "raw"
    nbd: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not VOLUME_ID.match(self.volume_id):
            problems.append(f"volume_id {self.volume_id!r} is not vol- and 8 or 17 hex digits")
        if not DEVICE.match(self.device):
            problems.append(f"device {self.device!r} is not /dev/sd[b-z], /dev/xvd[b-z] "
                            "or /dev/vd[b-z]")
        if bool(self.path) == bool(self.nbd):
            problems.append("give exactly one of path and nbd")
        elif self.path and not os.path.isabs(self.path):
            problems.append("path must be an absolute path")
        elif self.nbd and (not NBD_URI.match(self.nbd) or self.nbd_source.port > 65535):
            problems.append(f"nbd {self.nbd[:100]!r} is not nbd://host:port/export")
        elif self.nbd and self.format != "raw":
            problems.append("an nbd export is raw (the storage host reads its format)")
        if self.format not in FORMATS:
            problems.append("format must be raw or qcow2")
        if problems:
            raise InvalidSpec("; ".join(problems))

    @property
    def target_dev(self) -> str:
        """The virtio disk name libvirt gets (the guest kernel names disks in its own order)."""
        match = DEVICE.match(self.device)
        assert match is not None
        return "vd" + match.group(1)

    @property
    def nbd_source(self) -> NbdSource:
        parts = urlsplit(self.nbd)
        host, _, port = parts.netloc.rpartition(":")
        return NbdSource(host.strip("[]"), int(port) if port.isdigit() else 0,
                         parts.path.lstrip("/"))

    @property
    def serial(self) -> str:
        """The disk serial the guest reads from /sys/block/vdX/serial: the volume id without
        its dash, as EC2's NVMe volumes show it (virtio-blk keeps only 20 bytes, and
        ``vol-`` + 17 hex digits are 21)."""
        return self.volume_id.replace("-", "", 1)

    @classmethod
    def from_dict(cls, data: Any) -> VolumeAttachment:
        if not isinstance(data, dict):
            raise InvalidSpec("an attachment must be a JSON object")
        unknown = set(data) - {"volume_id", "device", "path", "format", "nbd"}
        if unknown:
            raise InvalidSpec(f"unknown fields: {', '.join(sorted(unknown))}")
        for name, value in data.items():
            if not isinstance(value, str):
                raise InvalidSpec(f"{name} must be a string")
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidSpec(str(exc)) from exc


class AttachmentStore:
    """``volumes.json`` per instance, written atomically (temporary file, fsync, rename)."""

    NAME = "volumes.json"

    def load(self, paths: InstancePaths) -> list[VolumeAttachment]:
        try:
            data = json.loads((paths.root / self.NAME).read_text())
        except FileNotFoundError:
            return []
        if not isinstance(data, list):
            raise InvalidSpec(f"{paths.root / self.NAME}: not a JSON list")
        return [VolumeAttachment.from_dict(item) for item in data]

    def save(self, paths: InstancePaths, attachments: list[VolumeAttachment]) -> None:
        paths.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=paths.root, prefix=".volumes-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump([asdict(a) for a in attachments], out, indent=2)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, paths.root / self.NAME)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def check_new(current: list[VolumeAttachment], wanted: VolumeAttachment) -> bool:
    """True when ``wanted`` is already recorded (a repeated attach); raises
    :class:`VolumeInUse` when it clashes with a recorded attachment."""
    for known in current:
        if known.volume_id == wanted.volume_id:
            if known != wanted:
                raise VolumeInUse(f"{wanted.volume_id} is already attached as {known.device}")
            return True
        if known.target_dev == wanted.target_dev:
            raise VolumeInUse(f"{wanted.device} is in use by {known.volume_id}")
    return False
