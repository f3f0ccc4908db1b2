"""An instance as the node agent knows it: the spec the controller sent, persisted on disk.

The agent renders libvirt XML from the spec (never the other way round), so after a restart
it can re-adopt a running domain from ``STATE/instances/<id>/spec.json`` alone.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from nodeagent.images.source import ImageSource

INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
TAP = re.compile(r"^[A-Za-z0-9_-]{1,15}$")
IPV4 = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$")
RESERVED_TAP_PREFIXES = ("vnet", "vif", "macvtap", "macvlan")
DEFAULT_CMDLINE = "console=ttyS0 root=/dev/vda rw quiet"
IMAGE_ROLES = {"kernel": "kernel", "ramdisk": "ramdisk", "root": "root_image"}


class InvalidSpec(ValueError):
    """The spec cannot describe a guest (bad id, MAC, tap name, sizes, paths)."""


EPHEMERAL_NAME = re.compile(r"^ephemeral(?:[0-9]|1[0-9]|2[0-3])$")
EPHEMERAL_DEVICE = re.compile(r"^vd[b-z]$")


@dataclass(frozen=True)
class EphemeralDisk:
    """An instance-store disk: a blank qcow2 file of ``size_gib`` made for the instance,
    the guest's virtio disk ``device`` (``vdb``..``vdz``), gone with the instance."""

    name: str
    device: str
    size_gib: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not EPHEMERAL_NAME.match(self.name):
            raise InvalidSpec(f"ephemeral name {self.name!r} is not ephemeral0..ephemeral23")
        if not isinstance(self.device, str) or not EPHEMERAL_DEVICE.match(self.device):
            raise InvalidSpec(f"ephemeral device {self.device!r} is not vdb..vdz")
        if (not isinstance(self.size_gib, int) or isinstance(self.size_gib, bool)
                or not 1 <= self.size_gib <= 65536):
            raise InvalidSpec("ephemeral size_gib must be 1 to 65536")

    @classmethod
    def from_dict(cls, data: Any) -> EphemeralDisk:
        if not isinstance(data, dict) or set(data) != {"name", "device", "size_gib"}:
            raise InvalidSpec("an ephemeral disk is {name, device, size_gib}")
        return cls(**data)


@dataclass(frozen=True)
class InstanceSpec:
    """What the controller decided about one instance; everything the designer needs.

    Kernel, ramdisk and root disk are each either a local absolute path (``kernel``,
    ``ramdisk``, ``root_image``) or an entry of ``images`` (``kernel``/``ramdisk``/``root``:
    URL, SHA-256, size) that the node fetches into its image cache."""

    instance_id: str
    memory_mib: int
    vcpus: int
    mac: str
    tap: str
    private_ip: str
    kernel: str | None = None
    root_image: str | None = None
    ramdisk: str | None = None
    images: dict[str, ImageSource] = field(default_factory=dict)
    root_image_format: str = "raw"
    cmdline: str = DEFAULT_CMDLINE
    hostname: str | None = None
    root_volume: dict[str, str] | None = None
    """An EBS root: the volume (``volume_id`` and ``path`` or ``nbd``, ``format``) booted as
    ``vda`` instead of an overlay on a root image (see ``nodeagent/volumes.py``)."""
    volumes: list[dict[str, str]] = field(default_factory=list)
    """EBS volumes attached at launch (or before a start), recorded as attachments on run."""
    ephemeral: tuple[EphemeralDisk, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if not INSTANCE_ID.match(self.instance_id):
            problems.append(f"instance_id {self.instance_id!r} is not i- and 8 or 17 hex digits")
        if not MAC.match(self.mac):
            problems.append(f"mac {self.mac!r} is not six lower-case hex pairs")
        if not TAP.match(self.tap) or self.tap.startswith(RESERVED_TAP_PREFIXES):
            problems.append(f"tap {self.tap!r}: 1-15 of [A-Za-z0-9_-], not vnet*/vif*/macv*")
        if not IPV4.match(self.private_ip):
            problems.append(f"private_ip {self.private_ip!r} is not an IPv4 address")
        if not 96 <= self.memory_mib <= 1024 * 1024:
            problems.append("memory_mib must be at least 96 (the Debian kernel needs it)")
        if not 1 <= self.vcpus <= 256:
            problems.append("vcpus must be between 1 and 256")
        if self.root_image_format not in ("raw", "qcow2"):
            problems.append("root_image_format must be raw or qcow2")
        for name in ("kernel", "root_image", "ramdisk"):
            value = getattr(self, name)
            if value is not None and not os.path.isabs(value):
                problems.append(f"{name} must be an absolute path")
        problems.extend(self._image_problems())
        for attr in ("name", "device"):
            values = [getattr(disk, attr) for disk in self.ephemeral]
            if len(set(values)) != len(values):
                problems.append(f"ephemeral disks: a {attr} is used twice")
        if problems:
            raise InvalidSpec("; ".join(problems))

    def _image_problems(self) -> list[str]:
        problems = [f"images: unknown role {role!r}" for role in self.images
                    if role not in IMAGE_ROLES]
        for role, name in IMAGE_ROLES.items():
            if role in self.images and getattr(self, name) is not None:
                problems.append(f"{name} is given both as a path and in images")
        for role, name in (("kernel", "kernel"), ("root", "root_image")):
            if role == "root" and self.root_volume is not None:
                if "root" in self.images or self.root_image is not None:
                    problems.append("root_volume excludes root_image and images.root")
                continue
            if role not in self.images and getattr(self, name) is None:
                problems.append(f"{name} (a path) or images.{role} is required")
        return problems

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InvalidSpec(f"unknown fields: {', '.join(sorted(unknown))}")
        for name, value in data.items():
            wanted = _FIELD_TYPES[name]
            if value is None and name in _OPTIONAL:
                continue
            if not isinstance(value, wanted) or isinstance(value, bool):
                raise InvalidSpec(f"{name} must be of type {wanted.__name__}")
        try:
            images = {str(role): ImageSource.from_dict(source)
                      for role, source in data.get("images", {}).items()}
            ephemeral = tuple(EphemeralDisk.from_dict(d) for d in data.get("ephemeral", []))
            return cls(**{**data, "images": images, "ephemeral": ephemeral,
                          "volumes": [dict(v) for v in data.get("volumes", [])]})
        except (TypeError, ValueError) as exc:
            raise InvalidSpec(str(exc)) from exc


_FIELD_TYPES: dict[str, type] = {
    "instance_id": str,
    "memory_mib": int,
    "vcpus": int,
    "kernel": str,
    "root_image": str,
    "mac": str,
    "tap": str,
    "private_ip": str,
    "ramdisk": str,
    "root_image_format": str,
    "cmdline": str,
    "hostname": str,
    "images": dict,
    "root_volume": dict,
    "volumes": list,
    "ephemeral": list,
}
_OPTIONAL = {"ramdisk", "hostname", "kernel", "root_image", "root_volume"}


@dataclass(frozen=True)
class InstancePaths:
    """Where one instance's files live under the node's state directory."""

    root: Path

    @classmethod
    def of(cls, state_dir: Path, instance_id: str) -> InstancePaths:
        if not INSTANCE_ID.match(instance_id):
            raise InvalidSpec(f"instance_id {instance_id!r} is not an instance id")
        return cls(state_dir / "instances" / instance_id)

    @property
    def spec(self) -> Path:
        return self.root / "spec.json"

    @property
    def overlay(self) -> Path:
        return self.root / "root.qcow2"

    def ephemeral(self, name: str) -> Path:
        """An instance-store disk's file (``ephemeral0.qcow2``)."""
        return self.root / f"{name}.qcow2"

    @property
    def console_log(self) -> Path:
        return self.root / "console.log"


class SpecStore:
    """Instance specs as JSON files, written atomically (temporary file, fsync, rename)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def paths(self, instance_id: str) -> InstancePaths:
        return InstancePaths.of(self.state_dir, instance_id)

    def save(self, spec: InstanceSpec) -> InstancePaths:
        paths = self.paths(spec.instance_id)
        paths.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=paths.root, prefix=".spec-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(spec.to_json())
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, paths.spec)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return paths

    def load(self, instance_id: str) -> InstanceSpec | None:
        path = self.paths(instance_id).spec
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        if not isinstance(data, dict):
            raise InvalidSpec(f"{path}: not a JSON object")
        return InstanceSpec.from_dict(data)

    def all(self) -> list[InstanceSpec]:
        base = self.state_dir / "instances"
        if not base.is_dir():
            return []
        specs = (self.load(p.name) for p in sorted(base.iterdir()) if INSTANCE_ID.match(p.name))
        return [spec for spec in specs if spec is not None]

    def delete(self, instance_id: str) -> None:
        """Remove the instance's directory (spec, overlay, console log)."""
        paths = self.paths(instance_id)
        if not paths.root.exists():
            return
        for child in paths.root.iterdir():
            child.unlink()
        paths.root.rmdir()
