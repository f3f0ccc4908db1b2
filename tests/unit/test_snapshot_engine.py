"""The snapshot engine on real files: round trips of random sparse volumes (raw and qcow2),
zero blocks skipped, checksums verified on restore, incremental parts, and a failure that
leaves no part behind."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from storage.snapshots import (
    BLOCK_SIZE,
    Manifest,
    ManifestError,
    SnapshotAborted,
    restore,
    take_snapshot,
)
from storage.snapshots.codec import compressor

MIB = 1 << 20


class DictStore:
    """A part store in memory that can be told to fail on the n-th put."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.parts: dict[str, bytes] = {}
        self.puts = 0
        self.fail_at = fail_at

    def put(self, key: str, data: bytes) -> None:
        self.puts += 1
        if self.fail_at is not None and self.puts >= self.fail_at:
            raise OSError("disk full")
        self.parts[key] = data

    def get(self, key: str) -> bytes:
        return self.parts[key]

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.parts.pop(key, None)


def sparse_volume(path: Path, size: int, writes: list[tuple[int, bytes]]) -> None:
    with path.open("wb") as out:
        out.truncate(size)
        for offset, data in writes:
            out.seek(offset)
            out.write(data)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def random_writes(seed: int, size: int, count: int) -> list[tuple[int, bytes]]:
    rnd = random.Random(seed)
    writes = []
    for _ in range(count):
        length = rnd.randrange(1, 3 * MIB)
        offset = rnd.randrange(0, size - length)
        writes.append((offset, rnd.randbytes(length)))
    return writes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_round_trip_of_a_random_sparse_volume(tmp_path: Path, seed: int) -> None:
    size = 64 * MIB + 12345  # not a multiple of the block size
    volume = tmp_path / "vol.raw"
    sparse_volume(volume, size, random_writes(seed, size, 6) + [(size - 10, b"tail-bytes")])
    store = DictStore()
    seen: list[tuple[int, int]] = []
    manifest = take_snapshot(volume, "raw", store, "snap-1/", scratch=tmp_path,
                             progress=lambda done, total: seen.append((done, total)))
    assert manifest.volume_size == size
    assert seen[-1] == (size, size) and all(d <= t for d, t in seen)
    assert set(store.parts) == manifest.keys()
    assert len(manifest.parts) < size // BLOCK_SIZE  # the holes were skipped
    assert Manifest.from_json(manifest.to_json()) == manifest
    target = tmp_path / "restored.raw"
    restore(manifest, store, target, size=size + BLOCK_SIZE)
    assert target.stat().st_size == size + BLOCK_SIZE
    with target.open("r+b") as f:
        f.truncate(size)
    assert digest(target) == digest(volume)
    assert os.stat(target).st_blocks * 512 < size  # the restored file is sparse


def test_zero_blocks_written_as_data_are_skipped(tmp_path: Path) -> None:
    volume = tmp_path / "vol.raw"
    volume.write_bytes(bytes(8 * MIB) + b"x" * MIB)  # fully allocated, mostly zeros
    store = DictStore()
    manifest = take_snapshot(volume, "raw", store, "s/", scratch=tmp_path)
    assert [p.offset for p in manifest.parts] == [8 * MIB]
    assert manifest.data_bytes == MIB and manifest.stored_bytes < 64 * 1024


def test_qcow2_volume_round_trip_and_qcow2_restore(tmp_path: Path) -> None:
    raw = tmp_path / "src.raw"
    size = 32 * MIB
    sparse_volume(raw, size, random_writes(7, size, 3))
    qcow = tmp_path / "vol.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow)],
                   check=True)
    store = DictStore()
    manifest = take_snapshot(qcow, "qcow2", store, "q/", scratch=tmp_path / "scratch")
    assert manifest.volume_size == size
    assert list((tmp_path / "scratch").iterdir()) == []  # the conversion is gone
    target = tmp_path / "out.qcow2"
    restore(manifest, store, target, fmt="qcow2")
    back = tmp_path / "back.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(target), str(back)], check=True)
    assert digest(back) == digest(raw)


def test_restore_refuses_a_corrupt_part_and_leaves_no_file(tmp_path: Path) -> None:
    volume = tmp_path / "vol.raw"
    sparse_volume(volume, 16 * MIB, [(5 * MIB, os.urandom(MIB))])
    store = DictStore()
    manifest = take_snapshot(volume, "raw", store, "s/", scratch=tmp_path)
    part = manifest.parts[0]
    store.parts[part.key] = compressor(manifest.codec)(os.urandom(part.length))
    with pytest.raises(ManifestError, match="checksum"):
        restore(manifest, store, tmp_path / "bad.raw")
    assert not (tmp_path / "bad.raw").exists()


def test_restore_refuses_a_smaller_target_and_an_existing_file(tmp_path: Path) -> None:
    volume = tmp_path / "vol.raw"
    sparse_volume(volume, 8 * MIB, [(0, b"abc")])
    store = DictStore()
    manifest = take_snapshot(volume, "raw", store, "s/", scratch=tmp_path)
    with pytest.raises(ManifestError):
        restore(manifest, store, tmp_path / "small.raw", size=4 * MIB)
    with pytest.raises(FileExistsError):
        restore(manifest, store, volume)
    assert volume.stat().st_size == 8 * MIB  # not touched


@pytest.mark.parametrize("fail_at", [1, 3])
def test_a_failed_snapshot_removes_its_parts(tmp_path: Path, fail_at: int) -> None:
    volume = tmp_path / "vol.raw"
    sparse_volume(volume, 32 * MIB, [(i * 4 * MIB, os.urandom(1000)) for i in range(8)])
    store = DictStore(fail_at=fail_at)
    with pytest.raises(OSError, match="disk full"):
        take_snapshot(volume, "raw", store, "s/", scratch=tmp_path)
    assert store.parts == {}


def test_an_aborted_snapshot_removes_its_parts(tmp_path: Path) -> None:
    volume = tmp_path / "vol.raw"
    sparse_volume(volume, 64 * MIB, [(i * 4 * MIB, os.urandom(1000)) for i in range(16)])
    store = DictStore()

    def abort(done: int, total: int) -> None:
        if done > 16 * MIB:
            raise SnapshotAborted

    with pytest.raises(SnapshotAborted):
        take_snapshot(volume, "raw", store, "s/", scratch=tmp_path, progress=abort)
    assert store.puts > 0 and store.parts == {}


def test_incremental_snapshot_reuses_unchanged_parts(tmp_path: Path) -> None:
    volume = tmp_path / "vol.raw"
    size = 40 * MIB
    sparse_volume(volume, size, [(i * 4 * MIB, os.urandom(4 * MIB)) for i in range(10)])
    store = DictStore()
    first = take_snapshot(volume, "raw", store, "a/", scratch=tmp_path)
    with volume.open("r+b") as f:
        f.seek(9 * MIB)
        f.write(b"changed")
    second = take_snapshot(volume, "raw", store, "b/", scratch=tmp_path, base=first)
    new_keys = [p.key for p in second.parts if p.key.startswith("b/")]
    assert new_keys == ["b/00000002"]
    assert len(second.parts) == 10
    target = tmp_path / "r.raw"
    restore(second, store, target)
    assert digest(target) == digest(volume)


def test_manifest_json_is_checked() -> None:
    for text in ("nope", "{}", '{"format": "ironbark-snapshot/1", "volume_size": 1}',
                 '{"format": "ironbark-snapshot/1", "volume_size": 10, "block_size": 4,'
                 ' "codec": "zstd", "parts": [{"offset": 8, "length": 4, "sha256": "' + "a" * 64
                 + '", "key": "k", "stored": 1}]}'):
        with pytest.raises(ManifestError):
            Manifest.from_json(text)

