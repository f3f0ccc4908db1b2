"""PutBucketVersioning, GetBucketVersioning."""

from __future__ import annotations

from controller.db.engine import transaction
from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import parse_s3_input_xml
from controller.s3 import errors
from controller.s3.access import owned_bucket
from controller.s3.context import S3Context, S3Reply
from controller.s3.replies import xml_reply
from controller.s3.routes import route

MAX_BODY = 16 * 1024
STATES = ("Enabled", "Suspended")


@route("PUT", "bucket", "versioning")
async def put_bucket_versioning(ctx: S3Context) -> S3Reply:
    body = await ctx.read_body(MAX_BODY)
    shape = s3_operation("PutBucketVersioning").input_shape.members["VersioningConfiguration"]
    try:
        config = parse_s3_input_xml(shape, body)
    except MalformedXML:
        raise errors.MalformedXML() from None
    status = config.get("Status")
    if status not in STATES:
        raise errors.IllegalVersioningConfigurationException(
            "The Versioning element must be specified")
    if config.get("MFADelete") == "Enabled":
        raise errors.NotImplementedError_("MFA Delete is not supported.")
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        if bucket.object_lock is not None and status != "Enabled":
            raise errors.InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning "
                "state cannot be changed.")
        bucket.versioning = status
    return S3Reply(200)


@route("GET", "bucket", "versioning")
async def get_bucket_versioning(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    data = {"Status": bucket.versioning} if bucket.versioning else {}
    return xml_reply("GetBucketVersioning", data)
