"""The bytes of an object version as its client wrote them: read from its row (small objects)
or its blob, decrypted when the version is server-side encrypted; and the columns and cipher
of a new encrypted write. Every reader of object bytes (GET, copies, RegisterImage) goes
through :func:`read`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from controller.db.models import S3Object
from controller.s3 import encryption, errors
from controller.s3.encryption import Keys, Sealed
from storage.objects import BlobStore
from storage.objects.writer import Transform


def _keys(keys: Keys | None) -> Keys:
    if keys is None:  # a front end built without the controller's key: a wiring error
        raise errors.S3Error("Server-side encryption keys are not available.")
    return keys


def _decryption(keys: Keys | None, row: S3Object) -> tuple[bytes, list[tuple[int, str]]]:
    """An encrypted version's key, and where each of its separately encrypted streams begins
    (one for a single-part object, one per part otherwise) with its counter block."""
    sealed = Sealed.parse(row.sse_key or "")
    key = _keys(keys).key(sealed)
    if sealed.nonce:
        return key, [(0, sealed.nonce)]
    parts: list[list[Any]] = json.loads(row.parts or "[]")
    return key, encryption.part_segments(parts)


def read(blobs: BlobStore, keys: Keys | None, row: S3Object, start: int,
         end: int) -> bytes | Iterator[bytes]:
    """Plaintext bytes ``start..end`` (inclusive; ``end = start - 1``: none) of ``row``."""
    if row.inline_data is not None:
        data = row.inline_data[start:end + 1]
        if row.sse is None:
            return data
        return b"".join(encryption.decrypt_range([data], *_decryption(keys, row), start))
    if row.blob_id is None:
        return b""
    chunks = blobs.iter_range(row.blob_id, start, end)
    if row.sse is None:
        return chunks
    return encryption.decrypt_range(chunks, *_decryption(keys, row), start)


def sealing(keys: Keys | None, sse: str | None) -> tuple[dict[str, Any], Transform | None]:
    """For a new single-part version with server-side encryption ``sse`` (None: none): its
    ``sse`` and ``sse_key`` columns, and the transform that encrypts its bytes."""
    if sse is None:
        return {"sse": None, "sse_key": None}, None
    sealed = Sealed.new()
    transform = encryption.encryptor(_keys(keys).key(sealed), sealed.nonce)
    return {"sse": sse, "sse_key": sealed.stored()}, transform


def part_sealing(keys: Keys | None, upload_sse_key: str | None
                 ) -> tuple[str | None, Transform | None]:
    """For a new part of an upload (encrypted when ``upload_sse_key`` is set): the part's own
    counter block and the transform that encrypts its bytes."""
    if upload_sse_key is None:
        return None, None
    nonce = encryption.new_nonce()
    key = _keys(keys).key(Sealed.parse(upload_sse_key))
    return nonce, encryption.encryptor(key, nonce)
