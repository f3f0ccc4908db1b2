"""Put/Get/DeletePublicAccessBlock and GetBucketPolicyStatus (the rules: ``public_rules.py``)."""

from __future__ import annotations

import json
from typing import Any

from controller.db.engine import transaction
from controller.s3 import errors
from controller.s3.access import owned_bucket
from controller.s3.bodies import read_config
from controller.s3.context import S3Context, S3Reply
from controller.s3.public_rules import SETTINGS, bucket_is_public, settings_of
from controller.s3.replies import xml_reply
from controller.s3.routes import route


@route("PUT", "bucket", "publicAccessBlock")
async def put_public_access_block(ctx: S3Context) -> S3Reply:
    config = await read_config(ctx, "PutPublicAccessBlock", "PublicAccessBlockConfiguration")
    stored = {name: bool(config[name]) for name in SETTINGS if name in config}
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.public_access_block = json.dumps(stored)
    return S3Reply(200)


@route("GET", "bucket", "publicAccessBlock")
async def get_public_access_block(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    if bucket.public_access_block is None:
        raise errors.NoSuchPublicAccessBlockConfiguration(BucketName=ctx.bucket)
    data: dict[str, Any] = {"PublicAccessBlockConfiguration": settings_of(bucket)}
    return xml_reply("GetPublicAccessBlock", data)


@route("DELETE", "bucket", "publicAccessBlock")
async def delete_public_access_block(ctx: S3Context) -> S3Reply:
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.public_access_block = None
    return S3Reply(204)


@route("GET", "bucket", "policyStatus")
async def get_bucket_policy_status(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    return xml_reply("GetBucketPolicyStatus", {"PolicyStatus": {"IsPublic": bucket_is_public(
        bucket)}})
