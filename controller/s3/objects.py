"""PutObject, GetObject, HeadObject, DeleteObject."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from controller.db.engine import LazySession
from controller.db.models import Bucket, S3Object, utcnow
from controller.db.reader import Reader, reading
from controller.s3 import (
    acl_requests,
    chunked,
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
    SessionSource,
    authorize,
    bound_action,
    bucket_for,
    current_facts,
    peeked_bucket,
    writer_account,
)
from controller.s3.context import S3Context, S3Reply
from controller.s3.copy import copy_object
from controller.s3.customer_keys import CustomerKey
from controller.s3.headers import (
    OVERRIDES,
    check_conditions,
    check_write_conditions,
    checksum_type,
    content_md5,
    declared_checksum,
    http_date,
    mail_safe,
    parse_range,
    stored_headers,
    user_metadata,
)
from controller.s3.lifecycle_rules import expiration_headers
from controller.s3.locks import lock_of, may_bypass, new_version_lock
from controller.s3.object_lock_rules import lock_headers
from controller.s3.operation_actions import versioned
from controller.s3.routes import route
from storage.objects import BlobInfo, BlobTooLarge, BlobWriter, InlineWriter
from storage.objects.writer import Transform

MAX_OBJECT = 5 * 1024**3
MAX_KEY_BYTES = 1024
SMALL_BODY = 1024 * 1024


def check_key(key: str) -> None:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise errors.KeyTooLongError(Size=str(len(key.encode("utf-8", "surrogatepass"))),
                                     MaxSizeAllowed=str(MAX_KEY_BYTES))


def checksum_algorithm(headers: Mapping[str, str]) -> str | None:
    """The checksum a PUT carries: in an ``x-amz-checksum-*`` header, or announced for the
    trailer of an aws-chunked body."""
    declared = declared_checksum(headers)
    if declared is not None:
        return declared[0]
    return chunked.announced_checksum(headers) if chunked.is_aws_chunked(headers) else None


@dataclass(frozen=True)
class Received:
    """A request body stored (as a blob or inline bytes), with the digests the client declared
    for it, not yet compared (:meth:`verify`)."""

    info: BlobInfo
    md5: str | None
    checksum: tuple[str, str] | None

    def verify(self, ctx: S3Context) -> None:
        verify_blob(ctx, self.info, self.md5, self.checksum, ctx.payload_sha256)


async def receive_blob(ctx: S3Context, inline_max: int = 0,
                       transform: Transform | None = None) -> BlobInfo:
    """Stream the request body into a new blob, checking length, MD5, checksum and signed hash;
    an aws-chunked body is decoded (chunk signatures checked, a trailing checksum read). A body
    whose declared length is at most ``inline_max`` is kept in memory (``info.data``) to be
    stored inline with its metadata. ``transform`` (encryption) applies to what is kept."""
    received = await receive_unverified(ctx, inline_max, transform)
    received.verify(ctx)
    return received.info


def declared_length(ctx: S3Context) -> int | None:
    """The body's length as the request declares it (``x-amz-decoded-content-length`` for
    aws-chunked), None when unknown or not a number."""
    name = ("x-amz-decoded-content-length" if chunked.is_aws_chunked(ctx.headers)
            else "content-length")
    length = ctx.headers.get(name)
    return int(length) if length is not None and length.isdigit() else None


async def receive_unverified(ctx: S3Context, inline_max: int = 0,
                             transform: Transform | None = None) -> Received:
    """:func:`receive_blob` without the comparison of the declared digests, which the caller
    makes (:meth:`Received.verify`) once it knows the request may write at all."""
    is_chunked = chunked.is_aws_chunked(ctx.headers)
    length = ctx.headers.get("x-amz-decoded-content-length" if is_chunked else "content-length")
    streamed = (length is None and not is_chunked
                and "chunked" in ctx.headers.get("transfer-encoding", "").lower())
    if streamed:  # HTTP chunked transfer coding: the length is known at the end only
        length = None
    elif length is None or not length.isdigit():
        raise errors.MissingContentLength()
    if length is not None and int(length) > MAX_OBJECT:
        raise errors.EntityTooLarge(ProposedSize=length, MaxSizeAllowed=str(MAX_OBJECT))
    md5 = content_md5(ctx.headers)
    checksum = declared_checksum(ctx.headers)
    trailer = chunked.announced_checksum(ctx.headers) if is_chunked and not checksum else None
    body = ctx.body()
    if is_chunked:
        body = decoded = chunked.decode_aws_chunked(
            body, signing=chunked.chunk_signing(ctx.headers, ctx.principal),
            expected_length=int(length or 0))
    algorithm = checksum[0] if checksum else trailer
    want_sha256 = ctx.payload_sha256 is not None
    writer: BlobWriter | InlineWriter = (
        InlineWriter(want_sha256=want_sha256, checksum=algorithm, max_size=int(length),
                     transform=transform)
        if length is not None and int(length) <= inline_max
        else ctx.blobs.writer(want_sha256=want_sha256, checksum=algorithm,
                              max_size=int(length or MAX_OBJECT), transform=transform))
    with writer:
        await fill_blob(writer, body, lambda: errors.EntityTooLarge(
            MaxSizeAllowed=str(MAX_OBJECT)) if length is None else errors.IncompleteBody(
            "The request body is longer than Content-Length"))
        if length is not None and writer.size != int(length):
            raise errors.IncompleteBody()
        if trailer is not None:
            checksum = decoded.checksum(trailer)
        info = (writer.commit() if isinstance(writer, InlineWriter)
                else await run_in_threadpool(writer.commit))  # fsyncs: off the event loop
    return Received(info, md5, checksum)


async def fill_blob(writer: BlobWriter | InlineWriter, body: AsyncIterator[bytes],
                    overflow: Callable[[], errors.S3Error]) -> None:
    """Stream ``body`` into ``writer``; ``overflow()`` is raised past the writer's max size."""
    try:
        async for chunk in body:
            writer.write(chunk)
    except BlobTooLarge:
        raise overflow() from None


def verify_blob(ctx: S3Context, info: BlobInfo, md5: str | None,
                checksum: tuple[str, str] | None, payload_sha256: str | None) -> None:
    """Delete the new blob and raise when a declared digest does not match what was written."""
    problem: errors.S3Error | None = None
    if payload_sha256 is not None and info.sha256_hex != payload_sha256:
        problem = errors.XAmzContentSHA256Mismatch(
            ClientComputedContentSHA256=payload_sha256,
            S3ComputedContentSHA256=info.sha256_hex or "")
    elif md5 is not None and info.md5_hex != md5:
        problem = errors.BadDigest()
    elif checksum is not None and info.checksum_b64 != checksum[1]:
        problem = errors.BadChecksum(f"The {checksum[0]} you specified did not match the "
                                     "calculated checksum.")
    if problem is not None:
        discard(ctx, info)
        raise problem


def discard(ctx: S3Context, info: BlobInfo) -> None:
    """Delete a new blob that will not be used (nothing to do for inline bytes)."""
    if info.blob_id:
        ctx.blobs.delete(info.blob_id)


def install_object(ctx: S3Context, info: BlobInfo, fields: dict[str, Any], *,
                   conditional: bool = False,
                   prepare: Callable[[SessionSource, Bucket], dict[str, Any]] | None = None,
                   received: Received | None = None) -> tuple[str, list[tuple[str, str]]]:
    """Make the written blob the latest version of ``fields["key"]`` in ``ctx.bucket`` (the
    blob is deleted if that fails, and the blobs it replaces once it succeeded); its version id
    and the ``x-amz-expiration`` header a lifecycle rule gives it, if any.
    ``fields`` are further :class:`S3Object` columns (key, owner, acl, headers, metadata,
    checksum, tags). Access (``s3:PutObject`` on the key) is checked in the install
    transaction, which is a few prepared statements on a connection of its own (policies and
    ACLs are read by a lazy session). Then, in order: ``prepare(session, bucket)`` gives more
    columns (for writes not checked before their body arrived), ``received`` digests are
    compared, and with ``conditional`` the request's If-Match / If-None-Match are checked
    against the key's current object."""
    values: dict[str, Any] = {
        "bucket": ctx.bucket, "blob_id": info.blob_id or None, "inline_data": info.data,
        "size": info.size, "etag": f'"{info.md5_hex}"', **fields}
    session = LazySession(ctx.sessions)  # only policies, ACLs and grant headers need one

    def install(reader: Reader) -> tuple[list[str], dict[str, Any], Bucket]:
        row = dict(values)
        bucket = lookup.bucket(reader, ctx.bucket)
        if bucket is None:
            raise errors.NoSuchBucket(BucketName=ctx.bucket)
        authorize(session, ctx.principal, bucket, "s3:PutObject", current_facts(),
                  key=row["key"])
        if prepare is not None:
            row.update(prepare(session, bucket))
        if received is not None:
            received.verify(ctx)
        if conditional:
            current = lookup.latest(reader, ctx.bucket, row["key"])
            live = current is not None and not current.delete_marker
            check_write_conditions(ctx.headers, current.etag if live and current else None)
        return store.install_values(reader, bucket, row, bucket_read_here=True), row, bucket

    try:
        freed, row, bucket = store.with_write_retry(ctx.engine, install)
    except BaseException:
        discard(ctx, info)
        raise
    finally:
        session.close()
    for blob in freed:
        ctx.blobs.delete(blob)
    return row["version_id"], expiration_headers(
        bucket.lifecycle, row["key"], row["last_modified"], row["size"], row.get("tags"),
        ctx.settings.s3_lifecycle_day_seconds)


@route("PUT", "object")
async def put_object(ctx: S3Context) -> S3Reply:
    if "x-amz-copy-source" in ctx.headers:
        return await copy_object(ctx)
    check_key(ctx.key)
    storage_classes.requested(ctx.headers)
    customer: CustomerKey | None = None  # read after the access check (a policy may deny it)
    inline_max = ctx.settings.s3_inline_max_bytes
    length = declared_length(ctx)
    conditional = "if-match" in ctx.headers or "if-none-match" in ctx.headers
    if (length is not None and length <= inline_max
            and ctx.headers.get("expect", "").lower() != "100-continue"):
        # A small body is received first (it is kept in memory): then one transaction checks
        # access and installs it, as the body-first order costs nothing here. Not when the
        # client waits for 100 Continue before sending it: the server's first read of the
        # body sends that, and S3 refuses a request it would refuse before inviting its body.
        received = await receive_unverified(ctx, inline_max)
        info = received.info
        sse: str | None = None
        etag = f'"{info.md5_hex}"'
        written: dict[str, Any] = {}

        def prepare(session: SessionSource, bucket: Bucket) -> dict[str, Any]:
            nonlocal sse, etag, customer, written
            columns = _put_columns(ctx, session, bucket, info)
            # After the access check: a caller a policy denies gets AccessDenied, whatever it
            # asked for; the bucket's default encryption is known only now.
            customer = ctx.customer_key()
            sse = stored_bytes.requested(ctx, bucket, customer, columns["owner_account_id"])
            if sse is not None:
                sealed, transform = stored_bytes.sealing(
                    ctx.keys, sse, customer, stored_bytes.bucket_key(ctx, bucket, sse))
                assert transform is not None and info.data is not None
                etag = stored_bytes.etag(ctx.keys, sse, sealed["sse_key"], customer,
                                         info.md5_hex)
                columns |= {**sealed, "inline_data": transform(info.data), "etag": etag}
            written = columns
            return columns

        version_id, expiration = install_object(
            ctx, info, {"key": ctx.key}, conditional=conditional, received=received,
            prepare=prepare)
        columns = written
    else:
        session = LazySession(ctx.sessions)  # only policies, ACLs and grant headers need one
        try:
            bucket = peeked_bucket(session, ctx, "s3:PutObject", ctx.key)
            columns = _put_columns(ctx, session, bucket, None)
        finally:
            session.close()
        customer = ctx.customer_key()
        sse = stored_bytes.requested(ctx, bucket, customer, columns["owner_account_id"])
        sealed, transform = stored_bytes.sealing(ctx.keys, sse, customer,
                                                 stored_bytes.bucket_key(ctx, bucket, sse))
        info = await receive_blob(ctx, inline_max, transform)
        etag = stored_bytes.etag(ctx.keys, sse, sealed["sse_key"], customer, info.md5_hex)
        columns |= {**sealed, "checksum_value": info.checksum_b64, "etag": etag}
        version_id, expiration = install_object(ctx, info, columns, conditional=conditional)
    key = stored_bytes.key_ref(ctx, sse, columns.get("sse_key"), columns["owner_account_id"])
    headers = [("ETag", etag), *expiration, *encryption.reply_headers(sse, customer, key)]
    if key is not None and kms.CONTEXT in ctx.headers:
        headers.append((kms.CONTEXT, ctx.headers[kms.CONTEXT]))
    if version_id != store.NULL_VERSION:
        headers.append(("x-amz-version-id", version_id))
    algorithm = checksum_algorithm(ctx.headers)
    if algorithm:
        headers.append((f"x-amz-checksum-{algorithm.lower()}", info.checksum_b64 or ""))
    return S3Reply(200, headers)


def _put_columns(ctx: S3Context, session: SessionSource, bucket: Bucket,
                 info: BlobInfo | None) -> dict[str, Any]:
    """The columns of a PutObject's new version that its headers give: owner and ACL, Object
    Lock retention, metadata, checksum, tags (each header's errors in this order)."""
    new = acl_requests.new_object(session, bucket, writer_account(ctx.principal, bucket),
                                  ctx.headers)
    lock = new_version_lock(bucket, ctx.headers)
    meta = user_metadata(ctx.headers)
    tags = tagging.header_tags(ctx.headers)
    return {"key": ctx.key, "owner_account_id": new.owner_account_id, "acl": new.acl,
            "headers": stored_headers(ctx.headers), "user_metadata": meta,
            "checksum_algorithm": checksum_algorithm(ctx.headers),
            "checksum_value": None if info is None else info.checksum_b64, "tags": tags,
            "storage_class": storage_classes.requested(ctx.headers), **lock}


def find_object(ctx: S3Context, action: str) -> tuple[S3Object, Bucket]:
    """The object (version) the request names, if the caller may do ``action`` to it, and its
    bucket; a missing one is NoSuchKey only for callers who may list the bucket (AccessDenied
    otherwise)."""
    session = LazySession(ctx.sessions)  # only policies and ACLs need one
    try:
        with reading(ctx.engine) as reader:
            version_id = ctx.query.get("versionId")
            if version_id is None:
                bucket, row = lookup.bucket_and_latest(reader, ctx.bucket, ctx.key)
            else:
                bucket = lookup.bucket(reader, ctx.bucket)
            if bucket is None:
                raise errors.NoSuchBucket(BucketName=ctx.bucket)
            if version_id is not None:
                row = lookup.version(reader, ctx.bucket, ctx.key, version_id)
                if row is None:
                    _check_may_list(session, ctx, bucket)
                    raise errors.NoSuchVersion(Key=ctx.key, VersionId=version_id)
            else:
                if row is None or row.delete_marker:
                    _check_may_list(session, ctx, bucket)
                    missing = errors.NoSuchKey(Key=ctx.key)
                    if row is not None:
                        missing.headers = {"x-amz-delete-marker": "true",
                                           "x-amz-version-id": row.version_id}
                    raise missing
            authorize(session, ctx.principal, bucket, versioned(action, version_id),
                      current_facts(), row)
    finally:
        session.close()
    if row.delete_marker:
        raise errors.MethodNotAllowed()
    return row, bucket


def _find(ctx: S3Context) -> S3Object:
    """:func:`find_object` for the current request's own action (GetObject, tagging, ...)."""
    return find_object(ctx, bound_action() or "s3:GetObject")[0]


def _check_may_list(session: SessionSource, ctx: S3Context, bucket: Bucket) -> None:
    authorize(session, ctx.principal, bucket, "s3:ListBucket", current_facts())


def _object_headers(ctx: S3Context, row: S3Object, customer: CustomerKey | None = None
                   ) -> list[tuple[str, str]]:
    stored: dict[str, str] = json.loads(row.headers) if row.headers != "{}" else {}
    headers = [(name.title() if not name.startswith("x-amz") else name, value)
               for name, value in stored.items()]
    headers += [("ETag", row.etag), ("Last-Modified", http_date(row.last_modified)),
                ("Accept-Ranges", "bytes")]
    if row.user_metadata != "{}":
        headers += [(f"x-amz-meta-{k}", mail_safe(v))
                    for k, v in json.loads(row.user_metadata).items()]
    if row.version_id != store.NULL_VERSION:
        headers.append(("x-amz-version-id", row.version_id))
    if row.tags:
        headers.append(("x-amz-tagging-count", str(tagging.count(row.tags))))
    headers += lock_headers(lock_of(row))
    if row.sse is not None:
        headers += encryption.reply_headers(
            row.sse, customer, stored_bytes.key_ref(ctx, row.sse, row.sse_key,
                                                    row.owner_account_id))
    if row.storage_class is not None:
        headers += storage_classes.headers(row.storage_class)
        headers += storage_classes.restore_headers(row.restored_until, utcnow())
    whole = "range" not in ctx.headers  # a checksum covers the whole object only
    if (row.checksum_algorithm and whole
            and ctx.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"):
        headers += [(f"x-amz-checksum-{row.checksum_algorithm.lower()}",
                     row.checksum_value or ""),
                    ("x-amz-checksum-type", checksum_type(row.checksum_value or ""))]
    overrides = {OVERRIDES[q]: v for q, v in ctx.query.items() if q in OVERRIDES}
    if overrides:
        headers = [(n, v) for n, v in headers if n not in overrides] + list(overrides.items())
    return headers


async def _read(ctx: S3Context, with_body: bool) -> S3Reply:
    row, bucket = find_object(ctx, "s3:GetObject")
    if row.sse is not None and encryption.HEADER in ctx.headers:
        raise errors.InvalidArgument(
            "x-amz-server-side-encryption header is not supported for this operation.",
            ArgumentName=encryption.HEADER, ArgumentValue=ctx.headers[encryption.HEADER][:64])
    customer = ctx.customer_key()
    if with_body and row.storage_class is not None:
        storage_classes.check_readable(row.storage_class, row.restored_until, utcnow())
    lifecycle = bucket.lifecycle
    check_conditions(ctx.headers, row.etag, row.last_modified)
    headers = _object_headers(ctx, row, customer)
    if row.is_latest:
        headers += expiration_headers(lifecycle, row.key, row.last_modified, row.size, row.tags,
                                      ctx.settings.s3_lifecycle_day_seconds)
    span = parse_range(ctx.headers.get("range"), row.size)
    if "partNumber" in ctx.query:
        if "range" in ctx.headers:
            raise errors.InvalidRequest(
                "Cannot specify both Range header and partNumber query parameter")
        span, part_headers = _part_span(row, ctx.query["partNumber"])
        headers = [(n, v) for n, v in headers if n != "ETag"] + part_headers
    if row.sse is not None or customer is not None:  # SSE-C: the object's key, or an error
        stored_bytes.unlock(ctx.keys, row.sse, row.sse_key, customer)
        if row.sse in kms.ALGORITHMS:
            kms.require_sigv4(ctx.principal)
    start, end = span if span is not None else (0, row.size - 1)
    headers.append(("Content-Length", str(end - start + 1)))
    status = 200
    if span is not None:
        status = 206
        if not any(name == "Content-Range" for name, _ in headers):
            headers.append(("Content-Range", f"bytes {start}-{end}/{row.size}"))
    if not with_body:
        return S3Reply(status, headers, None)
    chunks = stored_bytes.read(ctx.blobs, ctx.keys, row, start, end, customer)
    if isinstance(chunks, bytes):
        return S3Reply(status, headers, chunks)
    if end - start < SMALL_BODY:
        # Small bodies go out in one piece: a streamed body is pulled through the thread pool
        # chunk by chunk, which costs more than reading it here.
        return S3Reply(status, headers, b"".join(chunks))
    return S3Reply(status, headers, chunks)


MAX_PART_NUMBER = 10000


def _part_span(row: S3Object, value: str) -> tuple[tuple[int, int] | None,
                                                   list[tuple[str, str]]]:
    """GET/HEAD ``?partNumber=N``: the byte span of part N of a multipart object (None: the
    whole of an ordinary object, which is its own part 1), and the headers that go with it."""
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_PART_NUMBER):
        raise errors.InvalidArgument(
            f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
            ArgumentName="partNumber", ArgumentValue=value[:32])
    number = int(value)
    if row.parts is None:
        if number != 1:
            raise errors.InvalidPart(PartNumber=value)
        return None, [("ETag", row.etag)]
    parts: list[list[Any]] = json.loads(row.parts)
    if number > len(parts):
        raise errors.InvalidPart(PartNumber=value)
    start = sum(int(part[0]) for part in parts[: number - 1])
    size, etag = parts[number - 1][:2]
    headers = [("ETag", str(etag)), ("x-amz-mp-parts-count", str(len(parts)))]
    if int(size) > 0:
        headers.append(("Content-Range", f"bytes {start}-{start + int(size) - 1}/{row.size}"))
    return (start, start + int(size) - 1), headers


async def read_object(ctx: S3Context, with_body: bool) -> S3Reply:
    """GetObject (or HeadObject) for another front end: the website endpoint."""
    return await _read(ctx, with_body)


@route("GET", "object")
async def get_object(ctx: S3Context) -> S3Reply:
    return await _read(ctx, with_body=True)


@route("HEAD", "object")
async def head_object(ctx: S3Context) -> S3Reply:
    return await _read(ctx, with_body=False)


def remove_key(session: Any, ctx: S3Context, key: str, version_id: str | None
               ) -> store.Removal:
    """DeleteObject on one key (shared with DeleteObjects); the caller commits."""
    bucket = bucket_for(session, ctx, versioned("s3:DeleteObject", version_id), key)
    bypass = version_id is not None and may_bypass(session, ctx, bucket, key)
    return store.remove(session, bucket, key, version_id,
                        writer_account(ctx.principal, bucket), bypass)


@route("DELETE", "object")
async def delete_object(ctx: S3Context) -> S3Reply:
    version_id = ctx.query.get("versionId")
    removal = store.with_retry(
        ctx.sessions, lambda session: remove_key(session, ctx, ctx.key, version_id))
    for blob in removal.freed:
        ctx.blobs.delete(blob)
    headers: list[tuple[str, str]] = []
    if removal.version_id is not None and removal.version_id != store.NULL_VERSION:
        headers.append(("x-amz-version-id", removal.version_id))
    if removal.delete_marker:
        headers.append(("x-amz-delete-marker", "true"))
    return S3Reply(204, headers)
