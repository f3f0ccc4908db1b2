"""PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy (the JSON text is kept as sent)."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from controller.db.engine import transaction
from controller.db.models import Bucket
from controller.s3 import errors, policy, public_rules
from controller.s3.access import owned_bucket
from controller.s3.context import S3Context, S3Reply
from controller.s3.headers import content_md5
from controller.s3.routes import route


def _policy_bucket(session: Session, ctx: S3Context) -> Bucket:
    """The bucket, if the caller may manage its policy: only identities of the owning account
    may, even when the policy allows others (405, as on AWS; 403 without the permission)."""
    bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    if ctx.principal is None or ctx.principal.account_id != bucket.account_id:
        raise errors.MethodNotAllowed()
    return bucket


@route("PUT", "bucket", "policy")
async def put_bucket_policy(ctx: S3Context) -> S3Reply:
    body = await ctx.read_body(policy.MAX_POLICY_BYTES + 1)
    md5 = content_md5(ctx.headers)
    if md5 is not None and hashlib.md5(body).hexdigest() != md5:
        raise errors.BadDigest()
    with transaction(ctx.sessions) as session:
        bucket = _policy_bucket(session, ctx)
        try:
            text = body.decode("utf-8")
            policy.parse(text, bucket.name)
        except UnicodeDecodeError:
            raise errors.MalformedPolicy("This policy contains invalid Json") from None
        except policy.MalformedPolicy as exc:
            raise errors.MalformedPolicy(exc.message) from None
        public_rules.check_policy_allowed(bucket, text)
        bucket.policy = text
    return S3Reply(204)


@route("GET", "bucket", "policy")
async def get_bucket_policy(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = _policy_bucket(session, ctx)
    if bucket.policy is None:
        raise errors.NoSuchBucketPolicy(BucketName=ctx.bucket)
    return S3Reply(200, [("Content-Type", "application/json")], bucket.policy.encode())


@route("DELETE", "bucket", "policy")
async def delete_bucket_policy(ctx: S3Context) -> S3Reply:
    with transaction(ctx.sessions) as session:
        bucket = _policy_bucket(session, ctx)
        bucket.policy = None
    return S3Reply(204)
