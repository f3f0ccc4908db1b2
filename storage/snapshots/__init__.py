"""The snapshot engine: a volume's bytes, compressed, in fixed-size parts of an object store.

Pure Python, the filesystem and ``qemu-img``: no database, no HTTP. Parts go through a
:class:`PartStore` (the controller's is a system bucket of the object store); the
:class:`Manifest` says which part holds which bytes.
"""

from storage.snapshots.engine import PartStore, Progress, SnapshotAborted, restore, take_snapshot
from storage.snapshots.manifest import BLOCK_SIZE, Manifest, ManifestError, Part
from storage.snapshots.source import SourceError, volume_size

__all__ = [
    "BLOCK_SIZE",
    "Manifest",
    "ManifestError",
    "Part",
    "PartStore",
    "Progress",
    "SnapshotAborted",
    "SourceError",
    "restore",
    "take_snapshot",
    "volume_size",
]
