"""PutObjectTagging, GetObjectTagging, DeleteObjectTagging: tags of one object version
(``S3Object.tags``), the latest unless ``versionId`` names another."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from controller.db.engine import transaction
from controller.db.models import S3Object
from controller.s3 import errors, tagging
from controller.s3 import objects_store as store
from controller.s3.access import authorize, bound_action, current_facts, existing_bucket
from controller.s3.bodies import read_config
from controller.s3.context import S3Context, S3Reply
from controller.s3.replies import xml_reply
from controller.s3.routes import route


def tagged_version(session: Session, ctx: S3Context) -> S3Object:
    """The version whose tags the request reads or writes, if the caller may (the request's own
    action: ``s3:GetObjectTagging``, ``s3:PutObjectVersionTagging``, ...). A missing key or
    version is NoSuchKey / NoSuchVersion to callers who may list the bucket (AccessDenied to
    others); a delete marker (latest, or named) has no tags: MethodNotAllowed (405)."""
    bucket = existing_bucket(session, ctx.bucket)
    version_id = ctx.query.get("versionId")
    if version_id is not None:
        row = store.version(session, ctx.bucket, ctx.key, version_id)
        missing: errors.S3Error = errors.NoSuchVersion(Key=ctx.key, VersionId=version_id)
    else:
        row = store.latest(session, ctx.bucket, ctx.key)
        missing = errors.NoSuchKey(Key=ctx.key)
    if row is None:
        authorize(session, ctx.principal, bucket, "s3:ListBucket", current_facts())
        raise missing
    authorize(session, ctx.principal, bucket, bound_action() or "s3:GetObjectTagging",
              current_facts(), row)
    if row.delete_marker:
        refused = errors.MethodNotAllowed(Method=ctx.request.method, ResourceType="DeleteMarker")
        refused.headers = {"x-amz-delete-marker": "true", "x-amz-version-id": row.version_id,
                           "Allow": "DELETE"}
        raise refused
    return row


def _version(row: S3Object) -> dict[str, Any]:
    return {"VersionId": row.version_id} if row.version_id != store.NULL_VERSION else {}


@route("PUT", "object", "tagging")
async def put_object_tagging(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        tagged_version(session, ctx)
    parsed = await read_config(ctx, "PutObjectTagging", "Tagging")
    tags = tagging.from_tagging(parsed, bucket=False)
    with transaction(ctx.sessions) as session:
        row = tagged_version(session, ctx)
        row.tags = tagging.dumps(tags)
    return xml_reply("PutObjectTagging", _version(row))


@route("GET", "object", "tagging")
async def get_object_tagging(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        row = tagged_version(session, ctx)
    return xml_reply("GetObjectTagging", {"TagSet": tagging.tag_set(row.tags), **_version(row)})


@route("DELETE", "object", "tagging")
async def delete_object_tagging(ctx: S3Context) -> S3Reply:
    with transaction(ctx.sessions) as session:
        row = tagged_version(session, ctx)
        row.tags = None
    return xml_reply("DeleteObjectTagging", _version(row))
