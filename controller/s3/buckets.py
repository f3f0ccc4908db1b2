"""ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from controller.db.engine import transaction
from controller.db.models import Bucket, MultipartUpload, S3Object
from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import parse_s3_input_xml
from controller.s3 import errors
from controller.s3.access import caller, owned_bucket, owner_of
from controller.s3.acl_requests import new_bucket_acl
from controller.s3.context import S3Context, S3Reply
from controller.s3.listing import decode_token, encode_token
from controller.s3.locks import ENABLED, is_requested_at_creation
from controller.s3.replies import xml_reply
from controller.s3.routes import route

_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
MAX_CONFIG_BYTES = 64 * 1024


def check_bucket_name(name: str) -> None:
    """AWS's rules for new bucket names (general purpose buckets)."""
    bad = (
        not _NAME.fullmatch(name)
        or ".." in name or ".-" in name or "-." in name
        or name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
        or _is_ip(name)
    )
    if bad:
        raise errors.InvalidBucketName(BucketName=name)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


MAX_BUCKETS = 10_000


def _max_buckets(query: Mapping[str, str]) -> int | None:
    value = query.get("max-buckets")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_BUCKETS):
        raise errors.InvalidArgument(f"max-buckets must be an integer between 1 and "
                                     f"{MAX_BUCKETS}", ArgumentName="max-buckets",
                                     ArgumentValue=value[:32])
    return int(value)


@route("GET", "service")
async def list_buckets(ctx: S3Context) -> S3Reply:
    """The caller's buckets in name order, whole or paged (``max-buckets``,
    ``continuation-token``), optionally only those under ``prefix`` or in ``bucket-region``."""
    principal = caller(ctx.principal)
    q = ctx.query
    limit = _max_buckets(q)
    prefix = q.get("prefix", "")
    where = [Bucket.account_id == principal.account_id]
    if prefix:
        where.append(Bucket.name.startswith(prefix, autoescape=True))
    if "bucket-region" in q:
        where.append(Bucket.region == q["bucket-region"])
    if q.get("continuation-token"):
        where.append(Bucket.name > decode_token(q["continuation-token"]))
    statement = select(Bucket).where(*where).order_by(Bucket.name)
    if limit is not None:
        statement = statement.limit(limit + 1)
    with ctx.sessions() as session:
        rows = list(session.scalars(statement).all())
        owner = owner_of(session, principal.account_id)
    data: dict[str, Any] = {"Owner": owner}
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        data["ContinuationToken"] = encode_token(rows[-1].name)
    if prefix:
        data["Prefix"] = prefix
    data["Buckets"] = [{"Name": b.name, "CreationDate": b.created_at, "BucketRegion": b.region}
                       for b in rows]
    return xml_reply("ListBuckets", data)


async def _location(ctx: S3Context) -> str:
    body = await ctx.read_body(MAX_CONFIG_BYTES)
    if not body.strip():
        return ""
    shape = s3_operation("CreateBucket").input_shape.members["CreateBucketConfiguration"]
    try:
        config = parse_s3_input_xml(shape, body)
    except MalformedXML:
        raise errors.MalformedXML() from None
    return str(config.get("LocationConstraint") or "")


@route("PUT", "bucket")
async def create_bucket(ctx: S3Context) -> S3Reply:
    principal = caller(ctx.principal)
    check_bucket_name(ctx.bucket)
    region = ctx.settings.region
    location = await _location(ctx)
    if location and location != region:
        raise errors.IllegalLocationConstraintException(
            f"The {location} location constraint is incompatible for the region specific "
            f"endpoint this request was sent to.")
    if location and region == "us-east-1":
        raise errors.InvalidLocationConstraint()
    try:
        with transaction(ctx.sessions) as session:
            existing = session.get(Bucket, ctx.bucket)
            stored_acl, ownership = new_bucket_acl(session, principal.account_id, ctx.headers)
            if existing is not None:
                _already(existing, principal.account_id, ctx.bucket, region)
                existing.acl = stored_acl  # us-east-1's legacy re-create: 200, ACL reset
                return S3Reply(200, [("Location", f"/{ctx.bucket}")])
            locked = is_requested_at_creation(ctx.headers)
            session.add(Bucket(name=ctx.bucket, account_id=principal.account_id, region=region,
                               acl=stored_acl, ownership=ownership,
                               versioning="Enabled" if locked else None,
                               object_lock=ENABLED if locked else None))
    except IntegrityError:
        raise errors.BucketAlreadyExists(BucketName=ctx.bucket) from None
    return S3Reply(200, [("Location", f"/{ctx.bucket}")])


def _already(existing: Bucket, account_id: str, name: str, region: str) -> None:
    """Refuse to create an existing bucket, except the owner's re-create in us-east-1, which
    S3 answers 200 OK for legacy compatibility (resetting the bucket's ACL)."""
    if existing.account_id != account_id:
        raise errors.BucketAlreadyExists(BucketName=name)
    if region != "us-east-1" or existing.region != region:
        raise errors.BucketAlreadyOwnedByYou(BucketName=name)


@route("DELETE", "bucket")
async def delete_bucket(ctx: S3Context) -> S3Reply:
    """A bucket with objects (versions, delete markers) is not empty; multipart uploads still in
    progress do not count: they are aborted with the bucket, as S3 does."""
    from controller.s3.multipart import abort_upload

    freed: list[str] = []
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        if session.scalar(select(exists().where(S3Object.bucket == bucket.name))):
            raise errors.BucketNotEmpty(BucketName=bucket.name)
        uploads = session.scalars(
            select(MultipartUpload).where(MultipartUpload.bucket == bucket.name)).all()
        for upload in uploads:
            freed += abort_upload(session, upload)
        session.delete(bucket)
    if ctx.logs is not None:
        ctx.logs.configure(ctx.bucket, None)  # a new bucket of this name starts unlogged
    for blob in freed:
        ctx.blobs.delete(blob)
    return S3Reply(204)


@route("HEAD", "bucket")
async def head_bucket(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    return S3Reply(200, [("x-amz-bucket-region", bucket.region)])


@route("GET", "bucket", "location")
async def get_bucket_location(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    location = "" if bucket.region == "us-east-1" else bucket.region
    return xml_reply("GetBucketLocation", {"LocationConstraint": location})
