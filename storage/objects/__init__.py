"""Crash-safe byte store behind S3: blobs by opaque id, temp file + fsync + rename, a reaper.

Pure Python and the filesystem: no database, no HTTP. Object metadata (key → blob id, ETag, …)
lives in SQL and is written by the S3 layer.
"""

from storage.objects.blobstore import CHUNK_SIZE, BlobStore
from storage.objects.checksums import CHECKSUM_ALGORITHMS, crc32c
from storage.objects.errors import BlobNotFound, BlobRangeError, BlobStoreError, BlobTooLarge
from storage.objects.layout import is_blob_id
from storage.objects.reaper import ReapReport, reap
from storage.objects.streams import write_stream
from storage.objects.writer import BlobInfo, BlobWriter, InlineWriter

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "CHUNK_SIZE",
    "BlobInfo",
    "BlobNotFound",
    "BlobRangeError",
    "BlobStore",
    "BlobStoreError",
    "BlobTooLarge",
    "BlobWriter",
    "InlineWriter",
    "ReapReport",
    "crc32c",
    "is_blob_id",
    "reap",
    "write_stream",
]
