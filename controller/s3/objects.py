"""PutObject, GetObject, HeadObject, DeleteObject."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from controller.db.models import S3Object
from controller.s3 import chunked, errors
from controller.s3 import objects_store as store
from controller.s3.access import caller, owned_bucket
from controller.s3.context import S3Context, S3Reply
from controller.s3.copy import copy_object
from controller.s3.headers import (
    OVERRIDES,
    check_conditions,
    content_md5,
    declared_checksum,
    http_date,
    parse_range,
    stored_headers,
    user_metadata,
)
from controller.s3.routes import route
from storage.objects import BlobInfo, BlobTooLarge

MAX_OBJECT = 5 * 1024**3
MAX_KEY_BYTES = 1024
SMALL_BODY = 1024 * 1024


def _check_key(key: str) -> None:
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


async def receive_blob(ctx: S3Context) -> BlobInfo:
    """Stream the request body into a new blob, checking length, MD5, checksum and signed hash;
    an aws-chunked body is decoded (chunk signatures checked, a trailing checksum read)."""
    is_chunked = chunked.is_aws_chunked(ctx.headers)
    length = ctx.headers.get("x-amz-decoded-content-length" if is_chunked else "content-length")
    if length is None or not length.isdigit():
        raise errors.MissingContentLength()
    if int(length) > MAX_OBJECT:
        raise errors.EntityTooLarge(ProposedSize=length, MaxSizeAllowed=str(MAX_OBJECT))
    md5 = content_md5(ctx.headers)
    checksum = declared_checksum(ctx.headers)
    trailer = chunked.announced_checksum(ctx.headers) if is_chunked and not checksum else None
    body = ctx.body()
    if is_chunked:
        body = decoded = chunked.decode_aws_chunked(
            body, signing=chunked.chunk_signing(ctx.headers, ctx.principal),
            expected_length=int(length))
    algorithm = checksum[0] if checksum else trailer
    writer = ctx.blobs.writer(want_sha256=ctx.payload_sha256 is not None,
                              checksum=algorithm, max_size=int(length))
    with writer:
        try:
            async for chunk in body:
                writer.write(chunk)
        except BlobTooLarge:
            raise errors.IncompleteBody("The request body is longer than Content-Length") from None
        if writer.size != int(length):
            raise errors.IncompleteBody()
        if trailer is not None:
            checksum = decoded.checksum(trailer)
        info = await run_in_threadpool(writer.commit)  # fsyncs: off the event loop
    _verify(ctx, info, md5, checksum)
    return info


def _verify(ctx: S3Context, info: BlobInfo, md5: str | None,
            checksum: tuple[str, str] | None) -> None:
    problem: errors.S3Error | None = None
    if ctx.payload_sha256 is not None and info.sha256_hex != ctx.payload_sha256:
        problem = errors.XAmzContentSHA256Mismatch(
            ClientComputedContentSHA256=ctx.payload_sha256,
            S3ComputedContentSHA256=info.sha256_hex or "")
    elif md5 is not None and info.md5_hex != md5:
        problem = errors.BadDigest()
    elif checksum is not None and info.checksum_b64 != checksum[1]:
        problem = errors.BadChecksum(f"The {checksum[0]} you specified did not match the "
                                     "calculated checksum.")
    if problem is not None:
        ctx.blobs.delete(info.blob_id)
        raise problem


@route("PUT", "object")
async def put_object(ctx: S3Context) -> S3Reply:
    if "x-amz-copy-source" in ctx.headers:
        return await copy_object(ctx)
    principal = caller(ctx.principal)
    _check_key(ctx.key)
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, principal)
    meta = user_metadata(ctx.headers)
    info = await receive_blob(ctx)
    algorithm = checksum_algorithm(ctx.headers)
    row_fields: dict[str, Any] = {
        "bucket": ctx.bucket, "key": ctx.key, "blob_id": info.blob_id, "size": info.size,
        "etag": f'"{info.md5_hex}"', "owner_account_id": principal.account_id,
        "headers": stored_headers(ctx.headers), "user_metadata": meta,
        "checksum_algorithm": algorithm,
        "checksum_value": info.checksum_b64}

    def install(session: Any) -> tuple[list[str], str]:
        bucket = owned_bucket(session, ctx.bucket, principal)
        row = S3Object(**row_fields)
        return store.install(session, bucket, row), row.version_id

    try:
        freed, version_id = store.with_retry(ctx.sessions, install)
    except BaseException:
        ctx.blobs.delete(info.blob_id)
        raise
    for blob in freed:
        ctx.blobs.delete(blob)
    headers = [("ETag", f'"{info.md5_hex}"')]
    if version_id != store.NULL_VERSION:
        headers.append(("x-amz-version-id", version_id))
    if algorithm:
        headers.append((f"x-amz-checksum-{algorithm.lower()}", info.checksum_b64 or ""))
    return S3Reply(200, headers)


def _find(ctx: S3Context) -> S3Object:
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
        version_id = ctx.query.get("versionId")
        if version_id is not None:
            row = store.version(session, ctx.bucket, ctx.key, version_id)
            if row is None:
                raise errors.NoSuchVersion(Key=ctx.key, VersionId=version_id)
        else:
            row = store.latest(session, ctx.bucket, ctx.key)
            if row is None:
                raise errors.NoSuchKey(Key=ctx.key)
            if row.delete_marker:
                missing = errors.NoSuchKey(Key=ctx.key)
                missing.headers = {"x-amz-delete-marker": "true",
                                   "x-amz-version-id": row.version_id}
                raise missing
    if row.delete_marker:
        raise errors.MethodNotAllowed()
    return row


def _object_headers(ctx: S3Context, row: S3Object) -> list[tuple[str, str]]:
    stored: dict[str, str] = json.loads(row.headers)
    headers = [(name.title() if not name.startswith("x-amz") else name, value)
               for name, value in stored.items()]
    headers += [("ETag", row.etag), ("Last-Modified", http_date(row.last_modified)),
                ("Accept-Ranges", "bytes")]
    headers += [(f"x-amz-meta-{k}", v) for k, v in json.loads(row.user_metadata).items()]
    if row.version_id != store.NULL_VERSION:
        headers.append(("x-amz-version-id", row.version_id))
    whole = "range" not in ctx.headers  # a checksum covers the whole object only
    if (row.checksum_algorithm and whole
            and ctx.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"):
        headers.append((f"x-amz-checksum-{row.checksum_algorithm.lower()}",
                        row.checksum_value or ""))
    overrides = {OVERRIDES[q]: v for q, v in ctx.query.items() if q in OVERRIDES}
    if overrides:
        headers = [(n, v) for n, v in headers if n not in overrides] + list(overrides.items())
    return headers


async def _read(ctx: S3Context, with_body: bool) -> S3Reply:
    row = _find(ctx)
    check_conditions(ctx.headers, row.etag, row.last_modified)
    headers = _object_headers(ctx, row)
    span = parse_range(ctx.headers.get("range"), row.size)
    start, end = span if span is not None else (0, row.size - 1)
    headers.append(("Content-Length", str(end - start + 1)))
    status = 200
    if span is not None:
        status = 206
        headers.append(("Content-Range", f"bytes {start}-{end}/{row.size}"))
    if not with_body or row.blob_id is None:
        return S3Reply(status, headers, b"" if with_body else None)
    chunks = ctx.blobs.iter_range(row.blob_id, start, end)
    if end - start < SMALL_BODY:
        # Small bodies go out in one piece: a streamed body is pulled through the thread pool
        # chunk by chunk, which costs more than reading it here.
        return S3Reply(status, headers, b"".join(chunks))
    return S3Reply(status, headers, chunks)


async def read_object(ctx: S3Context, with_body: bool) -> S3Reply:
    """GetObject (or HeadObject) for another front end: the website endpoint."""
    return await _read(ctx, with_body)


@route("GET", "object")
async def get_object(ctx: S3Context) -> S3Reply:
    return await _read(ctx, with_body=True)


@route("HEAD", "object")
async def head_object(ctx: S3Context) -> S3Reply:
    return await _read(ctx, with_body=False)


def remove_key(session: Any, bucket: str, key: str, version_id: str | None,
               principal: Any) -> store.Removal:
    """DeleteObject on one key (shared with DeleteObjects); the caller commits."""
    owned = owned_bucket(session, bucket, principal)
    return store.remove(session, owned, key, version_id, principal.account_id)


@route("DELETE", "object")
async def delete_object(ctx: S3Context) -> S3Reply:
    principal = caller(ctx.principal)
    version_id = ctx.query.get("versionId")
    removal = store.with_retry(
        ctx.sessions, lambda session: remove_key(session, ctx.bucket, ctx.key, version_id, principal))
    for blob in removal.freed:
        ctx.blobs.delete(blob)
    headers: list[tuple[str, str]] = []
    if removal.version_id is not None and removal.version_id != store.NULL_VERSION:
        headers.append(("x-amz-version-id", removal.version_id))
    if removal.delete_marker:
        headers.append(("x-amz-delete-marker", "true"))
    return S3Reply(204, headers)
