"""Who may do what to a bucket or an object: the one place S3 requests are authorized.

:func:`authorize` combines the bucket policy (explicit Deny wins; the bucket owner keeps
Get/Put/DeleteBucketPolicy), the owners (the bucket owner's account may do anything to its bucket
and to the objects it owns; an object's owner may read it and its ACL) and the ACLs (READ, WRITE,
READ_ACP, WRITE_ACP, FULL_CONTROL; off under ``BucketOwnerEnforced``). A missing bucket is
``NoSuchBucket`` before anything is checked; a refusal is ``AccessDenied``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.db.models import Account, Bucket, S3Object, User
from controller.db.reader import reading
from controller.identity.authenticate import Principal
from controller.s3 import acl, errors, policy, public_rules
from controller.s3.context import S3Context
from controller.s3.operation_actions import ACL_PERMISSIONS, POLICY_ACTIONS, action_for

__all__ = ["RequestFacts", "action_for", "authorize", "bind", "caller", "owned_bucket",
           "owner_of"]

ENFORCED = "BucketOwnerEnforced"


@dataclass(frozen=True)
class RequestFacts:
    """What conditions may look at, taken from the HTTP request once."""

    source_ip: str = ""
    secure: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    now: float = field(default_factory=time.time)


@dataclass(frozen=True)
class _Bound:
    facts: RequestFacts
    action: str | None
    key: str | None


_request: ContextVar[_Bound | None] = ContextVar("s3_request", default=None)


def bind(facts: RequestFacts, action: str | None, key: str | None) -> None:
    """Remember the current request: its facts, its action and key (for :func:`owned_bucket`
    callers that name neither)."""
    _request.set(_Bound(facts, action, key))


def current_facts() -> RequestFacts:
    bound = _request.get()
    return bound.facts if bound is not None else RequestFacts()


def bound_action() -> str | None:
    """The IAM action of the current request (None outside one, or for unknown routes)."""
    bound = _request.get()
    return bound.action if bound is not None else None


def caller(principal: Principal | None) -> Principal:
    """The authenticated caller, for operations no grant opens to anonymous requests."""
    if principal is None:
        raise errors.AccessDenied()
    return principal


def owned_bucket(session: Session, name: str, principal: Principal | None) -> Bucket:
    """The bucket, if the caller may do the current request's operation to it (the bucket
    owner, or whoever the bucket policy allows): NoSuchBucket, or AccessDenied."""
    bound = _request.get() or _Bound(RequestFacts(), None, None)
    return checked_bucket(session, name, principal, bound.action or "s3:*owner-only",
                          bound.facts, bound.key)


def checked_bucket(session: Session, name: str, principal: Principal | None, action: str,
                   facts: RequestFacts, key: str | None = None) -> Bucket:
    bucket = session.get(Bucket, name)
    if bucket is None:
        raise errors.NoSuchBucket(BucketName=name)
    authorize(session, principal, bucket, action, facts, key=key)
    return bucket


SessionSource = Session | Callable[[], Session]
"""A session, or what opens one: most checks (the bucket owner's own requests) need none."""


def _opened(source: SessionSource) -> Session:
    return source if isinstance(source, Session) else source()


def authorize(session: SessionSource, principal: Principal | None, bucket: Bucket, action: str,
              facts: RequestFacts, obj: S3Object | None = None, key: str | None = None) -> None:
    """Raise AccessDenied unless the caller may do ``action`` (``s3:GetObject``, ...) to the
    bucket, or to its object ``obj`` / key ``key``. Policies and ACLs read accounts and users
    through ``session``, which is opened only then when it is a factory."""
    if not _allowed(session, principal, bucket, action, facts, obj, key):
        raise errors.AccessDenied()


def _allowed(session: SessionSource, principal: Principal | None, bucket: Bucket, action: str,
             facts: RequestFacts, obj: S3Object | None, key: str | None) -> bool:
    expected = facts.headers.get("x-amz-expected-bucket-owner")
    if expected is not None and expected != bucket.account_id:
        return False
    account = principal.account_id if principal is not None else None
    is_bucket_owner = account == bucket.account_id
    verdict = policy.Verdict.NONE
    if bucket.policy is not None:
        verdict = _policy_verdict(_opened(session), principal, bucket, action, facts, obj, key)
    if verdict is policy.Verdict.DENY:
        return is_bucket_owner and action in POLICY_ACTIONS
    if (verdict is policy.Verdict.ALLOW and not is_bucket_owner
            and public_rules.settings_of(bucket)["RestrictPublicBuckets"]
            and public_rules.policy_is_public(bucket.policy, bucket.name)):
        verdict = policy.Verdict.NONE  # a public policy grants nothing outside the account
    enforced = bucket.ownership == ENFORCED
    bucket_owns_object = obj is None or obj.owner_account_id == bucket.account_id or enforced
    if is_bucket_owner and (bucket_owns_object or action not in _OBJECT_READS):
        return True
    if obj is not None and account == obj.owner_account_id and action in _OBJECT_READS:
        return True
    if verdict is policy.Verdict.ALLOW and bucket_owns_object:
        return True
    return not enforced and _acl_allows(session, principal, bucket, action, obj)


_OBJECT_READS = frozenset(a for a, (level, _) in ACL_PERMISSIONS.items() if level == "object")


def _acl_allows(source: SessionSource, principal: Principal | None, bucket: Bucket, action: str,
                obj: S3Object | None) -> bool:
    wanted = ACL_PERMISSIONS.get(action)
    if wanted is None:
        return False
    level, permission = wanted
    if level == "object":
        if obj is None:
            return False
        stored, owner = obj.acl, obj.owner_account_id
    else:
        stored, owner = bucket.acl, bucket.account_id
    if stored is None:
        return False  # the private default: only the owner, handled before
    session = _opened(source)
    who = acl.Caller(canonical_of(session, principal.account_id) if principal else None)
    grants = acl.load(stored, canonical_of(session, owner))
    if public_rules.settings_of(bucket)["IgnorePublicAcls"]:
        grants = [g for g in grants if not public_rules.is_public_grant(g)]
    return acl.allows(grants, who, permission)


def _policy_verdict(session: Session, principal: Principal | None, bucket: Bucket, action: str,
                    facts: RequestFacts, obj: S3Object | None, key: str | None) -> policy.Verdict:
    try:
        statements = policy.parse(bucket.policy or "", bucket.name)
    except policy.MalformedPolicy:
        return policy.Verdict.NONE  # stored policies were validated; never fail open or 500
    who = policy.Who()
    user_name = None
    if principal is not None:
        user = session.get(User, principal.user_id)
        user_name = user.name if user is not None else None
        who = policy.Who(principal.account_id, canonical_of(session, principal.account_id),
                         f"arn:aws:iam::{principal.account_id}:user/{user_name}")
    name = key if key is not None else (obj.key if obj is not None else None)
    resource = f"arn:aws:s3:::{bucket.name}" + (f"/{name}" if name is not None else "")
    context = condition_context(facts, principal, user_name, action, obj)
    return policy.evaluate(statements, who, action, resource, context)


def condition_context(facts: RequestFacts, principal: Principal | None, user_name: str | None,
                      action: str, obj: S3Object | None) -> dict[str, list[str]]:
    """The request's condition keys, normalized (see ``policy_conditions.normalize_key``)."""
    moment = datetime.fromtimestamp(facts.now, UTC)
    ctx: dict[str, list[str]] = {
        "aws:securetransport": ["true" if facts.secure else "false"],
        "aws:currenttime": [moment.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:epochtime": [str(int(facts.now))],
    }
    if facts.source_ip:
        ctx["aws:sourceip"] = [facts.source_ip]
    headers, query = facts.headers, facts.query
    for key, header in (("aws:referer", "referer"), ("aws:useragent", "user-agent")):
        if header in headers:
            ctx[key] = [headers[header]]
    if principal is not None:
        ctx |= {"aws:principalaccount": [principal.account_id],
                "aws:principaltype": ["User"], "aws:userid": [principal.user_id],
                "aws:principalarn": [f"arn:aws:iam::{principal.account_id}:user/{user_name}"]}
        if user_name is not None:
            ctx["aws:username"] = [user_name]
    else:
        ctx["aws:principaltype"] = ["Anonymous"]
    if action in ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"):
        ctx["s3:prefix"] = [query.get("prefix", "")]
        for name in ("delimiter", "max-keys"):
            if name in query:
                ctx[f"s3:{name}"] = [query[name]]
    if "versionId" in query:
        ctx["s3:versionid"] = [query["versionId"]]
    for header in ("x-amz-acl", "x-amz-copy-source", "x-amz-metadata-directive",
                   "x-amz-server-side-encryption", "x-amz-storage-class", "x-amz-content-sha256",
                   "x-amz-server-side-encryption-customer-algorithm",
                   "x-amz-server-side-encryption-aws-kms-key-id", *acl.GRANT_HEADERS):
        if header in headers:
            ctx[f"s3:{header}"] = [headers[header]]
    if obj is not None and obj.tags:
        tags: dict[str, str] = json.loads(obj.tags)
        ctx |= {f"s3:existingobjecttag/{k}": [v] for k, v in tags.items()}
    return ctx


def canonical_of(session: SessionSource, account_id: str) -> str:
    account = _opened(session).get_one(Account, account_id)
    return account.canonical_user_id


def known_ids(session: SessionSource) -> acl.KnownIds:
    """Whether a canonical user id belongs to an account (for grants that name one)."""
    def known(canonical_id: str) -> bool:
        return _opened(session).scalar(select(Account.id).where(
            Account.canonical_user_id == canonical_id)) is not None
    return known


def owner_of(session: Session, account_id: str) -> dict[str, str]:
    """The ``Owner`` element S3 shows: canonical user id and display name."""
    account = session.get_one(Account, account_id)
    return {"ID": account.canonical_user_id, "DisplayName": account.name}


def bucket_for(session: Session, ctx: S3Context, action: str, key: str | None = None) -> Bucket:
    """The request's bucket, if the caller may do ``action`` to it (or to its key ``key``)."""
    return checked_bucket(session, ctx.bucket, ctx.principal, action, current_facts(), key)


def bucket_view(session: Session, ctx: S3Context, action: str, key: str | None = None) -> Bucket:
    """:func:`bucket_for` for readers on the hot path: the bucket comes as a detached copy,
    read by a prepared statement in the session's transaction; never change it."""
    from controller.s3 import lookup

    bucket = lookup.bucket(session, ctx.bucket)
    if bucket is None:
        raise errors.NoSuchBucket(BucketName=ctx.bucket)
    authorize(session, ctx.principal, bucket, action, current_facts(), key=key)
    return bucket


def peeked_bucket(session: SessionSource, ctx: S3Context, action: str,
                  key: str | None = None) -> Bucket:
    """:func:`bucket_view` outside any transaction: the bucket is read on a pooled connection
    of its own, and ``session`` (best a :class:`~controller.db.engine.LazySession`) serves only
    the policy and ACL checks that need one. For checks before a write's body is received; the
    write checks again in its own transaction."""
    from controller.s3 import lookup

    with reading(ctx.engine) as reader:
        bucket = lookup.bucket(reader, ctx.bucket)
    if bucket is None:
        raise errors.NoSuchBucket(BucketName=ctx.bucket)
    authorize(session, ctx.principal, bucket, action, current_facts(), key=key)
    return bucket


def writer_account(principal: Principal | None, bucket: Bucket) -> str:
    """Who owns what a request writes: the caller's account; an anonymous write (allowed by a
    public-read-write grant or a policy) belongs to the bucket owner."""
    return principal.account_id if principal is not None else bucket.account_id


def existing_bucket(session: Session, name: str) -> Bucket:
    """The bucket, unchecked (the caller authorizes per key): NoSuchBucket if there is none."""
    bucket = session.get(Bucket, name)
    if bucket is None:
        raise errors.NoSuchBucket(BucketName=name)
    return bucket
