"""Taking a snapshot of a volume file and restoring one into a new sparse file.

A snapshot reads the volume's data blocks (``BLOCK_SIZE`` each), skips all-zero ones, and
stores each other block compressed as one part under ``prefix``. With a ``base`` (the
previous snapshot of the same volume) a block whose SHA-256 the base already holds is not
stored again: the new manifest names the base's part (incremental snapshots).

Hashing, compressing and putting run on a small thread pool (all three release the GIL, and
two puts overlap their fsyncs); the calling thread reads the blocks and keeps the parts in
order. A failure, or ``progress`` raising
:class:`SnapshotAborted`, removes every part this snapshot stored before the error propagates.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from storage.snapshots import codec
from storage.snapshots.manifest import BLOCK_SIZE, Manifest, ManifestError, Part
from storage.snapshots.source import SourceError, data_blocks, qemu_img, raw_view, volume_size

Progress = Callable[[int, int], None]
"""Called with (bytes of the volume done, volume size) as the work goes."""
WORKERS = 2
IN_FLIGHT = 4


class SnapshotAborted(Exception):
    """Raised by a progress callback to stop a snapshot (its parts are removed)."""


class PartStore(Protocol):
    """Where parts live. ``put`` is durable when it returns; ``delete`` ignores missing keys."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, keys: Iterable[str]) -> None: ...


_ZEROS = bytes(BLOCK_SIZE)


def _read_block(fd: int, offset: int, length: int) -> bytes:
    chunks: list[bytes] = []
    while length > 0:
        data = os.pread(fd, length, offset)
        if not data:
            break
        chunks.append(data)
        offset, length = offset + len(data), length - len(data)
    return b"".join(chunks)


def _blocks(fd: int, size: int) -> Iterator[tuple[int, bytes]]:
    for offset in data_blocks(fd, size, BLOCK_SIZE):
        yield offset, _read_block(fd, offset, min(BLOCK_SIZE, size - offset))


class _Blocks:
    """What the worker threads do with one block: hash, reuse or compress and put."""

    def __init__(self, store: PartStore, prefix: str, base: Manifest | None) -> None:
        self.store, self.prefix = store, prefix
        self.known = {p.sha256: p for p in base.parts} if base and base.codec == codec.DEFAULT \
            else {}
        self.compress = codec.compressor(codec.DEFAULT)

    def key(self, offset: int) -> str:
        return f"{self.prefix}{offset // BLOCK_SIZE:08d}"

    def __call__(self, offset: int, data: bytes) -> Part | None:
        if data == _ZEROS[:len(data)]:
            return None
        sha = hashlib.sha256(data).hexdigest()
        reused = self.known.get(sha)
        if reused is not None and reused.length == len(data):
            return Part(offset, len(data), sha, reused.key, reused.stored)
        packed = self.compress(data)
        self.store.put(self.key(offset), packed)
        return Part(offset, len(data), sha, self.key(offset), len(packed))


def take_snapshot(source: Path, fmt: str, store: PartStore, prefix: str, *,
                  scratch: Path, base: Manifest | None = None,
                  progress: Progress | None = None) -> Manifest:
    """Snapshot the volume file ``source`` (``raw`` or ``qcow2``) into ``store``; parts are
    named ``prefix`` + the block number. ``scratch`` holds a qcow2 volume's raw conversion."""
    size = volume_size(source, fmt)
    submitted: list[str] = []
    try:
        with raw_view(source, fmt, scratch) as raw:
            parts = _store_blocks(raw, size, _Blocks(store, prefix, base), progress, submitted)
    except BaseException:
        store.delete(submitted)  # every worker has finished: nothing is put after this
        raise
    if progress is not None:
        progress(size, size)
    return Manifest(size, BLOCK_SIZE, codec.DEFAULT, tuple(parts))


def _store_blocks(raw: Path, size: int, blocks: _Blocks, progress: Progress | None,
                  submitted: list[str]) -> list[Part]:
    parts: list[Part] = []
    pending: deque[Future[Part | None]] = deque()

    def collect(future: Future[Part | None]) -> None:
        part = future.result()
        if part is not None:
            parts.append(part)

    fd = os.open(raw, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="snapshot") as pool:
            for offset, data in _blocks(fd, size):
                submitted.append(blocks.key(offset))
                pending.append(pool.submit(blocks, offset, data))
                while len(pending) > IN_FLIGHT:
                    collect(pending.popleft())
                    if progress is not None:
                        progress(offset, size)
            while pending:
                collect(pending.popleft())
    finally:
        os.close(fd)
    return parts


def restore(manifest: Manifest, store: PartStore, target: Path, *, size: int | None = None,
            fmt: str = "raw", scratch: Path | None = None,
            progress: Progress | None = None) -> None:
    """Write the snapshot into a new sparse file ``target`` of ``size`` bytes (at least the
    snapshot's), ``raw`` or ``qcow2``; every block is checked against its SHA-256. ``target``
    must not exist; on failure it is removed."""
    size = manifest.volume_size if size is None else size
    if size < manifest.volume_size:
        raise ManifestError(f"{size} bytes cannot hold a snapshot of {manifest.volume_size}")
    if fmt not in ("raw", "qcow2"):
        raise SourceError(f"unknown volume format {fmt!r}")
    raw = target if fmt == "raw" else (scratch or target.parent) / f".{target.name}.raw"
    if target.exists():
        raise FileExistsError(f"{target} exists")
    fd = os.open(raw, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            _write_raw(manifest, store, fd, size, progress)
        finally:
            os.close(fd)
        if fmt == "qcow2":
            qemu_img("convert", "-f", "raw", "-O", "qcow2", str(raw), str(target))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        if raw != target:
            raw.unlink(missing_ok=True)


def _write_raw(manifest: Manifest, store: PartStore, fd: int, size: int,
               progress: Progress | None) -> None:
    """Parts fetched, decompressed, checked and written at their offsets by the workers."""

    def write(part: Part) -> None:
        data = codec.decompress(manifest.codec, store.get(part.key), part.length)
        if len(data) != part.length or hashlib.sha256(data).hexdigest() != part.sha256:
            raise ManifestError(f"part {part.key} does not match its checksum")
        view = memoryview(data)
        offset = part.offset
        while view:
            done = os.pwrite(fd, view, offset)
            view, offset = view[done:], offset + done

    os.ftruncate(fd, size)
    pending: deque[tuple[Part, Future[None]]] = deque()
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="restore") as pool:
        for part in manifest.parts:
            pending.append((part, pool.submit(write, part)))
            while len(pending) > IN_FLIGHT:
                done_part, future = pending.popleft()
                future.result()
                if progress is not None:
                    progress(done_part.offset + done_part.length, size)
        while pending:
            pending.popleft()[1].result()
    os.fsync(fd)
