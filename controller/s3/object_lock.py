"""Object Lock: Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold
(see ``locks.py`` for what the write and delete paths ask of it, ``object_lock_rules.py`` for
the rules)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from controller.db.engine import transaction
from controller.db.models import Bucket, S3Object
from controller.s3 import errors
from controller.s3 import object_lock_rules as rules
from controller.s3 import objects_store as store
from controller.s3.access import bucket_for, owned_bucket
from controller.s3.bodies import read_config
from controller.s3.context import S3Context, S3Reply
from controller.s3.locks import configuration, lock_of, may_bypass
from controller.s3.replies import xml_reply
from controller.s3.routes import route


@route("PUT", "bucket", "object-lock")
async def put_object_lock_configuration(ctx: S3Context) -> S3Reply:
    config = rules.check_configuration(
        await read_config(ctx, "PutObjectLockConfiguration", "ObjectLockConfiguration"))
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        if bucket.object_lock is None and bucket.versioning != "Enabled":
            raise errors.InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock "
                "configuration")
        bucket.object_lock = json.dumps(config)
    return S3Reply(200)


@route("GET", "bucket", "object-lock")
async def get_object_lock_configuration(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    config = configuration(bucket)
    if config is None:
        raise errors.ObjectLockConfigurationNotFoundError(BucketName=ctx.bucket)
    return xml_reply("GetObjectLockConfiguration", {"ObjectLockConfiguration": config})


def _locked_version(session: Session, ctx: S3Context, action: str) -> tuple[Bucket, S3Object]:
    """The bucket (which must have Object Lock) and the version the request names."""
    bucket = bucket_for(session, ctx, action, ctx.key)
    if bucket.object_lock is None:
        raise errors.InvalidRequest(rules.MISSING_CONFIGURATION)
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
        raise errors.MethodNotAllowed()
    return bucket, row


@route("PUT", "object", "retention")
async def put_object_retention(ctx: S3Context) -> S3Reply:
    retention = await read_config(ctx, "PutObjectRetention", "Retention")
    mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
    if (mode is not None and mode not in rules.MODES) or (mode is None) != (until is None):
        raise errors.MalformedXML()
    now = datetime.now(UTC)
    if isinstance(until, datetime):
        until = rules.as_utc(until)
        if until <= now:
            raise errors.InvalidArgument("The retain until date must be in the future!",
                                         ArgumentName="RetainUntilDate")
    with transaction(ctx.sessions) as session:
        bucket, row = _locked_version(session, ctx, "s3:PutObjectRetention")
        bypass = may_bypass(session, ctx, bucket, ctx.key)
        if not rules.may_change_retention(lock_of(row), mode, until, bypass, now):
            raise errors.AccessDenied(rules.PROTECTED)
        row.lock_mode, row.lock_until = mode, until
    return S3Reply(200)


@route("GET", "object", "retention")
async def get_object_retention(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        _, row = _locked_version(session, ctx, "s3:GetObjectRetention")
    if row.lock_mode is None or row.lock_until is None:
        raise errors.NoSuchObjectLockConfiguration()
    return xml_reply("GetObjectRetention", {"Retention": {
        "Mode": row.lock_mode, "RetainUntilDate": rules.as_utc(row.lock_until)}})


@route("PUT", "object", "legal-hold")
async def put_object_legal_hold(ctx: S3Context) -> S3Reply:
    hold = await read_config(ctx, "PutObjectLegalHold", "LegalHold")
    status = hold.get("Status")
    if status not in rules.HOLDS:
        raise errors.MalformedXML()
    with transaction(ctx.sessions) as session:
        _, row = _locked_version(session, ctx, "s3:PutObjectLegalHold")
        row.legal_hold = status == "ON"
    return S3Reply(200)


@route("GET", "object", "legal-hold")
async def get_object_legal_hold(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        _, row = _locked_version(session, ctx, "s3:GetObjectLegalHold")
    if row.legal_hold is None:
        raise errors.NoSuchObjectLockConfiguration()
    return xml_reply("GetObjectLegalHold",
                     {"LegalHold": {"Status": "ON" if row.legal_hold else "OFF"}})
