"""PutBucketTagging, GetBucketTagging, DeleteBucketTagging (``Bucket.tags``)."""

from __future__ import annotations

from controller.db.engine import transaction
from controller.s3 import errors, tagging
from controller.s3.access import owned_bucket
from controller.s3.bodies import read_config
from controller.s3.context import S3Context, S3Reply
from controller.s3.replies import xml_reply
from controller.s3.routes import route


@route("PUT", "bucket", "tagging")
async def put_bucket_tagging(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
    parsed = await read_config(ctx, "PutBucketTagging", "Tagging")
    tags = tagging.from_tagging(parsed, bucket=True)
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.tags = tagging.dumps(tags)
    return S3Reply(204)


@route("GET", "bucket", "tagging")
async def get_bucket_tagging(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    if not bucket.tags:
        raise errors.NoSuchTagSet(BucketName=ctx.bucket)
    return xml_reply("GetBucketTagging", {"TagSet": tagging.tag_set(bucket.tags)})


@route("DELETE", "bucket", "tagging")
async def delete_bucket_tagging(ctx: S3Context) -> S3Reply:
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.tags = None
    return S3Reply(204)
