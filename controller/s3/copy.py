"""CopyObject, and the copy source that UploadPartCopy shares: parsing, access, conditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool

from controller.db.models import S3Object, utcnow
from controller.s3 import (
    acl_requests,
    customer_keys,
    encryption,
    errors,
    kms,
    lookup,
    storage_classes,
    stored_bytes,
    tagging,
)
from controller.s3 import objects_store as store
from controller.s3.access import (
    authorize,
    bucket_for,
    current_facts,
    existing_bucket,
    writer_account,
)
from controller.s3.context import S3Context, S3Reply
from controller.s3.headers import (
    CHECKSUMS,
    check_conditions,
    stored_headers,
    user_metadata,
)
from controller.s3.locks import new_version_lock
from controller.s3.replies import xml_reply
from storage.objects import BlobInfo, InlineWriter
from storage.objects.writer import Transform

SELF_COPY = ("This copy request is illegal because it is trying to copy an object to itself "
             "without changing the object's metadata, storage class, website redirect location "
             "or encryption attributes.")
_CHANGES = ("x-amz-website-redirect-location", "x-amz-server-side-encryption",
            "x-amz-server-side-encryption-customer-algorithm")
_CONDITIONS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")


@dataclass(frozen=True)
class CopySource:
    bucket: str
    key: str
    version_id: str | None


def parse_copy_source(value: str) -> CopySource:
    """``/bucket/key[?versionId=v]``, URL-encoded, the leading slash optional."""
    path, _, query = value.partition("?")
    version_id: str | None = None
    if query:
        name, _, version = query.partition("=")
        if name != "versionId" or not version:
            raise errors.InvalidArgument("Unsupported copy source parameter.")
        version_id = unquote(version)
    bucket, _, key = unquote(path).removeprefix("/").partition("/")
    if not bucket or not key:
        raise errors.InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
    return CopySource(bucket, key, version_id)


def find_copy_source(ctx: S3Context) -> tuple[CopySource, S3Object]:
    """The object ``x-amz-copy-source`` names, readable by the caller, its conditions met."""
    source = parse_copy_source(ctx.headers["x-amz-copy-source"])
    with ctx.sessions() as session:
        bucket = existing_bucket(session, source.bucket)
        if source.version_id is not None:
            row = lookup.version(session, source.bucket, source.key, source.version_id)
            if row is None:
                authorize(session, ctx.principal, bucket, "s3:ListBucket", current_facts())
                raise errors.NoSuchVersion(Key=source.key, VersionId=source.version_id)
            if row.delete_marker:
                raise errors.InvalidRequest("The source of a copy request may not specifically "
                                            "refer to a delete marker by version id.")
        else:
            row = lookup.latest(session, source.bucket, source.key)
            if row is None or row.delete_marker:
                authorize(session, ctx.principal, bucket, "s3:ListBucket", current_facts())
                raise errors.NoSuchKey(Key=source.key)
        action = "s3:GetObjectVersion" if source.version_id is not None else "s3:GetObject"
        authorize(session, ctx.principal, bucket, action, current_facts(), row)
    if not storage_classes.readable(row.storage_class, row.restored_until, utcnow()):
        raise errors.InvalidObjectState(
            "The source object of the COPY action is not in the active tier and is only "
            "stored in Amazon S3 Glacier.", StorageClass=row.storage_class or "")
    check_copy_conditions(ctx.headers, row)
    if row.sse is not None or customer_keys.sent(ctx.headers, copy_source=True):
        stored_bytes.unlock(ctx.keys, row.sse, row.sse_key, ctx.customer_key(copy_source=True))
        if row.sse in kms.ALGORITHMS:
            kms.require_sigv4(ctx.principal)
    return source, row


def check_copy_conditions(headers: Mapping[str, str], row: S3Object) -> None:
    """``x-amz-copy-source-if-*``: what would be 304 on a GET is 412 on a copy."""
    wanted = {name: headers[f"x-amz-copy-source-{name}"] for name in _CONDITIONS
              if f"x-amz-copy-source-{name}" in headers}
    try:
        check_conditions(wanted, row.etag, row.last_modified)
    except errors.NotModified:
        raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-None-Match") from None


async def copy_bytes(ctx: S3Context, src: S3Object, start: int, end: int,
                     checksum: str | None, inline_max: int,
                     transform: Transform | None = None) -> BlobInfo:
    """Bytes ``start..end`` of the source object (decrypted if it is encrypted) as new inline
    bytes (at most ``inline_max`` of them, from an inline source) or as a new blob;
    ``transform`` encrypts what is kept. Only a new blob needs the thread pool."""
    if src.inline_data is not None and end - start + 1 <= inline_max:
        return _copy(ctx, src, start, end, checksum, inline_max, transform)
    return await run_in_threadpool(_copy, ctx, src, start, end, checksum, inline_max, transform)


def _copy(ctx: S3Context, src: S3Object, start: int, end: int, checksum: str | None,
          inline_max: int, transform: Transform | None) -> BlobInfo:
    data = stored_bytes.read(ctx.blobs, ctx.keys, src, start, end,
                             ctx.customer_key(copy_source=True))
    chunks = [data] if isinstance(data, bytes) else data
    if src.inline_data is not None and end - start + 1 <= inline_max:
        inline = InlineWriter(checksum=checksum, max_size=end - start + 1, transform=transform)
        for chunk in chunks:
            inline.write(chunk)
        return inline.commit()
    with ctx.blobs.writer(checksum=checksum, transform=transform) as writer:
        for chunk in chunks:
            writer.write(chunk)
        return writer.commit()


def checksum_fields(algorithm: str | None, value: str | None) -> dict[str, str]:
    """The ``Checksum<ALGORITHM>`` output member for a stored checksum, if any."""
    if not algorithm or not value:
        return {}
    return {f"Checksum{algorithm}": value}


def _new_headers(ctx: S3Context, row: S3Object) -> tuple[str, str]:
    directive = ctx.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument("Unknown metadata directive.")
    if directive == "REPLACE":
        return stored_headers(ctx.headers), user_metadata(ctx.headers)
    return row.headers, row.user_metadata


def _check_not_self(ctx: S3Context, source: CopySource, row: S3Object) -> None:
    same = (source.bucket == ctx.bucket and source.key == ctx.key and row.is_latest)
    replacing = ctx.headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE"
    changing = (storage_classes.requested(ctx.headers) != row.storage_class
                or any(name in ctx.headers for name in _CHANGES))
    if same and not replacing and not changing:
        raise errors.InvalidRequest(SELF_COPY)


def _checksum_algorithm(ctx: S3Context, row: S3Object) -> str | None:
    wanted = ctx.headers.get("x-amz-checksum-algorithm", "").upper()
    if wanted and wanted not in CHECKSUMS:
        raise errors.InvalidRequest("Checksum algorithm provided is unsupported.")
    return wanted or row.checksum_algorithm


async def copy_object(ctx: S3Context) -> S3Reply:
    """PUT /bucket/key with ``x-amz-copy-source``: a new object with the source's bytes."""
    from controller.s3.objects import check_key

    check_key(ctx.key)
    storage_class = storage_classes.requested(ctx.headers)  # STANDARD unless named, as in S3
    with ctx.sessions() as session:
        bucket = bucket_for(session, ctx, "s3:PutObject", ctx.key)
        customer = ctx.customer_key()  # after the access check, as for PutObject
        new = acl_requests.new_object(session, bucket, writer_account(ctx.principal, bucket),
                                      ctx.headers)
        sse = stored_bytes.requested(ctx, bucket, customer, new.owner_account_id)
        bucket_key = stored_bytes.bucket_key(ctx, bucket, sse)
        lock = new_version_lock(bucket, ctx.headers)
    source, src = find_copy_source(ctx)
    _check_not_self(ctx, source, src)
    headers, meta = _new_headers(ctx, src)
    tags = tagging.copied_tags(ctx.headers, src.tags)
    algorithm = _checksum_algorithm(ctx, src)
    sealed, transform = stored_bytes.sealing(ctx.keys, sse, customer, bucket_key)
    info = await copy_bytes(ctx, src, 0, src.size - 1, algorithm,
                            ctx.settings.s3_inline_max_bytes, transform)
    etag = stored_bytes.etag(ctx.keys, sse, sealed["sse_key"], customer, info.md5_hex)
    row_fields: dict[str, Any] = {
        "bucket": ctx.bucket, "key": ctx.key, "blob_id": info.blob_id or None,
        "inline_data": info.data, "size": info.size,
        "etag": etag, "owner_account_id": new.owner_account_id,
        "headers": headers, "user_metadata": meta, "checksum_algorithm": algorithm,
        "acl": new.acl,
        "checksum_value": info.checksum_b64, "tags": tags, "storage_class": storage_class,
        **sealed, **lock}

    def install(session: Any) -> tuple[list[str], S3Object]:
        bucket = bucket_for(session, ctx, "s3:PutObject", ctx.key)
        row = S3Object(**row_fields)
        return store.install(session, bucket, row), row

    try:
        freed, row = store.with_retry(ctx.sessions, install)
    except BaseException:
        if info.blob_id:
            ctx.blobs.delete(info.blob_id)
        raise
    for blob in freed:
        ctx.blobs.delete(blob)
    result = {"ETag": row.etag, "LastModified": row.last_modified,
              **checksum_fields(algorithm, info.checksum_b64)}
    data: dict[str, Any] = {"CopyObjectResult": result}
    if row.version_id != store.NULL_VERSION:
        data["VersionId"] = row.version_id
    if src.version_id != store.NULL_VERSION:
        data["CopySourceVersionId"] = src.version_id
    key = stored_bytes.key_ref(ctx, sse, row.sse_key, row.owner_account_id)
    return xml_reply("CopyObject", data | encryption.reply_members(sse, customer, key))
