"""PutBucketOwnershipControls, GetBucketOwnershipControls, DeleteBucketOwnershipControls."""

from __future__ import annotations

from controller.db.engine import transaction
from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import parse_s3_input_xml
from controller.s3 import acl, errors
from controller.s3.access import ENFORCED, canonical_of, owned_bucket
from controller.s3.acl_requests import OWNERSHIPS
from controller.s3.context import S3Context, S3Reply
from controller.s3.replies import xml_reply
from controller.s3.routes import route

MAX_BODY = 16 * 1024


@route("PUT", "bucket", "ownershipControls")
async def put_bucket_ownership_controls(ctx: S3Context) -> S3Reply:
    body = await ctx.read_body(MAX_BODY)
    shape = s3_operation("PutBucketOwnershipControls").input_shape.members["OwnershipControls"]
    try:
        rules = parse_s3_input_xml(shape, body).get("Rules") or []
    except MalformedXML:
        raise errors.MalformedXML() from None
    if len(rules) != 1 or rules[0].get("ObjectOwnership") not in OWNERSHIPS:
        raise errors.MalformedXML()
    setting = str(rules[0]["ObjectOwnership"])
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        if setting == ENFORCED and bucket.acl is not None:
            owner = canonical_of(session, bucket.account_id)
            if not acl.is_owner_only(acl.load(bucket.acl, owner), owner):
                raise errors.InvalidBucketAclWithObjectOwnership()
        bucket.ownership = setting
    return S3Reply(200)


@route("GET", "bucket", "ownershipControls")
async def get_bucket_ownership_controls(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    if bucket.ownership is None:
        raise errors.OwnershipControlsNotFoundError(BucketName=ctx.bucket)
    rules = [{"ObjectOwnership": bucket.ownership}]
    return xml_reply("GetBucketOwnershipControls", {"OwnershipControls": {"Rules": rules}})


@route("DELETE", "bucket", "ownershipControls")
async def delete_bucket_ownership_controls(ctx: S3Context) -> S3Reply:
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.ownership = None
    return S3Reply(204)
