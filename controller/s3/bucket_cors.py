"""PutBucketCors, GetBucketCors, DeleteBucketCors (``Bucket.cors``), and the OPTIONS preflight.

The preflight is anonymous by design (browsers never sign it): it reads the bucket's CORS
configuration and nothing else, so it does not go through the access checks.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller.db.engine import transaction
from controller.db.models import Bucket
from controller.s3 import cors, errors
from controller.s3.access import owned_bucket
from controller.s3.bodies import read_config
from controller.s3.context import S3Context, S3Reply
from controller.s3.replies import xml_reply
from controller.s3.routes import route


@route("PUT", "bucket", "cors")
async def put_bucket_cors(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
    config = await read_config(ctx, "PutBucketCors", "CORSConfiguration")
    cors.check_configuration(config)
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.cors = json.dumps(config)
    return S3Reply(200)


@route("GET", "bucket", "cors")
async def get_bucket_cors(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    if not bucket.cors:
        raise errors.NoSuchCORSConfiguration(BucketName=ctx.bucket)
    return xml_reply("GetBucketCors", json.loads(bucket.cors))


@route("DELETE", "bucket", "cors")
async def delete_bucket_cors(ctx: S3Context) -> S3Reply:
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.cors = None
    return S3Reply(204)


def cors_configuration(sessions: sessionmaker[Session], bucket: str) -> dict[str, Any] | None:
    """The bucket's CORS configuration; None when it has none or does not exist."""
    with sessions() as session:
        stored = session.scalar(select(Bucket.cors).where(Bucket.name == bucket))
    return dict(json.loads(stored)) if stored else None


@route("OPTIONS", "bucket")
async def preflight_bucket(ctx: S3Context) -> S3Reply:
    return _preflight(ctx, "BUCKET")


@route("OPTIONS", "object")
async def preflight_object(ctx: S3Context) -> S3Reply:
    return _preflight(ctx, "OBJECT")


def _preflight(ctx: S3Context, resource_type: str) -> S3Reply:
    origin = ctx.headers.get("origin")
    if origin is None:
        raise errors.BadRequest("Insufficient information. Origin request header needed.")
    method = ctx.headers.get("access-control-request-method")
    if method not in cors.METHODS:
        raise errors.BadRequest(f"Invalid Access-Control-Request-Method: {method}")
    with ctx.sessions() as session:
        bucket = session.get(Bucket, ctx.bucket)
    if bucket is None:
        raise errors.NoSuchBucket(BucketName=ctx.bucket)
    config = json.loads(bucket.cors) if bucket.cors else None
    headers = cors.preflight(config, origin, method,
                             ctx.headers.get("access-control-request-headers"), resource_type)
    return S3Reply(200, headers, b"")
