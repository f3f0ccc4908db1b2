"""The ``file`` volume backend on a temporary directory, and its qemu-nbd exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from storage.volumes import FileBackend, Placement, VolumeMissing, VolumeStorageError
from storage.volumes.backend import GIB
from storage.volumes.nbd import NbdExports

VOL = "vol-0123456789abcdef0"


def backend(root: Path, fmt: str = "raw") -> FileBackend:
    return FileBackend(root / "volumes", "storage-1", image_format=fmt,  # type: ignore[arg-type]
                       exports=NbdExports(root / "exports", "127.0.0.1", ports=(10850, 10899)))


def test_raw_volumes_are_sparse_grow_and_go(tmp_path: Path) -> None:
    files = backend(tmp_path)
    placement = files.create(VOL, 4)
    assert placement == Placement("file", "storage-1", str(tmp_path / "volumes" / f"{VOL}.raw"),
                                  "raw")
    info = files.describe(placement)
    assert info.size_bytes == 4 * GIB and info.allocated_bytes < 1024 * 1024
    assert files.create(VOL, 4) == placement  # repeated: the same volume, kept
    files.resize(placement, 6)
    assert files.describe(placement).size_bytes == 6 * GIB
    with pytest.raises(VolumeStorageError, match="only grow"):
        files.resize(placement, 5)
    assert [p.name for p in (tmp_path / "volumes").iterdir()] == [f"{VOL}.raw"]  # no temp files
    files.delete(placement)
    files.delete(placement)  # already gone: fine
    with pytest.raises(VolumeMissing):
        files.describe(placement)


def test_qcow2_volumes(tmp_path: Path) -> None:
    if shutil.which("qemu-img") is None:
        pytest.skip("qemu-img is not installed")
    files = backend(tmp_path, "qcow2")
    placement = files.create(VOL, 2)
    assert placement.format == "qcow2" and placement.location.endswith(".qcow2")
    files.resize(placement, 3)
    assert files.describe(placement).size_bytes == 3 * GIB


def test_placements_outside_the_backend_are_refused(tmp_path: Path) -> None:
    files = backend(tmp_path)
    with pytest.raises(VolumeStorageError):
        files.delete(Placement("file", "storage-1", "/etc/passwd", "raw"))
    with pytest.raises(VolumeStorageError):
        files.create("../escape", 1)
    with pytest.raises(VolumeStorageError):
        files.create(VOL, 0)


def test_nbd_export_serves_the_volume_once(tmp_path: Path) -> None:
    if shutil.which("qemu-nbd") is None or shutil.which("qemu-img") is None:
        pytest.skip("qemu-nbd is not installed")
    files = backend(tmp_path)
    placement = files.create(VOL, 1)
    export = files.export(placement, VOL)
    try:
        assert export.name == VOL and 10850 <= export.port <= 10899
        assert files.export(placement, VOL) == export  # one server per volume
        info = subprocess.run(["qemu-img", "info", "--output=json", export.uri],
                              capture_output=True, text=True, check=True, timeout=30).stdout
        assert '"virtual-size": 1073741824' in info
    finally:
        files.unexport(placement, VOL)
    assert files.exports.running(VOL) is None
    gone = subprocess.run(["qemu-img", "info", export.uri], capture_output=True, timeout=30,
                          check=False)
    assert gone.returncode != 0
