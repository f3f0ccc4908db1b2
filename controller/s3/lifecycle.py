"""PutBucketLifecycleConfiguration (and the legacy PutBucketLifecycle), GetBucketLifecycle-
Configuration, DeleteBucketLifecycle. The job that applies the rules is ``lifecycle_job.py``."""

from __future__ import annotations

from controller.db.engine import transaction
from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import parse_s3_input_xml
from controller.s3 import errors
from controller.s3.access import owned_bucket
from controller.s3.context import S3Context, S3Reply
from controller.s3.delete_objects import check_integrity
from controller.s3.lifecycle_config import from_json, to_json, validate
from controller.s3.replies import xml_reply
from controller.s3.routes import route

MAX_BODY = 2 * 1024 * 1024  # 1,000 rules with And filters of ten tags fit


@route("PUT", "bucket", "lifecycle")
async def put_bucket_lifecycle_configuration(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
    body = await ctx.read_body(MAX_BODY)
    check_integrity(ctx, body, required=False)
    op = s3_operation("PutBucketLifecycleConfiguration")
    try:
        parsed = parse_s3_input_xml(op.input_shape.members["LifecycleConfiguration"], body,
                                    max_bytes=MAX_BODY)
    except MalformedXML:
        raise errors.MalformedXML() from None
    stored = to_json(validate(parsed))
    with transaction(ctx.sessions) as session:
        owned_bucket(session, ctx.bucket, ctx.principal).lifecycle = stored
    return S3Reply(200)


@route("GET", "bucket", "lifecycle")
async def get_bucket_lifecycle_configuration(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        stored = owned_bucket(session, ctx.bucket, ctx.principal).lifecycle
    if stored is None:
        raise errors.NoSuchLifecycleConfiguration(BucketName=ctx.bucket)
    return xml_reply("GetBucketLifecycleConfiguration", from_json(stored))


@route("DELETE", "bucket", "lifecycle")
async def delete_bucket_lifecycle(ctx: S3Context) -> S3Reply:
    with transaction(ctx.sessions) as session:
        owned_bucket(session, ctx.bucket, ctx.principal).lifecycle = None
    return S3Reply(204)
