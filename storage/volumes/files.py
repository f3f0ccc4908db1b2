"""The ``file`` backend: each volume a sparse raw (or qcow2) file in one directory.

``<root>/<volume id>.<format>``, made under a temporary name, fsynced and renamed, so a crash
never leaves a half-made volume under its real name. Raw files are sparse (``truncate``): a
new 100 GiB volume uses no blocks until the guest writes. qcow2 files are made and grown by
``qemu-img``. Remote hosts reach a volume through :class:`~storage.volumes.nbd.NbdExports`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from storage.volumes.backend import (
    GIB,
    Format,
    NbdExport,
    Placement,
    VolumeInfo,
    VolumeMissing,
    VolumeStorageError,
)
from storage.volumes.nbd import NbdExports

QEMU_IMG_DEADLINE = 120.0


def _qemu_img(*args: str) -> None:
    try:
        subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True,
                       timeout=QEMU_IMG_DEADLINE)
    except FileNotFoundError as exc:
        raise VolumeStorageError("qemu-img is not installed") from exc
    except subprocess.CalledProcessError as exc:
        raise VolumeStorageError(f"qemu-img {args[0]} failed: {exc.stderr.strip()[:300]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise VolumeStorageError(f"qemu-img {args[0]} took over {QEMU_IMG_DEADLINE} s") from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileBackend:
    name = "file"

    def __init__(self, root: Path, host: str, *, image_format: Format = "raw",
                 exports: NbdExports | None = None) -> None:
        self.root = root
        self.host = host
        self.format: Format = image_format
        self.exports = exports or NbdExports(root / "exports", "127.0.0.1")

    def _path(self, volume_id: str, fmt: Format) -> Path:
        if "/" in volume_id or volume_id.startswith("."):
            raise VolumeStorageError(f"not a volume id: {volume_id!r}")
        return self.root / f"{volume_id}.{fmt}"

    def _mine(self, placement: Placement) -> Path:
        path = Path(placement.location)
        if placement.backend != self.name or path.parent != self.root:
            raise VolumeStorageError(f"{placement.location} is not in {self.root}")
        return path

    def create(self, volume_id: str, size_gib: int) -> Placement:
        """A zero-filled volume of ``size_gib`` GiB; an existing one of that id is kept."""
        if size_gib < 1:
            raise VolumeStorageError("a volume is at least 1 GiB")
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(volume_id, self.format)
        placement = Placement(self.name, self.host, str(path), self.format)
        if path.exists():
            return placement
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            if self.format == "raw":
                with open(tmp, "wb") as out:
                    out.truncate(size_gib * GIB)
                    os.fsync(out.fileno())
            else:
                _qemu_img("create", "-q", "-f", "qcow2", str(tmp), f"{size_gib}G")
            os.replace(tmp, path)
            _fsync_dir(self.root)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise VolumeStorageError(f"cannot create {path}: {exc.strerror}") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return placement

    def delete(self, placement: Placement) -> None:
        """Stop any export, then remove the file; a missing one is already deleted."""
        path = self._mine(placement)
        self.exports.stop(path.stem)
        path.unlink(missing_ok=True)

    def resize(self, placement: Placement, size_gib: int) -> None:
        """Grow to ``size_gib`` GiB (never shrinks: that would cut a guest's data)."""
        path = self._mine(placement)
        current = self.describe(placement).size_bytes
        wanted = size_gib * GIB
        if wanted < current:
            raise VolumeStorageError(f"{path.name} is {current // GIB} GiB; volumes only grow")
        if wanted == current:
            return
        if placement.format == "raw":
            with open(path, "r+b") as out:
                out.truncate(wanted)
                os.fsync(out.fileno())
        else:
            _qemu_img("resize", "-q", "-f", "qcow2", str(path), f"{size_gib}G")

    def describe(self, placement: Placement) -> VolumeInfo:
        path = self._mine(placement)
        try:
            stat = path.stat()
        except FileNotFoundError as exc:
            raise VolumeMissing(f"{path} does not exist") from exc
        size = stat.st_size
        if placement.format == "qcow2":
            size = _qcow2_virtual_size(path)
        return VolumeInfo(size_bytes=size, allocated_bytes=stat.st_blocks * 512)

    def export(self, placement: Placement, volume_id: str) -> NbdExport:
        """An NBD export of the volume (started once; repeated calls return the same one)."""
        path = self._mine(placement)
        if not path.exists():
            raise VolumeMissing(f"{path} does not exist")
        return self.exports.start(volume_id, path, placement.format)

    def unexport(self, placement: Placement, volume_id: str) -> None:
        self.exports.stop(volume_id)


def _qcow2_virtual_size(path: Path) -> int:
    """The virtual size from a qcow2 header (big-endian u64 at byte 24)."""
    with open(path, "rb") as f:
        header = f.read(32)
    if len(header) < 32 or header[:4] != b"QFI\xfb":
        raise VolumeStorageError(f"{path} is not a qcow2 image")
    return int.from_bytes(header[24:32], "big")
