"""The bytes of an object version as its client wrote them: read from its row (small objects)
or its blob, decrypted when the version is server-side encrypted; and the columns and cipher
of a new encrypted write. Every reader of object bytes (GET, copies, RegisterImage) goes
through :func:`read`. An SSE-C version is read only with its customer's key
(:func:`unlock` tells a request without it, or with another, why not)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from controller.db.models import Bucket, S3Object
from controller.s3 import encryption, errors, kms
from controller.s3.context import S3Context
from controller.s3.customer_keys import CustomerKey
from controller.s3.encryption import Keys, Sealed
from storage.objects import BlobStore
from storage.objects.writer import Transform


def _keys(keys: Keys | None) -> Keys:
    if keys is None:  # a front end built without the controller's key: a wiring error
        raise errors.S3Error("Server-side encryption keys are not available.")
    return keys


def unlock(keys: Keys | None, sse: str | None, sse_key: str | None,
           customer: CustomerKey | None) -> bytes | None:
    """The object key of an SSE-C version (``sse``, ``sse_key``: its columns) for a request
    that brings ``customer`` (None for other versions), or S3's error: no key for an SSE-C
    version, or a key for another one, is InvalidRequest; another key is AccessDenied."""
    if sse != encryption.SSE_C:
        if customer is not None:
            raise errors.InvalidRequest(
                "The encryption parameters are not applicable to this object.")
        return None
    if customer is None:
        raise errors.InvalidRequest(
            "The object was stored using a form of Server Side Encryption. The correct "
            "parameters must be provided to retrieve the object.")
    key = _keys(keys).customer_key(Sealed.parse(sse_key or ""), customer.key)
    if key is None:
        raise errors.AccessDenied()
    return key


def _decryption(keys: Keys | None, row: S3Object, customer: CustomerKey | None
                ) -> tuple[bytes, list[tuple[int, str]]]:
    """An encrypted version's key, and where each of its separately encrypted streams begins
    (one for a single-part object, one per part otherwise) with its counter block."""
    sealed = Sealed.parse(row.sse_key or "")
    if row.sse == encryption.SSE_C:
        unlocked = unlock(keys, row.sse, row.sse_key, customer)
        assert unlocked is not None
        key = unlocked
    else:
        key = _keys(keys).key(sealed)
    if sealed.nonce:
        return key, [(0, sealed.nonce)]
    parts: list[list[Any]] = json.loads(row.parts or "[]")
    return key, encryption.part_segments(parts)


def read(blobs: BlobStore, keys: Keys | None, row: S3Object, start: int,
         end: int, customer: CustomerKey | None = None) -> bytes | Iterator[bytes]:
    """Plaintext bytes ``start..end`` (inclusive; ``end = start - 1``: none) of ``row``;
    ``customer``: the request's SSE-C key, for an SSE-C version."""
    if row.inline_data is not None:
        data = row.inline_data[start:end + 1]
        if row.sse is None:
            return data
        return b"".join(encryption.decrypt_range([data], *_decryption(keys, row, customer),
                                                 start))
    if row.blob_id is None:
        return b""
    chunks = blobs.iter_range(row.blob_id, start, end)
    if row.sse is None:
        return chunks
    return encryption.decrypt_range(chunks, *_decryption(keys, row, customer), start)


def requested(ctx: S3Context, bucket: Bucket, customer: CustomerKey | None, owner: str,
              fields: Mapping[str, str] | None = None) -> str | None:
    """The encryption of a write to ``bucket`` of an object ``owner`` (an account) will own:
    the request's own (in its headers, or a POST form's ``fields``; ``customer``: its SSE-C
    key), or the bucket's default; SSE-C where the bucket blocks it is AccessDenied; SSE-KMS
    with a key other than the owner's AWS managed key is KMS.NotFoundException."""
    blocked = customer is not None and encryption.sse_c_blocked(
        bucket.encryption, ctx.settings.s3_sse_c_blocked_by_default)  # parsed for SSE-C only
    source = ctx.headers if fields is None else fields
    sse = encryption.requested(source, encryption.default_of(bucket.encryption), customer,
                               blocked)
    if sse in kms.ALGORITHMS:
        kms.require_sigv4(ctx.principal)
        key_id = source.get(kms.KEY_ID) if encryption.HEADER in source else (
            encryption.default_rule(bucket.encryption).get(
                "ApplyServerSideEncryptionByDefault") or {}).get("KMSMasterKeyID")
        kms.check_key(key_id, owner, ctx.settings.region)
        kms.check_context(source.get(kms.CONTEXT))
    return sse


def bucket_key(ctx: S3Context, bucket: Bucket, sse: str | None,
               fields: Mapping[str, str] | None = None) -> bool:
    """Whether an SSE-KMS write (``sse``, from :func:`requested`) uses an S3 Bucket Key: as
    the request says, else as its bucket's default encryption says. Every write calls it after
    :func:`requested` and before reading its body: a malformed header is InvalidArgument."""
    if sse not in kms.ALGORITHMS:
        return False
    flag = kms.bucket_key_flag((ctx.headers if fields is None else fields).get(kms.BUCKET_KEY))
    if flag is None:
        flag = bool(encryption.default_rule(bucket.encryption).get("BucketKeyEnabled"))
    return flag


def key_ref(ctx: S3Context, sse: str | None, sse_key: str | None, owner: str
            ) -> kms.KeyRef | None:
    """The KMS key of an SSE-KMS object (or upload) ``owner`` owns, as replies name it."""
    if sse not in kms.ALGORITHMS:
        return None
    bucket_key_ = Sealed.parse(sse_key).bucket_key if sse_key else False
    return kms.key_ref(sse, bucket_key_, owner, ctx.settings.region)


def sealing(keys: Keys | None, sse: str | None, customer: CustomerKey | None = None,
            bucket_key: bool = False) -> tuple[dict[str, Any], Transform | None]:
    """For a new single-part version with server-side encryption ``sse`` (None: none; SSE-C
    with ``customer``'s key; ``bucket_key``: an SSE-KMS write with an S3 Bucket Key): its
    ``sse`` and ``sse_key`` columns, and the transform that encrypts its bytes."""
    if sse is None:
        return {"sse": None, "sse_key": None}, None
    sealed, key = _new_key(keys, sse, customer, multipart=False, bucket_key=bucket_key)
    return {"sse": sse, "sse_key": sealed.stored()}, encryption.encryptor(key, sealed.nonce)


def upload_sealing(keys: Keys | None, sse: str | None, customer: CustomerKey | None,
                   bucket_key: bool = False) -> str | None:
    """The ``sse_key`` of a new multipart upload (its parts' counter blocks are their own)."""
    if sse is None:
        return None
    return _new_key(keys, sse, customer, multipart=True, bucket_key=bucket_key)[0].stored()


def _new_key(keys: Keys | None, sse: str, customer: CustomerKey | None, *, multipart: bool,
             bucket_key: bool = False) -> tuple[Sealed, bytes]:
    if sse != encryption.SSE_C:
        sealed = Sealed.new(multipart, bucket_key)
        return sealed, _keys(keys).key(sealed)
    assert customer is not None, "SSE-C without the request's key"
    sealed = _keys(keys).seal_customer(customer.key, multipart)
    key = _keys(keys).customer_key(sealed, customer.key)
    assert key is not None
    return sealed, key


def etag(keys: Keys | None, sse: str | None, sse_key: str | None,
         customer: CustomerKey | None, md5_hex: str) -> str:
    """The quoted ETag of new bytes with MD5 ``md5_hex``, written with ``sse`` and ``sse_key``
    (a part's: its upload's): their MD5, but for SSE-C (``encryption.customer_etag``)."""
    if sse != encryption.SSE_C:
        return f'"{md5_hex}"'
    key = unlock(keys, sse, sse_key, customer)
    assert key is not None
    return encryption.customer_etag(key, md5_hex)


def part_sealing(keys: Keys | None, upload_sse: str | None, upload_sse_key: str | None,
                 customer: CustomerKey | None) -> tuple[str | None, Transform | None]:
    """For a new part of an upload (encrypted when ``upload_sse_key`` is set): the part's own
    counter block and the transform that encrypts its bytes. A part of an SSE-C upload must
    bring the upload's key; a part of another must bring none (InvalidRequest, as in S3)."""
    if upload_sse != encryption.SSE_C:
        if customer is not None:
            raise errors.InvalidRequest("The encryption parameters are not applicable to this "
                                        "multipart upload.")
        if upload_sse_key is None:
            return None, None
        key = _keys(keys).key(Sealed.parse(upload_sse_key))
    else:
        if customer is None:
            raise errors.InvalidRequest(
                "The multipart upload initiate requested encryption. Subsequent part requests "
                "must include the appropriate encryption parameters.")
        found = _keys(keys).customer_key(Sealed.parse(upload_sse_key or ""), customer.key)
        if found is None:
            raise errors.InvalidRequest("The provided encryption parameters did not match the "
                                        "ones used originally.")
        key = found
    nonce = encryption.new_nonce()
    return nonce, encryption.encryptor(key, nonce)
