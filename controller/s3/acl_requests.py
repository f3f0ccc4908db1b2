"""The ACL a write asks for (``x-amz-acl`` / ``x-amz-grant-*`` on CreateBucket, PutObject,
CopyObject, CreateMultipartUpload), checked against the bucket's object ownership setting, and
who owns the object written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from controller.db.models import Bucket
from controller.s3 import acl, errors, public_rules
from controller.s3.access import ENFORCED, SessionSource, canonical_of, known_ids

OWNERSHIPS = ("BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced")


def s3_error(exc: acl.AclError) -> errors.S3Error:
    """The S3 error an :class:`acl.AclError` names."""
    kind: type[errors.S3Error] = getattr(errors, exc.code)
    return kind(exc.message, **exc.extra)


def requested(session: SessionSource, headers: Mapping[str, str]) -> acl.Requested:
    try:
        return acl.from_headers(headers, known_ids(session))
    except acl.AclError as exc:
        raise s3_error(exc) from None


def check_allowed_when_enforced(ownership: str | None, wanted: acl.Requested,
                                kind: type[errors.S3Error]) -> None:
    """Under BucketOwnerEnforced only ``private`` and ``bucket-owner-full-control`` pass."""
    if ownership != ENFORCED or not wanted.given:
        return
    if wanted.canned not in ("private", "bucket-owner-full-control"):
        raise kind()


@dataclass(frozen=True)
class NewObject:
    """Who owns an object being written, and its stored ACL (None: private default)."""

    owner_account_id: str
    acl: str | None


def new_object(session: SessionSource, bucket: Bucket, writer_account: str,
               headers: Mapping[str, str]) -> NewObject:
    wanted = requested(session, headers)
    check_allowed_when_enforced(bucket.ownership, wanted, errors.AccessControlListNotSupported)
    owner = writer_account
    if bucket.ownership == ENFORCED or (bucket.ownership == "BucketOwnerPreferred"
                                        and wanted.canned == "bucket-owner-full-control"):
        owner = bucket.account_id
    if not wanted.given or bucket.ownership == ENFORCED:
        return NewObject(owner, None)
    grants = acl.resolve(wanted, canonical_of(session, owner),
                         canonical_of(session, bucket.account_id))
    public_rules.check_acl_allowed(bucket, grants)
    return NewObject(owner, acl.dump(grants))


def new_bucket_acl(session: Session, account_id: str,
                   headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(stored ACL, ownership) for CreateBucket from its ACL and ``x-amz-object-ownership``."""
    ownership = headers.get("x-amz-object-ownership")
    if ownership is not None and ownership not in OWNERSHIPS:
        raise errors.InvalidArgument("Invalid x-amz-object-ownership header",
                                     ArgumentName="x-amz-object-ownership",
                                     ArgumentValue=ownership)
    wanted = requested(session, headers)
    if ownership == ENFORCED and wanted.given and wanted.canned != "private":
        raise errors.InvalidBucketAclWithObjectOwnership()
    if not wanted.given:
        return None, ownership
    owner = canonical_of(session, account_id)
    return acl.dump(acl.resolve(wanted, owner)), ownership
