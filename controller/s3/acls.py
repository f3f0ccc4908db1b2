"""GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.db.engine import transaction
from controller.db.models import Account, Bucket, S3Object
from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import parse_s3_input_xml
from controller.s3 import acl, errors, public_rules
from controller.s3.access import (
    ENFORCED,
    authorize,
    canonical_of,
    current_facts,
    known_ids,
    owned_bucket,
    owner_of,
)
from controller.s3.acl_requests import requested, s3_error
from controller.s3.context import S3Context, S3Reply
from controller.s3.objects import find_object
from controller.s3.operation_actions import versioned
from controller.s3.replies import xml_reply
from controller.s3.routes import route

MAX_ACL_BYTES = 64 * 1024


def _shown(session: Session, owner_account: str, stored: str | None) -> dict[str, Any]:
    """The ``AccessControlPolicy`` of a resource: its owner and grants, with display names."""
    owner = owner_of(session, owner_account)
    grants = acl.load(stored, owner["ID"])
    names: dict[str, str] = {}
    for grant in grants:
        grantee = grant["Grantee"]
        if grantee.get("Type") == "CanonicalUser":
            account = _account_of(session, str(grantee["ID"]))
            if account is not None:
                names[str(grantee["ID"])] = owner_of(session, account)["DisplayName"]
    shown = [{"Grantee": {**g["Grantee"], **({"DisplayName": names[g["Grantee"]["ID"]]}
                                             if g["Grantee"].get("ID") in names else {})},
              "Permission": g["Permission"]} for g in grants]
    return {"Owner": owner, "Grants": shown}


def _account_of(session: Session, canonical_id: str) -> str | None:
    return session.scalar(select(Account.id).where(Account.canonical_user_id == canonical_id))


def _wanted_grants(ctx: S3Context, session_owner: tuple[Session, str],
                         bucket_owner: str | None, body: bytes) -> list[acl.Grant]:
    """The grants a PutBucketAcl/PutObjectAcl asks for: by body, canned name or grant headers."""
    session, owner = session_owner
    wanted = requested(session, ctx.headers)
    if wanted.given and body.strip():
        raise errors.UnexpectedContent()
    if wanted.given:
        return acl.resolve(wanted, owner, bucket_owner)
    if not body.strip():
        raise errors.MissingSecurityHeader(MissingHeaderName="x-amz-acl")
    shape = s3_operation("PutBucketAcl").input_shape.members["AccessControlPolicy"]
    try:
        parsed = parse_s3_input_xml(shape, body, max_bytes=MAX_ACL_BYTES)
        return acl.from_policy_document(parsed, owner, known_ids(session))
    except MalformedXML:
        raise errors.MalformedACLError() from None
    except acl.AclError as exc:
        raise s3_error(exc) from None


def _check_enforced(ownership: str | None, grants: list[acl.Grant], owner: str,
                    bucket_owner: str) -> None:
    if ownership == ENFORCED and not acl.is_owner_only(grants, owner, bucket_owner):
        raise errors.AccessControlListNotSupported()


@route("GET", "bucket", "acl")
async def get_bucket_acl(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        stored = None if bucket.ownership == ENFORCED else bucket.acl
        data = _shown(session, bucket.account_id, stored)
    return xml_reply("GetBucketAcl", data)


@route("PUT", "bucket", "acl")
async def put_bucket_acl(ctx: S3Context) -> S3Reply:
    body = await ctx.read_body(MAX_ACL_BYTES)
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        owner = canonical_of(session, bucket.account_id)
        grants = _wanted_grants(ctx, (session, owner), None, body)
        _check_enforced(bucket.ownership, grants, owner, owner)
        public_rules.check_acl_allowed(bucket, grants)
        bucket.acl = acl.dump(grants)
    return S3Reply(200)


@route("GET", "object", "acl")
async def get_object_acl(ctx: S3Context) -> S3Reply:
    row, _ = find_object(ctx, "s3:GetObjectAcl")
    with ctx.sessions() as session:
        bucket = session.get_one(Bucket, ctx.bucket)
        enforced = bucket.ownership == ENFORCED
        owner_account = bucket.account_id if enforced else row.owner_account_id
        data = _shown(session, owner_account, None if enforced else row.acl)
    headers = [] if row.version_id == "null" else [("x-amz-version-id", row.version_id)]
    reply = xml_reply("GetObjectAcl", data)
    reply.headers += headers
    return reply


@route("PUT", "object", "acl")
async def put_object_acl(ctx: S3Context) -> S3Reply:
    body = await ctx.read_body(MAX_ACL_BYTES)
    row, _ = find_object(ctx, "s3:PutObjectAcl")
    with transaction(ctx.sessions) as session:
        bucket = session.get_one(Bucket, ctx.bucket)
        current = session.get(S3Object, row.id)
        if current is None:
            raise errors.NoSuchKey(Key=ctx.key)
        action = versioned("s3:PutObjectAcl", ctx.query.get("versionId"))
        authorize(session, ctx.principal, bucket, action, current_facts(), current)
        owner = canonical_of(session, current.owner_account_id)
        bucket_owner = canonical_of(session, bucket.account_id)
        grants = _wanted_grants(ctx, (session, owner), bucket_owner, body)
        _check_enforced(bucket.ownership, grants, owner, bucket_owner)
        public_rules.check_acl_allowed(bucket, grants)
        current.acl = acl.dump(grants)
    reply = S3Reply(200)
    if row.version_id != "null":
        reply.headers.append(("x-amz-version-id", row.version_id))
    return reply
