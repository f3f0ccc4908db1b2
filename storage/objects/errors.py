"""Errors raised by the object byte store.

The S3 layer maps these to API errors in its one translation table; nothing here knows HTTP.
"""

from __future__ import annotations


class BlobStoreError(Exception):
    """Base class: the byte store failed or was used wrongly."""


class BlobNotFound(BlobStoreError):
    """No blob with this id (or the id is malformed and so cannot exist)."""


class BlobTooLarge(BlobStoreError):
    """A writer was given more bytes than its ``max_size``; the write was aborted."""


class BlobRangeError(BlobStoreError):
    """A byte range does not lie inside the blob (the caller validates client ranges first)."""
