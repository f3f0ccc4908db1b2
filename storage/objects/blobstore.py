"""The byte store behind S3: blobs named by opaque ids under one directory.

Layout under ``root``: ``tmp/`` for writes in progress, ``blobs/ab/cd/<id>`` for committed blobs.
Object keys never become paths: the S3 layer maps keys to blob ids in SQL. Every id is
validated before it touches the filesystem; a malformed id is simply not found.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from storage.objects.errors import BlobNotFound, BlobRangeError, BlobStoreError
from storage.objects.layout import blob_path, check_blob_id
from storage.objects.writer import BlobInfo, BlobWriter, Transform

CHUNK_SIZE = 1 << 20


class BlobStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.blobs_dir = self.root / "blobs"
        self.tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.blobs_dir.mkdir(mode=0o700, exist_ok=True)

    def writer(
        self,
        *,
        want_sha256: bool = False,
        checksum: str | None = None,
        max_size: int | None = None,
        transform: Transform | None = None,
    ) -> BlobWriter:
        """A writer for a new blob; ``checksum`` is None or one of CRC32, CRC32C, SHA1, SHA256;
        ``transform`` (encryption) applies to the bytes after they are digested."""
        return BlobWriter(
            self.tmp_dir,
            self.blobs_dir,
            want_sha256=want_sha256,
            checksum=checksum,
            max_size=max_size,
            transform=transform,
        )

    def path(self, blob_id: str) -> Path:
        """The committed blob's file, e.g. for sendfile-style responses."""
        path = blob_path(self.blobs_dir, blob_id)
        if not path.is_file():
            raise BlobNotFound(blob_id)
        return path

    def open(self, blob_id: str) -> BinaryIO:
        try:
            return open(blob_path(self.blobs_dir, blob_id), "rb")
        except FileNotFoundError:
            raise BlobNotFound(blob_id) from None

    def size(self, blob_id: str) -> int:
        try:
            return os.stat(blob_path(self.blobs_dir, blob_id)).st_size
        except FileNotFoundError:
            raise BlobNotFound(blob_id) from None

    def exists(self, blob_id: str) -> bool:
        try:
            return blob_path(self.blobs_dir, blob_id).is_file()
        except BlobNotFound:
            return False

    def delete(self, blob_id: str) -> None:
        """Remove a blob; deleting a missing blob is not an error."""
        try:
            os.unlink(blob_path(self.blobs_dir, blob_id))
        except FileNotFoundError:
            pass

    def iter_range(
        self, blob_id: str, start: int, end_inclusive: int, chunk: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Yield bytes ``start..end_inclusive`` of a blob; ``end_inclusive = start - 1`` is empty.

        The id and range are checked now, so errors surface before the first chunk is sent.
        """
        _check_range(start, end_inclusive, self.size(blob_id))
        if chunk <= 0:
            raise ValueError("chunk must be positive")
        return self._read_range(blob_id, start, end_inclusive + 1 - start, chunk)

    def _read_range(self, blob_id: str, start: int, length: int, chunk: int) -> Iterator[bytes]:
        with self.open(blob_id) as file:
            file.seek(start)
            while length > 0:
                data = file.read(min(chunk, length))
                if not data:
                    raise BlobStoreError(f"blob {blob_id} is shorter than expected")
                length -= len(data)
                yield data

    def concatenate(
        self, blob_ids: list[str], *, want_sha256: bool = False, checksum: str | None = None
    ) -> BlobInfo:
        """A new blob made of the given blobs in order (multipart completion); parts stay."""
        for blob_id in blob_ids:
            check_blob_id(blob_id)
        with self.writer(want_sha256=want_sha256, checksum=checksum) as writer:
            for blob_id in blob_ids:
                for data in self.iter_range(blob_id, 0, self.size(blob_id) - 1):
                    writer.write(data)
            return writer.commit()


def _check_range(start: int, end_inclusive: int, size: int) -> None:
    if start < 0 or end_inclusive < start - 1 or end_inclusive >= size:
        raise BlobRangeError(f"range {start}-{end_inclusive} is outside a blob of {size} bytes")
