"""Multipart uploads: create, upload (and copy) parts, complete, abort, list parts and uploads."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from controller import ids
from controller.db.engine import transaction
from controller.db.models import MultipartUpload, S3Object, UploadPart, utcnow
from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import parse_s3_input_xml
from controller.s3 import acl_requests, encryption, errors, storage_classes, stored_bytes, tagging
from controller.s3 import objects_store as store
from controller.s3.access import owned_bucket, owner_of, writer_account
from controller.s3.context import S3Context, S3Reply
from controller.s3.copy import checksum_fields, copy_bytes, find_copy_source
from controller.s3.headers import (
    CHECKSUMS,
    checksum_type,
    declared_checksum,
    stored_headers,
    user_metadata,
)
from controller.s3.locks import new_version_lock
from controller.s3.objects import check_key, checksum_algorithm, receive_blob
from controller.s3.replies import xml_reply
from controller.s3.routes import route
from storage.objects import BlobInfo
from storage.objects.checksums import combinable, crc_combine, new_hasher

MAX_PARTS = 10_000
MIN_PART = 5 * 1024**2
MAX_PART = 5 * 1024**3
MAX_COMPLETE_BYTES = 4 * 1024**2
MAX_LISTED = 1000


def _int_param(query: Mapping[str, str], name: str, default: int, high: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise errors.InvalidArgument(f"Provided {name} not an integer or within integer range",
                                     ArgumentName=name, ArgumentValue=value)
    return min(int(value), high)


def _part_number(query: Mapping[str, str]) -> int:
    value = query.get("partNumber", "")
    if not value.isdigit() or not 1 <= int(value) <= MAX_PARTS:
        raise errors.InvalidArgument("Part number must be an integer between 1 and 10000, "
                                     "inclusive", ArgumentName="partNumber", ArgumentValue=value)
    return int(value)


def _upload(session: Session, ctx: S3Context) -> MultipartUpload:
    """The upload ``?uploadId`` names, of this bucket and key, in a bucket the caller owns."""
    owned_bucket(session, ctx.bucket, ctx.principal)
    upload_id = ctx.query.get("uploadId", "")
    upload = session.get(MultipartUpload, upload_id)
    if upload is None or upload.bucket != ctx.bucket or upload.key != ctx.key:
        raise errors.NoSuchUpload(UploadId=upload_id)
    return upload


@route("POST", "object", "uploads")
async def create_multipart_upload(ctx: S3Context) -> S3Reply:
    check_key(ctx.key)
    storage_class = storage_classes.requested(ctx.headers)
    algorithm, kind = _checksum_request(ctx.headers)
    tags = tagging.header_tags(ctx.headers)
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        customer = ctx.customer_key()  # after the access check, as for PutObject
        new = acl_requests.new_object(session, bucket, writer_account(ctx.principal, bucket),
                                      ctx.headers)
        lock = new_version_lock(bucket, ctx.headers)
        sse = stored_bytes.requested(ctx, bucket, customer, new.owner_account_id)
        upload = MultipartUpload(
            sse=sse, sse_key=stored_bytes.upload_sealing(
                ctx.keys, sse, customer, stored_bytes.bucket_key(ctx, bucket, sse)),
            upload_id=ids.new_token(36), bucket=ctx.bucket, key=ctx.key,
            owner_account_id=new.owner_account_id, headers=stored_headers(ctx.headers),
            user_metadata=user_metadata(ctx.headers), checksum_algorithm=algorithm,
            checksum_type=kind, acl=new.acl, tags=tags, storage_class=storage_class, **lock)
        session.add(upload)
    data: dict[str, Any] = {"Bucket": ctx.bucket, "Key": ctx.key, "UploadId": upload.upload_id}
    if algorithm is not None:
        data |= {"ChecksumAlgorithm": algorithm, "ChecksumType": kind}
    key = stored_bytes.key_ref(ctx, sse, upload.sse_key, upload.owner_account_id)
    return xml_reply("CreateMultipartUpload",
                     data | encryption.reply_members(sse, customer, key))


def _checksum_request(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(algorithm, type) of CreateMultipartUpload: COMPOSITE by default, FULL_OBJECT for
    CRC64NVME (which has no composite) or when ``x-amz-checksum-type`` asks for it (CRCs only)."""
    algorithm = headers.get("x-amz-checksum-algorithm", "").upper() or None
    kind = headers.get("x-amz-checksum-type", "").upper() or None
    if algorithm is None and kind is not None:
        algorithm = "CRC64NVME"  # what S3 assumes for a type without an algorithm
    if algorithm is None:
        return None, None
    if algorithm not in CHECKSUMS:
        raise errors.InvalidRequest("Checksum algorithm provided is unsupported.")
    if kind is None:
        kind = "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
    if kind not in ("COMPOSITE", "FULL_OBJECT"):
        raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
    if ((kind == "FULL_OBJECT" and not combinable(algorithm))
            or (kind == "COMPOSITE" and algorithm == "CRC64NVME")):
        raise errors.InvalidRequest(f"The {kind} checksum type cannot be used with the "
                                    f"{algorithm.lower()} checksum algorithm.")
    return algorithm, kind


def _save_part(ctx: S3Context, number: int, info: BlobInfo, nonce: str | None,
               etag: str) -> None:
    """Record the part (replacing an earlier one of that number, whose blob is then freed);
    ``nonce``: the counter block of an encrypted upload's part."""

    def save(session: Session) -> str | None:
        upload = _upload(session, ctx)
        part = session.get(UploadPart, (upload.upload_id, number))
        fields = {"blob_id": info.blob_id, "size": info.size, "etag": etag,
                  "checksum_value": info.checksum_b64, "last_modified": utcnow(),
                  "sse_nonce": nonce}
        if part is None:
            session.add(UploadPart(upload_id=upload.upload_id, part_number=number, **fields))
            session.flush()
            return None
        old = part.blob_id
        for name, value in fields.items():
            setattr(part, name, value)
        return old

    try:
        old = store.with_retry(ctx.sessions, save)
    except BaseException:
        ctx.blobs.delete(info.blob_id)
        raise
    if old is not None:
        ctx.blobs.delete(old)


def _check_part_checksum(upload: MultipartUpload, declared: tuple[str, str] | None) -> None:
    if declared and upload.checksum_algorithm and declared[0] != upload.checksum_algorithm:
        raise errors.InvalidRequest(
            f"Checksum Type mismatch occurred, expected checksum Type: "
            f"{upload.checksum_algorithm.lower()}, actual checksum Type: {declared[0].lower()}")


@route("PUT", "object", "uploadId")
async def upload_part(ctx: S3Context) -> S3Reply:
    number = _part_number(ctx.query)
    if "x-amz-copy-source" in ctx.headers:
        return await upload_part_copy(ctx, number)
    declared = declared_checksum(ctx.headers)
    with ctx.sessions() as session:
        upload = _upload(session, ctx)
        _check_part_checksum(upload, declared)
    customer = ctx.customer_key()
    nonce, transform = stored_bytes.part_sealing(ctx.keys, upload.sse, upload.sse_key, customer)
    info = await receive_blob(ctx, transform=transform)
    etag = stored_bytes.etag(ctx.keys, upload.sse, upload.sse_key, customer, info.md5_hex)
    _save_part(ctx, number, info, nonce, etag)
    key = stored_bytes.key_ref(ctx, upload.sse, upload.sse_key, upload.owner_account_id)
    headers = [("ETag", etag), *encryption.reply_headers(upload.sse, customer, key)]
    algorithm = checksum_algorithm(ctx.headers)
    if algorithm:
        headers.append((f"x-amz-checksum-{algorithm.lower()}", info.checksum_b64 or ""))
    return S3Reply(200, headers)


def _copy_range(header: str | None, size: int) -> tuple[int, int]:
    if header is None:
        return 0, size - 1
    first, sep, last = header.removeprefix("bytes=").partition("-")
    if not header.startswith("bytes=") or not sep or not first.isdigit() or not last.isdigit():
        raise errors.InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where "
            "first and last are the zero-based offsets of the first and last bytes to copy",
            ArgumentName="x-amz-copy-source-range", ArgumentValue=header)
    start, end = int(first), int(last)
    if end < start or end >= size:
        raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
    return start, end


async def upload_part_copy(ctx: S3Context, number: int) -> S3Reply:
    with ctx.sessions() as session:
        upload = _upload(session, ctx)
    _, src = find_copy_source(ctx)
    start, end = _copy_range(ctx.headers.get("x-amz-copy-source-range"), src.size)
    if end - start + 1 > MAX_PART:
        raise errors.EntityTooLarge(ProposedSize=str(end - start + 1), MaxSizeAllowed=str(MAX_PART))
    customer = ctx.customer_key()
    nonce, transform = stored_bytes.part_sealing(ctx.keys, upload.sse, upload.sse_key, customer)
    info = await copy_bytes(ctx, src, start, end, upload.checksum_algorithm, inline_max=0,
                            transform=transform)
    etag = stored_bytes.etag(ctx.keys, upload.sse, upload.sse_key, customer, info.md5_hex)
    _save_part(ctx, number, info, nonce, etag)
    result = {"ETag": etag, "LastModified": utcnow(),
              **checksum_fields(upload.checksum_algorithm, info.checksum_b64)}
    data: dict[str, Any] = {"CopyPartResult": result}
    if src.version_id != store.NULL_VERSION:
        data["CopySourceVersionId"] = src.version_id
    key = stored_bytes.key_ref(ctx, upload.sse, upload.sse_key, upload.owner_account_id)
    return xml_reply("UploadPartCopy",
                     data | encryption.reply_members(upload.sse, customer, key))


async def _requested_parts(ctx: S3Context) -> list[tuple[int, str]]:
    """(part number, ETag) of the CompleteMultipartUpload body, checked to be ascending."""
    body = await ctx.read_body(MAX_COMPLETE_BYTES)
    shape = s3_operation("CompleteMultipartUpload").input_shape.members["MultipartUpload"]
    try:
        parsed = parse_s3_input_xml(shape, body, max_bytes=MAX_COMPLETE_BYTES)
    except MalformedXML:
        raise errors.MalformedXML() from None
    parts = [(int(p.get("PartNumber", 0)), str(p.get("ETag", "")).strip().strip('"'))
             for p in parsed.get("Parts", [])]
    if not parts:
        raise errors.MalformedXML()
    numbers = [number for number, _ in parts]
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        raise errors.InvalidPartOrder()
    return parts


def _chosen(stored: Mapping[int, UploadPart], wanted: Sequence[tuple[int, str]]
            ) -> list[UploadPart]:
    chosen = []
    for number, etag in wanted:
        part = stored.get(number)
        if part is None or part.etag.strip('"') != etag:
            raise errors.InvalidPart(PartNumber=str(number), ETag=etag)
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART:
            raise errors.EntityTooSmall(ProposedSize=str(part.size), MinSizeAllowed=str(MIN_PART))
    return chosen


def _parts(session: Session, upload_id: str) -> dict[int, UploadPart]:
    rows = session.scalars(select(UploadPart).where(UploadPart.upload_id == upload_id))
    return {part.part_number: part for part in rows}


def _object_checksum(upload: MultipartUpload, parts: Sequence[UploadPart]) -> str | None:
    """The checksum S3 gives a multipart object: COMPOSITE, the checksum of the part checksums
    ``base64(h(c1‖c2‖…))-N``; FULL_OBJECT, the CRC of the whole object (combined from the
    parts' CRCs and sizes)."""
    algorithm = upload.checksum_algorithm
    if algorithm is None or any(part.checksum_value is None for part in parts):
        return None
    digests = [base64.b64decode(part.checksum_value or "") for part in parts]
    if upload.checksum_type == "FULL_OBJECT":
        whole = 0
        for part, digest in zip(parts, digests, strict=True):
            whole = crc_combine(algorithm, whole, int.from_bytes(digest, "big"), part.size)
        return base64.b64encode(whole.to_bytes(len(digests[0]), "big")).decode()
    hasher = new_hasher(algorithm)
    for digest in digests:
        hasher.update(digest)
    return f"{base64.b64encode(hasher.digest()).decode()}-{len(parts)}"


def _check_declared(declared: tuple[str, str] | None, checksum: str | None) -> None:
    """An ``x-amz-checksum-*`` on CompleteMultipartUpload must be the object's checksum (with or
    without its ``-N``)."""
    if declared is None:
        return
    if checksum is None or declared[1] not in (checksum, checksum.rpartition("-")[0]):
        raise errors.BadDigest(f"The {declared[0].lower()} you specified did not match the "
                               f"calculated checksum.")


def _multipart_etag(parts: Sequence[UploadPart]) -> str:
    digest = hashlib.md5(b"".join(bytes.fromhex(p.etag.strip('"')) for p in parts))
    return f'"{digest.hexdigest()}-{len(parts)}"'


@route("POST", "object", "uploadId")
async def complete_multipart_upload(ctx: S3Context) -> S3Reply:
    wanted = await _requested_parts(ctx)
    with ctx.sessions() as session:
        try:
            upload = _upload(session, ctx)
        except errors.NoSuchUpload:
            done = store.latest(session, ctx.bucket, ctx.key)
            if done is None or done.upload_id != ctx.query.get("uploadId"):
                raise
            return _completed(ctx, done)  # a repeated Complete answers as the first did
        chosen = _chosen(_parts(session, upload.upload_id), wanted)
    blob_ids = [part.blob_id for part in chosen]
    info = await run_in_threadpool(ctx.blobs.concatenate, blob_ids)
    checksum = _object_checksum(upload, chosen)
    _check_declared(declared_checksum(ctx.headers, parts_suffix=True), checksum)
    row_fields: dict[str, Any] = {
        "bucket": ctx.bucket, "key": ctx.key, "blob_id": info.blob_id, "size": info.size,
        "etag": _multipart_etag(chosen), "owner_account_id": upload.owner_account_id,
        "headers": upload.headers, "user_metadata": upload.user_metadata, "acl": upload.acl,
        "tags": upload.tags,
        "checksum_algorithm": upload.checksum_algorithm if checksum else None,
        "checksum_value": checksum, "upload_id": upload.upload_id,
        "parts": json.dumps([[part.size, part.etag, part.checksum_value,
                               *([part.sse_nonce] if upload.sse else [])] for part in chosen]),
        "storage_class": upload.storage_class, "sse": upload.sse, "sse_key": upload.sse_key,
        "lock_mode": upload.lock_mode, "lock_until": upload.lock_until,
        "legal_hold": upload.legal_hold}

    def install(session: Session) -> tuple[list[str], S3Object]:
        current = _upload(session, ctx)
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        parts = _parts(session, current.upload_id)
        if [part.blob_id for part in _chosen(parts, wanted)] != blob_ids:
            raise errors.InvalidPart()  # a part was replaced while we concatenated
        session.execute(delete(UploadPart).where(UploadPart.upload_id == current.upload_id))
        session.delete(current)
        row = S3Object(**row_fields)
        freed = store.install(session, bucket, row)
        return freed + [part.blob_id for part in parts.values()], row

    try:
        freed, row = store.with_retry(ctx.sessions, install)
    except BaseException:
        ctx.blobs.delete(info.blob_id)
        raise
    for blob in freed:
        ctx.blobs.delete(blob)
    return _completed(ctx, row)


def _completed(ctx: S3Context, row: S3Object) -> S3Reply:
    checksum = row.checksum_value if row.checksum_algorithm else None
    data: dict[str, Any] = {
        "Location": f"{str(ctx.request.base_url).rstrip('/')}/{ctx.bucket}/{quote(ctx.key)}",
        "Bucket": ctx.bucket, "Key": ctx.key, "ETag": row.etag,
        **checksum_fields(row.checksum_algorithm, checksum)}
    if checksum:
        data["ChecksumType"] = checksum_type(checksum)
    if row.version_id != store.NULL_VERSION:
        data["VersionId"] = row.version_id
    if row.sse is not None and row.sse != encryption.SSE_C:
        data |= encryption.reply_members(row.sse, None, stored_bytes.key_ref(
            ctx, row.sse, row.sse_key, row.owner_account_id))
    return xml_reply("CompleteMultipartUpload", data)


def abort_upload(session: Session, upload: MultipartUpload) -> list[str]:
    """Remove an upload and its parts (AbortMultipartUpload, the lifecycle job); the blobs to
    free once the caller has committed."""
    blobs = [part.blob_id for part in _parts(session, upload.upload_id).values()]
    session.execute(delete(UploadPart).where(UploadPart.upload_id == upload.upload_id))
    session.delete(upload)
    return blobs


@route("DELETE", "object", "uploadId")
async def abort_multipart_upload(ctx: S3Context) -> S3Reply:

    def abort(session: Session) -> list[str]:
        return abort_upload(session, _upload(session, ctx))

    for blob in store.with_retry(ctx.sessions, abort):
        ctx.blobs.delete(blob)
    return S3Reply(204)


@route("GET", "object", "uploadId")
async def list_parts(ctx: S3Context) -> S3Reply:
    marker = _int_param(ctx.query, "part-number-marker", 0, MAX_PARTS)
    limit = _int_param(ctx.query, "max-parts", MAX_LISTED, MAX_LISTED)
    with ctx.sessions() as session:
        upload = _upload(session, ctx)
        rows = session.scalars(
            select(UploadPart).where(UploadPart.upload_id == upload.upload_id,
                                     UploadPart.part_number > marker)
            .order_by(UploadPart.part_number).limit(limit + 1)).all()
        owner = owner_of(session, upload.owner_account_id)
    shown, truncated = rows[:limit], len(rows) > limit
    parts = [{"PartNumber": p.part_number, "LastModified": p.last_modified, "ETag": p.etag,
              "Size": p.size, **checksum_fields(upload.checksum_algorithm, p.checksum_value)}
             for p in shown]
    data: dict[str, Any] = {
        "Bucket": ctx.bucket, "Key": ctx.key, "UploadId": upload.upload_id,
        "PartNumberMarker": marker, "MaxParts": limit, "IsTruncated": truncated,
        "Parts": parts, "Initiator": owner, "Owner": owner,
        "StorageClass": storage_classes.name(upload.storage_class)}
    if shown:
        data["NextPartNumberMarker"] = shown[-1].part_number
    if upload.checksum_algorithm:
        data |= {"ChecksumAlgorithm": upload.checksum_algorithm,
                 "ChecksumType": upload.checksum_type or "COMPOSITE"}
    return xml_reply("ListParts", data)


def _after_markers(session: Session, bucket: str, key_marker: str, id_marker: str) -> Any:
    """The SQL condition for uploads listed after (key-marker, upload-id-marker)."""
    if not key_marker:
        return MultipartUpload.bucket == bucket
    after_key = MultipartUpload.key > key_marker
    marker = session.get(MultipartUpload, id_marker) if id_marker else None
    if marker is None or marker.key != key_marker:
        return after_key
    same_key_later = and_(MultipartUpload.key == key_marker, or_(
        MultipartUpload.initiated > marker.initiated,
        and_(MultipartUpload.initiated == marker.initiated,
             MultipartUpload.upload_id > marker.upload_id)))
    return or_(after_key, same_key_later)


def _group(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix ``key`` rolls up into, if any."""
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


@route("GET", "bucket", "uploads")
async def list_multipart_uploads(ctx: S3Context) -> S3Reply:
    q = ctx.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker, id_marker = q.get("key-marker", ""), q.get("upload-id-marker", "")
    limit = _int_param(q, "max-uploads", MAX_LISTED, MAX_LISTED)
    encode = q.get("encoding-type") == "url"
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
        rows = session.scalars(
            select(MultipartUpload)
            .where(MultipartUpload.bucket == ctx.bucket,
                   MultipartUpload.key.startswith(prefix, autoescape=True),
                   _after_markers(session, ctx.bucket, key_marker, id_marker))
            .order_by(MultipartUpload.key, MultipartUpload.initiated, MultipartUpload.upload_id)
        ).all()
        owners = {r.owner_account_id: owner_of(session, r.owner_account_id) for r in rows}
    uploads: list[MultipartUpload] = []
    prefixes: list[str] = []
    truncated, last = False, ("", "")
    for row in rows:
        group = _group(row.key, prefix, delimiter)
        if group is not None and (group in prefixes[-1:] or group <= key_marker):
            continue
        if len(uploads) + len(prefixes) >= limit:
            truncated = True
            break
        if group is not None:
            prefixes.append(group)
            last = (group, "")
        else:
            uploads.append(row)
            last = (row.key, row.upload_id)
    text = (lambda s: quote(s, safe="/")) if encode else (lambda s: s)
    data: dict[str, Any] = {
        "Bucket": ctx.bucket, "KeyMarker": text(key_marker), "UploadIdMarker": id_marker,
        "Prefix": text(prefix), "MaxUploads": limit, "IsTruncated": truncated,
        "Uploads": [{"UploadId": u.upload_id, "Key": text(u.key), "Initiated": u.initiated,
                     "StorageClass": storage_classes.name(u.storage_class),
                     "Owner": owners[u.owner_account_id],
                     "Initiator": owners[u.owner_account_id],
                     **({"ChecksumAlgorithm": u.checksum_algorithm}
                        if u.checksum_algorithm else {})} for u in uploads],
        "CommonPrefixes": [{"Prefix": text(p)} for p in prefixes]}
    if delimiter:
        data["Delimiter"] = text(delimiter)
    if truncated:
        data |= {"NextKeyMarker": text(last[0]), "NextUploadIdMarker": last[1]}
    if encode:
        data["EncodingType"] = "url"
    return xml_reply("ListMultipartUploads", data)
