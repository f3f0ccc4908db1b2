"""Block storage for EBS volumes: a backend interface and its first backend, sparse files.

Pure Python, the filesystem and ``qemu-img``/``qemu-nbd``: no database, no HTTP. The controller
records where each volume lives (``Volume.backend``, ``host``, ``location``, ``format``) and
calls a backend to create, grow, delete and export it; see ``docs/ebs.md``.
"""

from storage.volumes.backend import (
    NbdExport,
    Placement,
    VolumeBackend,
    VolumeInfo,
    VolumeMissing,
    VolumeStorageError,
)
from storage.volumes.files import FileBackend

__all__ = [
    "FileBackend",
    "NbdExport",
    "Placement",
    "VolumeBackend",
    "VolumeInfo",
    "VolumeMissing",
    "VolumeStorageError",
]
