"""Writing one blob: temp file, digests in the same pass, fsync, atomic rename.

Nothing a reader can see exists until :meth:`BlobWriter.commit` returns; a crash leaves at
most a temp file in ``tmp/``, which the reaper removes. A writer holds an exclusive ``flock``
on its temp file while it lives, so the reaper never removes the temp file of a live writer,
however slow; the kernel drops the lock when the writing process dies.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from storage.objects._fs import ensure_dir, fsync_dir, pwrite_all
from storage.objects.checksums import CHECKSUM_ALGORITHMS, Hasher, new_hasher
from storage.objects.errors import BlobStoreError, BlobTooLarge
from storage.objects.layout import blob_path, new_blob_id

_WRITEBACK_EVERY = 8 << 20  # start writeback of dirty pages this often, so commit's fsync is short
_BATCH = 1 << 20  # small chunks are gathered into batches this big before hashing and writing
_IN_FLIGHT = 4  # batches queued to a writer's own thread at most: memory stays flat
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC

Transform = Callable[[bytes], bytes]
"""What a writer does to the bytes after digesting them and before keeping them (encryption:
digests are of what the client sent); it keeps their length, and sees them in order."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    blob_id: str
    """Empty for bytes kept inline (:class:`InlineWriter`): there is no blob file."""
    size: int
    md5_hex: str
    sha256_hex: str | None
    checksum_b64: str | None
    data: bytes | None = None
    """The bytes themselves (as kept: after the writer's transform), for an inline write only."""


class Digests:
    """MD5 always, SHA-256 when asked (or as the checksum), and one ``x-amz-checksum-*``
    algorithm, in a single pass over the bytes."""

    def __init__(self, want_sha256: bool, checksum: str | None) -> None:
        if checksum is not None and checksum not in CHECKSUM_ALGORITHMS:
            raise ValueError(f"unsupported checksum algorithm: {checksum!r}")
        self._md5 = new_hasher("MD5")
        self._sha256 = new_hasher("SHA256") if want_sha256 or checksum == "SHA256" else None
        self._checksum: Hasher | None = (
            self._sha256 if checksum == "SHA256"  # one SHA-256 pass serves both
            else None if checksum is None else new_hasher(checksum))
        self._hashers = [self._md5]
        if self._sha256 is not None:
            self._hashers.append(self._sha256)
        if self._checksum is not None and self._checksum is not self._sha256:
            self._hashers.append(self._checksum)

    def update(self, data: bytes | memoryview) -> None:
        for hasher in self._hashers:
            hasher.update(data)

    def info(self, blob_id: str, size: int, data: bytes | None = None) -> BlobInfo:
        checksum = self._checksum
        return BlobInfo(
            blob_id=blob_id,
            size=size,
            md5_hex=self._md5.digest().hex(),
            sha256_hex=None if self._sha256 is None else self._sha256.digest().hex(),
            checksum_b64=None if checksum is None else base64.b64encode(checksum.digest()).decode(),
            data=data,
        )


class InlineWriter:
    """The :class:`BlobWriter` interface for small bodies kept in memory and stored with their
    metadata (in the database) instead of as blob files: no file, no fsync. The caller bounds
    ``max_size``."""

    def __init__(self, *, want_sha256: bool = False, checksum: str | None = None,
                 max_size: int, transform: Transform | None = None) -> None:
        self.blob_id = ""
        self._transform = transform
        self.size = 0
        self.max_size: int | None = max_size
        self._digests = Digests(want_sha256, checksum)
        self._chunks: list[bytes] = []

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        data = chunk if isinstance(chunk, bytes) else bytes(chunk)
        if self.max_size is not None and self.size + len(data) > self.max_size:
            raise BlobTooLarge(f"blob exceeds {self.max_size} bytes")
        self._chunks.append(data)
        self.size += len(data)

    def commit(self) -> BlobInfo:
        data = b"".join(self._chunks)
        self._digests.update(data)
        kept = data if self._transform is None else self._transform(data)
        return self._digests.info("", self.size, kept)

    def abort(self) -> None:
        self._chunks.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class BlobWriter:
    """Streams bytes into a new blob. Use as a context manager: leaving without commit aborts.

    :meth:`write` only gathers chunks; each full batch (1 MiB) is hashed and written by the
    writer's own thread, in order, while the caller (the event loop) goes on receiving, with at
    most a few batches queued. A blob smaller than one batch is hashed and written by
    :meth:`commit` in one piece, with no thread at all. Hashing and ``pwrite`` release the GIL,
    so a large upload uses a second core for its digests.
    """

    def __init__(
        self,
        tmp_dir: Path,
        blobs_dir: Path,
        *,
        want_sha256: bool = False,
        checksum: str | None = None,
        max_size: int | None = None,
        transform: Transform | None = None,
    ) -> None:
        self.blob_id = new_blob_id()
        self._transform = transform
        self.size = 0
        self.max_size = max_size
        self._blobs_dir = blobs_dir
        self._tmp_path = tmp_dir / self.blob_id
        self._digests = Digests(want_sha256, checksum)
        self._written_back = 0
        self._batch: list[bytes] = []
        self._batched = 0
        self._offset = 0  # where the next batch goes
        self._lane: ThreadPoolExecutor | None = None
        self._in_flight: deque[Future[None]] = deque()
        self._fd: int | None = _open_locked(self._tmp_path)

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append ``chunk`` (copied unless it is ``bytes``, so callers may reuse buffers). On any
        failure (including :class:`BlobTooLarge`) the writer aborts."""
        self._require_open()
        try:
            data = chunk if isinstance(chunk, bytes) else bytes(chunk)
            if self.max_size is not None and self.size + len(data) > self.max_size:
                raise BlobTooLarge(f"blob exceeds {self.max_size} bytes")
            self._batch.append(data)
            self._batched += len(data)
            self.size += len(data)
            if self._batched >= _BATCH:
                self._send_batch()
        except BaseException:
            self.abort()
            raise

    def _take_batch(self) -> tuple[bytes, int]:
        data = self._batch[0] if len(self._batch) == 1 else b"".join(self._batch)
        offset = self._offset
        self._offset += len(data)
        self._batch.clear()
        self._batched = 0
        return data, offset

    def _send_batch(self) -> None:
        fd = self._require_open()
        data, offset = self._take_batch()
        if self._lane is None:
            self._lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-write")
        self._in_flight.append(self._lane.submit(self._store, fd, data, offset))
        while self._in_flight and (len(self._in_flight) > _IN_FLIGHT or self._in_flight[0].done()):
            self._in_flight.popleft().result()  # raises the thread's error, if any

    def _store(self, fd: int, data: bytes, offset: int) -> None:
        """Hash and write one batch; runs on the writer's thread (or in commit), in order."""
        with memoryview(data) as view:
            self._digests.update(view)
            if self._transform is not None:
                view = memoryview(self._transform(data))
            pwrite_all(fd, view, offset)
        end = offset + len(data)
        if end - self._written_back >= _WRITEBACK_EVERY:
            _start_writeback(fd, self._written_back, end)
            self._written_back = end

    def _drain(self) -> None:
        """Wait for every queued batch; the first error is raised after all have finished."""
        error: BaseException | None = None
        while self._in_flight:
            try:
                self._in_flight.popleft().result()
            except BaseException as exc:  # noqa: BLE001 - re-raised below, once all are done
                error = error or exc
        if self._lane is not None:
            self._lane.shutdown(wait=True)
            self._lane = None
        if error is not None:
            raise error

    def commit(self) -> BlobInfo:
        """fsync, rename into ``blobs/``, fsync the directory; return the blob's digests."""
        fd = self._require_open()
        final = blob_path(self._blobs_dir, self.blob_id)
        try:
            if self._lane is None:
                if self._batched:
                    self._store(fd, *self._take_batch())
            else:
                if self._batched:
                    self._send_batch()
                self._drain()
            os.utime(fd)  # the reaper ages blobs by mtime: make it the commit time
            os.fsync(fd)
            ensure_dir(final.parent, self._blobs_dir)
            os.rename(self._tmp_path, final)
            fsync_dir(final.parent)
        except BaseException:
            self.abort()
            raise
        self._close()
        return self._digests.info(self.blob_id, self.size)

    def abort(self) -> None:
        """Close and remove the temp file. Idempotent; a no-op after commit."""
        if self._fd is None:
            return
        with contextlib.suppress(Exception):  # aborting anyway: a write error is moot
            self._drain()  # but no batch may still be writing to the descriptor we close
        self._batch.clear()
        self._close()
        try:
            os.unlink(self._tmp_path)
        except FileNotFoundError:
            pass

    def _require_open(self) -> int:
        if self._fd is None:
            raise BlobStoreError("blob writer is closed")
        return self._fd

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


def _open_locked(path: Path) -> int:
    fd = os.open(path, _OPEN_FLAGS, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    return fd


def _start_writeback(fd: int, start: int, end: int) -> None:
    """Ask the kernel to start writing ``[start, end)`` to disk now, without waiting for it.

    On Linux, ``POSIX_FADV_DONTNEED`` starts asynchronous writeback of dirty pages (and drops
    clean ones), so the disk works while we hash the next chunks and ``fsync`` has less to do.
    """
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, start, end - start, os.POSIX_FADV_DONTNEED)
