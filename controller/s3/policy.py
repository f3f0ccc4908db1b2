"""S3 bucket policies, pure: validation with AWS's ``MalformedPolicy`` messages, and evaluation
of one request (explicit Deny wins, then Allow, else no opinion)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from controller.s3.policy_conditions import Context, all_hold, like, split_operator

MAX_POLICY_BYTES = 20 * 1024

OBJECT_ACTIONS = frozenset(a.lower() for a in (
    "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersion", "s3:DeleteObjectVersionTagging", "s3:GetObject", "s3:GetObjectAcl",
    "s3:GetObjectAttributes", "s3:GetObjectLegalHold", "s3:GetObjectRetention",
    "s3:GetObjectTagging", "s3:GetObjectTorrent", "s3:GetObjectVersion",
    "s3:GetObjectVersionAcl", "s3:GetObjectVersionAttributes", "s3:GetObjectVersionTagging",
    "s3:GetObjectVersionTorrent", "s3:ListMultipartUploadParts", "s3:PutObject",
    "s3:PutObjectAcl", "s3:PutObjectLegalHold", "s3:PutObjectRetention", "s3:PutObjectTagging",
    "s3:PutObjectVersionAcl", "s3:PutObjectVersionTagging", "s3:RestoreObject",
    "s3:BypassGovernanceRetention", "s3:ReplicateObject", "s3:ReplicateDelete",
    "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner", "s3:PutObjectVersionAcl",
))
BUCKET_ACTIONS = frozenset(a.lower() for a in (
    "s3:CreateBucket", "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:DeleteBucketWebsite",
    "s3:DeleteBucketOwnershipControls", "s3:GetAccelerateConfiguration",
    "s3:GetAnalyticsConfiguration", "s3:GetBucketAcl", "s3:GetBucketCORS",
    "s3:GetBucketLocation", "s3:GetBucketLogging", "s3:GetBucketNotification",
    "s3:GetBucketObjectLockConfiguration", "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy", "s3:GetBucketPolicyStatus", "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketRequestPayment", "s3:GetBucketTagging", "s3:GetBucketVersioning",
    "s3:GetBucketWebsite", "s3:GetEncryptionConfiguration", "s3:GetInventoryConfiguration",
    "s3:GetLifecycleConfiguration", "s3:GetMetricsConfiguration",
    "s3:GetReplicationConfiguration", "s3:ListBucket", "s3:ListBucketMultipartUploads",
    "s3:ListBucketVersions", "s3:PutAccelerateConfiguration", "s3:PutAnalyticsConfiguration",
    "s3:PutBucketAcl", "s3:PutBucketCORS", "s3:PutBucketLogging", "s3:PutBucketNotification",
    "s3:PutBucketObjectLockConfiguration", "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy", "s3:PutBucketPublicAccessBlock", "s3:PutBucketRequestPayment",
    "s3:PutBucketTagging", "s3:PutBucketVersioning", "s3:PutBucketWebsite",
    "s3:PutEncryptionConfiguration", "s3:PutInventoryConfiguration",
    "s3:PutLifecycleConfiguration", "s3:PutMetricsConfiguration",
    "s3:PutReplicationConfiguration", "s3:PutIntelligentTieringConfiguration",
    "s3:GetIntelligentTieringConfiguration",
))
KNOWN_ACTIONS = OBJECT_ACTIONS | BUCKET_ACTIONS
_STATEMENT_FIELDS = {"sid", "effect", "principal", "notprincipal", "action", "notaction",
                     "resource", "notresource", "condition"}
_ACCOUNT = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:aws:iam::(\d{12}):(root|user/.+|role/.+|assumed-role/.+)")
_CANONICAL = re.compile(r"[0-9a-f]{64}")


class MalformedPolicy(Exception):
    """``message`` is AWS's wording for what is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Verdict(Enum):
    DENY = "Deny"
    ALLOW = "Allow"
    NONE = "None"


@dataclass(frozen=True)
class Who:
    """The caller as a policy sees it; all ``None`` when anonymous."""

    account_id: str | None = None
    canonical_id: str | None = None
    user_arn: str | None = None


@dataclass(frozen=True)
class Statement:
    effect: str
    principals: tuple[tuple[str, str], ...] | None  # (kind, value); None: NotPrincipal given
    not_principals: tuple[tuple[str, str], ...] | None
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]]


# --- validation -------------------------------------------------------------------------------

def parse(text: str, bucket: str) -> list[Statement]:
    """The statements of a policy document for ``bucket``, or :class:`MalformedPolicy`."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise MalformedPolicy("Policies must be less than 20 KB")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedPolicy("This policy contains invalid Json") from None
    if not isinstance(doc, dict):
        raise MalformedPolicy("This policy contains invalid Json")
    fields = {k.lower(): v for k, v in doc.items()}
    for name in fields:
        if name not in ("version", "id", "statement"):
            raise MalformedPolicy(f"Unknown field {name}")
    version = fields.get("version", "2008-10-17")
    if version not in ("2008-10-17", "2012-10-17"):
        raise MalformedPolicy("Policy has an invalid version")
    raw = fields.get("statement")
    if raw is None:
        raise MalformedPolicy("Missing required field Statement")
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(item, dict) for item in items):
        raise MalformedPolicy("Missing required field Statement")
    return [_statement(item, bucket) for item in items]


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) for item in items):
        raise MalformedPolicy(f"Invalid {what}")
    return tuple(items)


def _statement(raw: Mapping[str, Any], bucket: str) -> Statement:
    fields = {k.lower(): v for k, v in raw.items()}
    for name in fields:
        if name not in _STATEMENT_FIELDS:
            raise MalformedPolicy(f"Unknown field {name}")
    effect = fields.get("effect")
    if effect is None:
        raise MalformedPolicy("Missing required field Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy(f"Invalid effect: {effect}")
    actions, not_actions = _pair(fields, "action", "Action", _check_action)
    resources, not_resources = _pair(fields, "resource", "Resource",
                                     lambda r: _check_resource(r, bucket))
    if "principal" not in fields and "notprincipal" not in fields:
        raise MalformedPolicy("Missing required field Principal")
    principals = _principals(fields["principal"]) if "principal" in fields else None
    not_principals = (_principals(fields["notprincipal"]) if "notprincipal" in fields
                      else None)
    conditions = _conditions(fields.get("condition", {}))
    statement = Statement(effect, principals, not_principals, actions, not_actions, resources,
                          not_resources, conditions)
    _check_applies(statement)
    return statement


def _pair(fields: Mapping[str, Any], name: str, title: str,
          check: Any) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    plain, negated = fields.get(name), fields.get("not" + name)
    if plain is None and negated is None:
        raise MalformedPolicy(f"Missing required field {title}")
    if plain is not None and negated is not None:
        raise MalformedPolicy(f"Statement can not contain both {title} and Not{title}")
    values = _strings(plain if plain is not None else negated, title.lower())
    for value in values:
        check(value)
    return (values, None) if plain is not None else (None, values)


def _check_action(action: str) -> None:
    if action == "*":
        return
    if not action.lower().startswith("s3:") or not any(
            like(known, action.lower()) for known in KNOWN_ACTIONS):
        raise MalformedPolicy("Policy has invalid action")


def _check_resource(resource: str, bucket: str) -> None:
    arn = f"arn:aws:s3:::{bucket}"
    if resource == "*" or like(arn, resource) or like(arn + "/x", resource) or (
            resource.startswith(arn + "/")):
        return
    raise MalformedPolicy("Policy has invalid resource")


def _principals(value: Any) -> tuple[tuple[str, str], ...]:
    if value == "*":
        return (("*", "*"),)
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy("Invalid principal in policy")
    out: list[tuple[str, str]] = []
    for kind, raw in value.items():
        if kind not in ("AWS", "CanonicalUser"):
            raise MalformedPolicy("Invalid principal in policy")
        for item in raw if isinstance(raw, list) else [raw]:
            if not isinstance(item, str):
                raise MalformedPolicy("Invalid principal in policy")
            if kind == "AWS":
                ok = item == "*" or bool(_ACCOUNT.fullmatch(item) or _IAM_ARN.fullmatch(item))
            else:
                ok = bool(_CANONICAL.fullmatch(item))
            if not ok:
                raise MalformedPolicy("Invalid principal in policy")
            out.append((kind, str(item)))
    return tuple(out)


def _conditions(raw: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    if not isinstance(raw, dict):
        raise MalformedPolicy("Invalid Condition block")
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for operator, block in raw.items():
        if split_operator(operator) is None:
            raise MalformedPolicy(f"Invalid Condition type : {operator}")
        if not isinstance(block, dict) or not block:
            raise MalformedPolicy("Invalid Condition block")
        out[operator] = {}
        for key, values in block.items():
            items = values if isinstance(values, list) else [values]
            if not all(isinstance(v, (str, bool, int, float)) for v in items):
                raise MalformedPolicy("Invalid Condition value")
            out[operator][key] = tuple(_text(v) for v in items)
    return out


def _text(value: str | bool | float) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _check_applies(statement: Statement) -> None:
    """AWS refuses an Action list none of whose actions fits any Resource."""
    if statement.actions is None or statement.resources is None:
        return
    object_ok = any("/" in r or r == "*" or r.endswith("*") for r in statement.resources)
    bucket_ok = any("/" not in r for r in statement.resources)
    for action in statement.actions:
        lowered = action.lower()
        known = [a for a in KNOWN_ACTIONS if lowered == "*" or like(a, lowered)]
        if any((a in OBJECT_ACTIONS and object_ok) or (a in BUCKET_ACTIONS and bucket_ok)
               for a in known):
            return
    raise MalformedPolicy("Action does not apply to any resource(s) in statement")


# --- evaluation -------------------------------------------------------------------------------

def evaluate(statements: Sequence[Statement], who: Who, action: str, resource: str,
             context: Context) -> Verdict:
    verdict = Verdict.NONE
    for statement in statements:
        if not _applies(statement, who, action, resource, context):
            continue
        if statement.effect == "Deny":
            return Verdict.DENY
        verdict = Verdict.ALLOW
    return verdict


def _applies(st: Statement, who: Who, action: str, resource: str, context: Context) -> bool:
    if st.principals is not None and not _principal_matches(st.principals, who):
        return False
    if st.not_principals is not None and _principal_matches(st.not_principals, who):
        return False
    if st.actions is not None and not _any_like(action.lower(), st.actions, lower=True):
        return False
    if st.not_actions is not None and _any_like(action.lower(), st.not_actions, lower=True):
        return False
    if st.resources is not None and not _any_like(resource, st.resources):
        return False
    if st.not_resources is not None and _any_like(resource, st.not_resources):
        return False
    return all_hold(st.conditions, context)


def _any_like(value: str, patterns: Sequence[str], lower: bool = False) -> bool:
    return any(like(value, p.lower() if lower else p) for p in patterns)


def _principal_matches(principals: Sequence[tuple[str, str]], who: Who) -> bool:
    for kind, value in principals:
        if value == "*":
            return True
        if kind == "CanonicalUser":
            if who.canonical_id is not None and value == who.canonical_id:
                return True
        elif who.account_id is not None and value in (
                who.account_id, f"arn:aws:iam::{who.account_id}:root", who.user_arn):
            return True
    return False
