"""Who may do what to a bucket. For now: the owning account only (ACLs and policies come next)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from controller.db.models import Account, Bucket
from controller.identity.authenticate import Principal
from controller.s3 import errors


def caller(principal: Principal | None) -> Principal:
    """The authenticated caller; anonymous requests are refused until ACLs can grant them."""
    if principal is None:
        raise errors.AccessDenied()
    return principal


def owned_bucket(session: Session, name: str, principal: Principal | None) -> Bucket:
    """The bucket, if the caller may use it: NoSuchBucket, or AccessDenied for others' buckets."""
    bucket = session.get(Bucket, name)
    if bucket is None:
        raise errors.NoSuchBucket(BucketName=name)
    if principal is None or bucket.account_id != principal.account_id:
        raise errors.AccessDenied()
    return bucket


def owner_of(session: Session, account_id: str) -> dict[str, str]:
    """The ``Owner`` element S3 shows: canonical user id and display name."""
    account = session.get_one(Account, account_id)
    return {"ID": account.canonical_user_id, "DisplayName": account.name}
