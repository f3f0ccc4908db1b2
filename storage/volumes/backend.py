"""What every volume backend offers, and the values it deals in.

A backend owns the bytes of volumes on one kind of storage. Its methods are blocking (callers
run them in a worker thread), idempotent (repeating one after a crash finishes the job) and
never touch the database: the controller persists the :class:`Placement` a backend returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Format = Literal["raw", "qcow2"]
GIB = 1024**3


class VolumeStorageError(Exception):
    """The backend could not do what was asked (disk full, a tool failed, ...)."""


class VolumeMissing(VolumeStorageError):
    """The volume's bytes are not where its placement says."""


@dataclass(frozen=True)
class Placement:
    """Where a volume's bytes live: ``backend`` (``file``), the storage ``host`` that holds
    them, the backend's ``location`` there (a file path) and the image ``format``."""

    backend: str
    host: str
    location: str
    format: Format


@dataclass(frozen=True)
class VolumeInfo:
    size_bytes: int
    """The size the guest sees."""
    allocated_bytes: int
    """What the volume really uses on the storage host (sparse files: far less)."""


@dataclass(frozen=True)
class NbdExport:
    """An NBD export of a volume that QEMU on another host opens natively
    (libvirt ``<disk type='network'><source protocol='nbd' name=...><host .../>``)."""

    host: str
    port: int
    name: str

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"nbd://{host}:{self.port}/{self.name}"


class VolumeBackend(Protocol):
    """A volume store. ``create`` makes a zero-filled volume, ``resize`` only grows."""

    name: str
    host: str
    """The storage host this backend instance serves (``Volume.host``)."""

    def create(self, volume_id: str, size_gib: int) -> Placement: ...

    def delete(self, placement: Placement) -> None: ...

    def resize(self, placement: Placement, size_gib: int) -> None: ...

    def describe(self, placement: Placement) -> VolumeInfo: ...

    def export(self, placement: Placement, volume_id: str) -> NbdExport: ...

    def unexport(self, placement: Placement, volume_id: str) -> None: ...
