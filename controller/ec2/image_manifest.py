"""The image manifests RegisterImage reads (pure: bytes in, a :class:`Manifest` out).

Two formats are recognised by their first byte:

* Ironbark's JSON manifest (``{"manifest_version": "ironbark-image/1", ...}``, see
  ``docs/ec2-images.md``): one image (kernel, ramdisk or machine) made of one or more parts,
  objects next to the manifest in the same bucket, each with its size and SHA-256.
* The classic EC2 / euca2ools bundle manifest (XML, ``<manifest><version>2007-10-10</version>``):
  read for its image type, architecture, kernel and ramdisk ids and parts; its parts are a tar +
  gzip stream encrypted for Amazon's (or Eucalyptus's) cloud certificate, which Ironbark does not
  hold, so RegisterImage refuses it with a message that says what it found and what to do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_xml import parse_xml

MAX_MANIFEST_BYTES = 1024 * 1024
MAX_PARTS = 10_000
JSON_VERSION = "ironbark-image/1"
IMAGE_TYPES = ("machine", "kernel", "ramdisk")
ARCHITECTURES = ("i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac")
DISK_FORMATS = ("raw", "qcow2")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(Exception):
    """The manifest cannot be used; the message says why (it becomes ``InvalidManifest``)."""


@dataclass(frozen=True)
class Part:
    key: str
    """The object's key in the manifest's bucket."""
    size: int
    sha256: str | None = None


@dataclass(frozen=True)
class Manifest:
    image_type: str
    architecture: str | None
    parts: tuple[Part, ...]
    disk_format: str = "raw"
    kernel_id: str | None = None
    ramdisk_id: str | None = None
    kernel_cmdline: str | None = None
    source: str = "json"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    def to_json(self) -> str:
        """The normalised form stored with the image (what a node agent will fetch)."""
        return json.dumps({
            "manifest_version": JSON_VERSION, "image_type": self.image_type,
            "architecture": self.architecture, "disk_format": self.disk_format,
            "kernel_cmdline": self.kernel_cmdline, "source": self.source,
            "parts": [{"key": p.key, "size": p.size, "sha256": p.sha256} for p in self.parts],
        }, separators=(",", ":"), sort_keys=True)


def parse_manifest(body: bytes, prefix: str) -> Manifest:
    """Read a manifest; ``prefix`` (the manifest key's "directory", with its slash) is put in
    front of the part names it lists."""
    if len(body) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"the manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    head = body.lstrip()[:1]
    if head in (b"{", b"["):
        return parse_json_manifest(body, prefix)
    if head == b"<":
        raise refuse_bundle(parse_bundle_manifest(body, prefix))
    raise ManifestError("the manifest is neither an Ironbark JSON manifest nor a bundle manifest")


# --- JSON ----------------------------------------------------------------------------------------


def _field(data: dict[str, Any], name: str, kind: type, required: bool = False) -> Any:
    value = data.get(name)
    if value is None:
        if required:
            raise ManifestError(f"the manifest has no '{name}'")
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"'{name}' in the manifest must be a {kind.__name__}")
    return value


def parse_json_manifest(body: bytes, prefix: str) -> Manifest:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ManifestError("the manifest is not valid JSON") from None
    if not isinstance(data, dict):
        raise ManifestError("the manifest must be a JSON object")
    version = _field(data, "manifest_version", str, required=True)
    if version != JSON_VERSION:
        raise ManifestError(f"unsupported manifest_version {version[:40]!r} (want {JSON_VERSION!r})")
    image_type = _field(data, "image_type", str, required=True)
    if image_type not in IMAGE_TYPES:
        raise ManifestError(f"image_type must be one of {', '.join(IMAGE_TYPES)}")
    architecture = _field(data, "architecture", str)
    if architecture is not None and architecture not in ARCHITECTURES:
        raise ManifestError(f"unknown architecture {architecture[:40]!r}")
    disk_format = _field(data, "disk_format", str) or "raw"
    if disk_format not in DISK_FORMATS:
        raise ManifestError(f"disk_format must be one of {', '.join(DISK_FORMATS)}")
    raw_parts = _field(data, "parts", list, required=True)
    parts = tuple(_json_part(item, prefix) for item in raw_parts)
    _check_parts(parts)
    cmdline = _field(data, "kernel_cmdline", str)
    if cmdline is not None and (len(cmdline) > 1024 or not cmdline.isprintable()):
        raise ManifestError("kernel_cmdline must be printable and at most 1024 characters")
    return Manifest(image_type=image_type, architecture=architecture, parts=parts,
                    disk_format=disk_format, kernel_cmdline=cmdline)


def _json_part(item: Any, prefix: str) -> Part:
    if not isinstance(item, dict):
        raise ManifestError("each part must be an object with 'key', 'size' and 'sha256'")
    name = _field(item, "key", str, required=True)
    size = _field(item, "size", int, required=True)
    sha256 = _field(item, "sha256", str, required=True).lower()
    if not _SHA256.fullmatch(sha256):
        raise ManifestError(f"the sha256 of part {name[:100]!r} is not 64 hex digits")
    return Part(key=_part_key(prefix, name), size=size, sha256=sha256)


def _part_key(prefix: str, name: str) -> str:
    if not name or len(name) > 1024 or name.startswith("/"):
        raise ManifestError(f"part name {name[:100]!r} is not a relative object key")
    key = prefix + name
    if len(key.encode()) > 1024:
        raise ManifestError("a part's object key is longer than 1024 bytes")
    return key


def _check_parts(parts: tuple[Part, ...]) -> None:
    if not parts:
        raise ManifestError("the manifest lists no parts")
    if len(parts) > MAX_PARTS:
        raise ManifestError(f"the manifest lists more than {MAX_PARTS} parts")
    for part in parts:
        if part.size < 0:
            raise ManifestError(f"part {part.key[:100]!r} has a negative size")


# --- bundle XML ------------------------------------------------------------------------------------


def _text(element: etree._Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def parse_bundle_manifest(body: bytes, prefix: str) -> Manifest:
    try:
        root = parse_xml(body, MAX_MANIFEST_BYTES)
    except MalformedXML as exc:
        raise ManifestError(f"the bundle manifest is not well-formed XML: {exc}") from None
    if root.tag != "manifest":
        raise ManifestError("the XML manifest's root element is not <manifest>")
    image = root.find("image")
    if image is None:
        raise ManifestError("the bundle manifest has no <image> element")
    image_type = _text(image, "type") or "machine"
    if image_type not in IMAGE_TYPES:
        raise ManifestError(f"unknown bundle image type {image_type[:40]!r}")
    config = root.find("machine_configuration")
    architecture = _text(config, "architecture")
    if architecture is not None and architecture not in ARCHITECTURES:
        raise ManifestError(f"unknown architecture {architecture[:40]!r}")
    parts = tuple(_bundle_part(p, prefix) for p in image.iterfind("parts/part"))
    _check_parts(parts)
    return Manifest(image_type=image_type, architecture=architecture, parts=parts,
                    kernel_id=_text(config, "kernel_id"), ramdisk_id=_text(config, "ramdisk_id"),
                    source="bundle")


def refuse_bundle(manifest: Manifest) -> ManifestError:
    """Bundle parts are a tar + gzip stream encrypted for the cloud's certificate, which
    Ironbark does not hold: say what the bundle is and what to do instead."""
    return ManifestError(
        f"this is an encrypted EC2 bundle ({manifest.image_type} image, "
        f"{len(manifest.parts)} parts) and Ironbark holds no cloud certificate to decrypt it; "
        "upload the image unbundled with 'ironbark admin image import' or an Ironbark JSON "
        "manifest (see docs/ec2-images.md)")


def _bundle_part(element: etree._Element, prefix: str) -> Part:
    name = _text(element, "filename")
    if name is None:
        raise ManifestError("a bundle part has no <filename>")
    # Bundle manifests give no per-part size; the object's own size is taken at registration.
    return Part(key=_part_key(prefix, name), size=0, sha256=None)
