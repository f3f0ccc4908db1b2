"""PutBucketLifecycleConfiguration (and the legacy PutBucketLifecycle), GetBucketLifecycle-
Configuration, DeleteBucketLifecycle. The job that applies the rules is ``lifecycle_job.py``."""

from __future__ import annotations

from controller.db.engine import transaction
from controller.s3 import errors
from controller.s3.access import owned_bucket
from controller.s3.bodies import read_config
from controller.s3.context import S3Context, S3Reply
from controller.s3.lifecycle_config import from_json, to_json, validate
from controller.s3.lifecycle_rules import ALL_128K, MIN_SIZE_HEADER, MIN_SIZE_POLICIES
from controller.s3.replies import xml_reply
from controller.s3.routes import route

MAX_BODY = 2 * 1024 * 1024  # 1,000 rules with And filters of ten tags fit


@route("PUT", "bucket", "lifecycle")
async def put_bucket_lifecycle_configuration(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
    size_policy = ctx.headers.get(MIN_SIZE_HEADER, ALL_128K)
    if size_policy not in MIN_SIZE_POLICIES:
        raise errors.InvalidArgument(f"Invalid value for {MIN_SIZE_HEADER}",
                                     ArgumentName=MIN_SIZE_HEADER, ArgumentValue=size_policy)
    parsed = await read_config(ctx, "PutBucketLifecycleConfiguration", "LifecycleConfiguration",
                               MAX_BODY)
    stored = to_json({**validate(parsed), "TransitionDefaultMinimumObjectSize": size_policy})
    with transaction(ctx.sessions) as session:
        owned_bucket(session, ctx.bucket, ctx.principal).lifecycle = stored
    return xml_reply("PutBucketLifecycleConfiguration",
                     {"TransitionDefaultMinimumObjectSize": size_policy})


@route("GET", "bucket", "lifecycle")
async def get_bucket_lifecycle_configuration(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        stored = owned_bucket(session, ctx.bucket, ctx.principal).lifecycle
    if stored is None:
        raise errors.NoSuchLifecycleConfiguration(BucketName=ctx.bucket)
    # The policy is answered as a header (configurations stored before it was kept: S3's
    # default, which is what they were applied with).
    return xml_reply("GetBucketLifecycleConfiguration",
                     {"TransitionDefaultMinimumObjectSize": ALL_128K, **from_json(stored)})


@route("DELETE", "bucket", "lifecycle")
async def delete_bucket_lifecycle(ctx: S3Context) -> S3Reply:
    with transaction(ctx.sessions) as session:
        owned_bucket(session, ctx.bucket, ctx.principal).lifecycle = None
    return S3Reply(204)
