"""A snapshot's manifest: the volume's size and the parts that hold its non-zero blocks.

JSON, stored with the snapshot (``Snapshot.manifest``)::

    {"format": "ironbark-snapshot/1", "volume_size": 1073741824, "block_size": 4194304,
     "codec": "zstd", "parts": [{"offset": 0, "length": 4194304, "sha256": "...",
                                 "key": "snap-.../00000000", "stored": 1234}, ...]}

``sha256`` is over the uncompressed bytes, so a later snapshot can reuse a part whose bytes
did not change (incremental snapshots) and a restore verifies every block it writes. Blocks
absent from the list are zeros.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

FORMAT = "ironbark-snapshot/1"
BLOCK_SIZE = 4 << 20
CODECS = ("zstd", "zlib")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(ValueError):
    """A manifest that is not one of ours, or whose parts do not add up."""


@dataclass(frozen=True, slots=True)
class Part:
    offset: int
    length: int
    sha256: str
    key: str
    stored: int
    """Compressed size in the part store."""


@dataclass(frozen=True, slots=True)
class Manifest:
    volume_size: int
    block_size: int
    codec: str
    parts: tuple[Part, ...]

    @property
    def stored_bytes(self) -> int:
        return sum(p.stored for p in self.parts)

    @property
    def data_bytes(self) -> int:
        return sum(p.length for p in self.parts)

    def keys(self) -> set[str]:
        return {p.key for p in self.parts}

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "volume_size": self.volume_size,
                           "block_size": self.block_size, "codec": self.codec,
                           "parts": [asdict(p) for p in self.parts]}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ManifestError(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ManifestError("not an ironbark-snapshot/1 manifest")
        manifest = cls(_int(data, "volume_size"), _int(data, "block_size"),
                       str(data.get("codec")), tuple(_part(p) for p in _list(data, "parts")))
        manifest.check()
        return manifest

    def check(self) -> None:
        """Parts in order, inside the volume, not overlapping, with a known codec."""
        if self.codec not in CODECS:
            raise ManifestError(f"unknown codec {self.codec!r}")
        if self.block_size <= 0 or self.volume_size < 0:
            raise ManifestError("bad block or volume size")
        end = 0
        for part in self.parts:
            if part.offset < end or part.length <= 0 or part.length > self.block_size \
                    or part.offset + part.length > self.volume_size:
                raise ManifestError(f"part at {part.offset} is out of place")
            if not _SHA256.fullmatch(part.sha256) or not part.key or part.stored < 0:
                raise ManifestError(f"part at {part.offset} is malformed")
            end = part.offset + part.length


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ManifestError(f"{name} must be an integer")
    return value


def _list(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if not isinstance(value, list):
        raise ManifestError(f"{name} must be a list")
    return value


def _part(item: Any) -> Part:
    if not isinstance(item, dict):
        raise ManifestError("a part must be an object")
    key, sha = item.get("key"), item.get("sha256")
    if not isinstance(key, str) or not isinstance(sha, str):
        raise ManifestError("a part needs a key and a sha256")
    return Part(_int(item, "offset"), _int(item, "length"), sha, key, _int(item, "stored"))
