"""Blob ids and where blobs live on disk: the only place that turns an id into a path.

Ids are 32 lowercase hex characters generated here; object keys never become paths.
A blob ``abcd…`` lives at ``blobs/ab/cd/abcd…`` and is written first as ``tmp/abcd…``.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from storage.objects.errors import BlobNotFound

_BLOB_ID = re.compile(r"[0-9a-f]{32}")


def new_blob_id() -> str:
    return secrets.token_hex(16)


def is_blob_id(value: str) -> bool:
    return _BLOB_ID.fullmatch(value) is not None


def check_blob_id(value: str) -> str:
    """Return ``value`` if it is a well-formed blob id, else raise :class:`BlobNotFound`."""
    if not isinstance(value, str) or not is_blob_id(value):
        raise BlobNotFound("malformed blob id")
    return value


def fanout_dir(blobs_dir: Path, blob_id: str) -> Path:
    return blobs_dir / blob_id[0:2] / blob_id[2:4]


def blob_path(blobs_dir: Path, blob_id: str) -> Path:
    return fanout_dir(blobs_dir, check_blob_id(blob_id)) / blob_id
