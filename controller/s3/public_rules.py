"""What is public, and the Block Public Access settings (pure; the handlers are in
``public_access.py``).

What counts as public: an ACL grant to the AllUsers or AuthenticatedUsers group; a bucket
policy statement that allows everyone (``"Principal": "*"``, ``{"AWS": "*"}``, or any
``NotPrincipal``) unless a condition pins the caller down (source IP, VPC, account, ARN,
organization). The four settings, stored per bucket as JSON in ``Bucket.public_access_block``:

- ``BlockPublicAcls``: a request that would store a public ACL is refused (AccessDenied);
- ``IgnorePublicAcls``: public ACL grants give no access;
- ``BlockPublicPolicy``: PutBucketPolicy with a public policy is refused (AccessDenied);
- ``RestrictPublicBuckets``: while the policy is public, it grants nothing to callers outside
  the bucket owner's account.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from controller.db.models import Bucket
from controller.s3 import acl, errors, policy

SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
PUBLIC_GROUPS = frozenset((acl.ALL_USERS, acl.AUTHENTICATED_USERS))
# Condition keys that limit a statement to known callers: such a statement is not public.
_PINNING_KEYS = frozenset(("aws:sourceip", "aws:sourcevpc", "aws:sourcevpce",
                           "aws:sourceaccount", "aws:sourcearn", "aws:sourceowner",
                           "aws:principalaccount", "aws:principalarn", "aws:principalorgid",
                           "aws:userid", "aws:username"))


def settings_of(bucket: Bucket) -> dict[str, bool]:
    stored: dict[str, bool] = json.loads(bucket.public_access_block or "{}")
    return {name: bool(stored.get(name, False)) for name in SETTINGS}


def is_public_grant(grant: acl.Grant) -> bool:
    return grant.get("Grantee", {}).get("URI") in PUBLIC_GROUPS


def has_public_grant(grants: Sequence[acl.Grant]) -> bool:
    return any(is_public_grant(grant) for grant in grants)


def _statement_is_public(statement: policy.Statement) -> bool:
    if statement.effect != "Allow":
        return False
    everyone = statement.principals is None or any(
        kind in ("AWS", "*") and value == "*" for kind, value in statement.principals)
    if not everyone:
        return False
    keys = {key.lower() for block in statement.conditions.values() for key in block}
    return not keys & _PINNING_KEYS


def policy_is_public(text: str | None, bucket_name: str) -> bool:
    if not text:
        return False
    try:
        statements = policy.parse(text, bucket_name)
    except policy.MalformedPolicy:
        return False
    return any(_statement_is_public(statement) for statement in statements)


def bucket_is_public(bucket: Bucket) -> bool:
    """Policy status: the bucket policy, or the bucket ACL, grants everyone access."""
    grants = json.loads(bucket.acl) if bucket.acl else []
    return policy_is_public(bucket.policy, bucket.name) or has_public_grant(grants)


def check_acl_allowed(bucket: Bucket, grants: Sequence[acl.Grant]) -> None:
    """BlockPublicAcls: refuse storing a public ACL."""
    if settings_of(bucket)["BlockPublicAcls"] and has_public_grant(grants):
        raise errors.AccessDenied()


def check_policy_allowed(bucket: Bucket, text: str) -> None:
    """BlockPublicPolicy: refuse storing a public policy."""
    if settings_of(bucket)["BlockPublicPolicy"] and policy_is_public(text, bucket.name):
        raise errors.AccessDenied()
