"""S3 access control lists, pure: canned ACLs, ``x-amz-grant-*`` headers, ``AccessControlPolicy``
bodies, the stored JSON form, and whether a list grants a permission.

A stored ACL is a JSON list of botocore-shaped grants (``{"Grantee": {"Type": "CanonicalUser",
"ID": ...} | {"Type": "Group", "URI": ...}, "Permission": ...}``); ``NULL`` means the default
private ACL (the owner has FULL_CONTROL). Canonical user ids are resolved by the caller through
``known_ids`` so this module touches no database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GROUPS = "http://acs.amazonaws.com/groups/"
ALL_USERS = GROUPS + "global/AllUsers"
AUTHENTICATED_USERS = GROUPS + "global/AuthenticatedUsers"
LOG_DELIVERY = GROUPS + "s3/LogDelivery"
KNOWN_GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)

PERMISSIONS = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")
CANNED = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
          "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write")
GRANT_HEADERS = {"x-amz-grant-read": "READ", "x-amz-grant-write": "WRITE",
                 "x-amz-grant-read-acp": "READ_ACP", "x-amz-grant-write-acp": "WRITE_ACP",
                 "x-amz-grant-full-control": "FULL_CONTROL"}

Grant = dict[str, Any]
KnownIds = Callable[[str], bool]
"""Whether a canonical user id belongs to an account."""


class AclError(Exception):
    """A client mistake in an ACL; ``code`` names the S3 error class to answer."""

    def __init__(self, code: str, message: str | None = None, **extra: str) -> None:
        super().__init__(message or code)
        self.code, self.message, self.extra = code, message, extra


def user(canonical_id: str, permission: str) -> Grant:
    return {"Grantee": {"Type": "CanonicalUser", "ID": canonical_id}, "Permission": permission}


def group(uri: str, permission: str) -> Grant:
    return {"Grantee": {"Type": "Group", "URI": uri}, "Permission": permission}


def canned(name: str, owner: str, bucket_owner: str | None = None) -> list[Grant]:
    """The grants of a canned ACL; ``owner`` and ``bucket_owner`` are canonical user ids.
    The owner's FULL_CONTROL comes last, after the grants the canned name adds (the order S3
    implementations list them in, which conformance suites index into)."""
    grants: list[Grant] = []
    if name in ("public-read", "public-read-write"):
        grants.append(group(ALL_USERS, "READ"))
    if name == "public-read-write":
        grants.append(group(ALL_USERS, "WRITE"))
    elif name == "authenticated-read":
        grants.append(group(AUTHENTICATED_USERS, "READ"))
    elif name == "log-delivery-write":
        grants += [group(LOG_DELIVERY, "WRITE"), group(LOG_DELIVERY, "READ_ACP")]
    elif name in ("bucket-owner-read", "bucket-owner-full-control"):
        if bucket_owner is not None and bucket_owner != owner:
            perm = "READ" if name == "bucket-owner-read" else "FULL_CONTROL"
            grants.append(user(bucket_owner, perm))
    elif name not in CANNED:
        raise AclError("InvalidArgument", None, ArgumentName="x-amz-acl", ArgumentValue=name)
    return [*grants, user(owner, "FULL_CONTROL")]


_PAIR = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^,\s]+))\s*(?:,|$)')


def parse_grant_header(value: str, permission: str, known_ids: KnownIds) -> list[Grant]:
    """``id="…", uri="…", emailAddress="…"`` of one ``x-amz-grant-*`` header."""
    grants: list[Grant] = []
    pos = 0
    text = value.strip()
    while pos < len(text):
        match = _PAIR.match(text, pos)
        if match is None or match.end() == pos:
            raise AclError("InvalidArgument", "Invalid grant header format",
                           ArgumentName=permission, ArgumentValue=value)
        kind, grantee = match.group(1).lower(), match.group(2) or match.group(3) or ""
        pos = match.end()
        if kind == "id":
            _check_id(grantee, known_ids)
            grants.append(user(grantee, permission))
        elif kind == "uri":
            _check_uri(grantee)
            grants.append(group(grantee, permission))
        elif kind == "emailaddress":
            raise AclError("UnresolvableGrantByEmailAddress")
        else:
            raise AclError("InvalidArgument", "Argument format not recognized",
                           ArgumentName=permission, ArgumentValue=value)
    if not grants:
        raise AclError("InvalidArgument", "Argument format not recognized",
                       ArgumentName=permission, ArgumentValue=value)
    return grants


def _check_id(canonical_id: str, known_ids: KnownIds) -> None:
    if not known_ids(canonical_id):
        raise AclError("InvalidArgument", "Invalid id", ArgumentName="CanonicalUser/ID",
                       ArgumentValue=canonical_id)


def _check_uri(uri: str) -> None:
    if uri not in KNOWN_GROUPS:
        raise AclError("InvalidArgument", "Invalid group uri", ArgumentName="Group/URI",
                       ArgumentValue=uri)


@dataclass(frozen=True)
class Requested:
    """How a request asks for an ACL: a canned name, grant headers, or neither."""

    canned: str | None
    grants: list[Grant] | None

    @property
    def given(self) -> bool:
        return self.canned is not None or self.grants is not None


def from_headers(headers: Mapping[str, str], known_ids: KnownIds) -> Requested:
    """The ACL ``x-amz-acl`` or ``x-amz-grant-*`` headers ask for (not both)."""
    name = headers.get("x-amz-acl")
    granted = [(h, p) for h, p in GRANT_HEADERS.items() if h in headers]
    if name is not None and granted:
        raise AclError("InvalidRequest",
                       "Specifying both Canned ACLs and Header Grants is not allowed")
    if name is not None:
        name = name.strip()
        if name not in CANNED:
            raise AclError("InvalidArgument", None, ArgumentName="x-amz-acl",
                           ArgumentValue=name)
        return Requested(name, None)
    if not granted:
        return Requested(None, None)
    grants: list[Grant] = []
    for header, permission in granted:
        grants += parse_grant_header(headers[header], permission, known_ids)
    return Requested(None, grants)


def resolve(requested: Requested, owner: str, bucket_owner: str | None = None) -> list[Grant]:
    """The grants to store for what the request asked; grant headers replace the whole list
    (the owner keeps no implicit entry, as on AWS)."""
    if requested.grants is not None:
        return requested.grants
    return canned(requested.canned or "private", owner, bucket_owner)


def from_policy_document(parsed: Mapping[str, Any], owner: str,
                         known_ids: KnownIds) -> list[Grant]:
    """The grants of an ``AccessControlPolicy`` body parsed by the botocore shape; its Owner
    must be the resource's owner (``AccessDenied`` otherwise)."""
    doc_owner = parsed.get("Owner")
    if not isinstance(doc_owner, Mapping) or not doc_owner.get("ID"):
        raise AclError("MalformedACLError")
    if doc_owner["ID"] != owner:
        raise AclError("AccessDenied")
    grants: list[Grant] = []
    for grant in parsed.get("Grants") or []:
        grants.append(_grant_of(grant, known_ids))
    return grants


def _grant_of(grant: Mapping[str, Any], known_ids: KnownIds) -> Grant:
    permission = grant.get("Permission")
    grantee = grant.get("Grantee")
    if permission not in PERMISSIONS or not isinstance(grantee, Mapping):
        raise AclError("MalformedACLError")
    kind = grantee.get("Type")
    if kind == "CanonicalUser" and grantee.get("ID"):
        _check_id(str(grantee["ID"]), known_ids)
        return user(str(grantee["ID"]), str(permission))
    if kind == "Group" and grantee.get("URI"):
        _check_uri(str(grantee["URI"]))
        return group(str(grantee["URI"]), str(permission))
    if kind == "AmazonCustomerByEmail" and grantee.get("EmailAddress"):
        raise AclError("UnresolvableGrantByEmailAddress")
    raise AclError("MalformedACLError")


def dump(grants: Sequence[Grant]) -> str:
    return json.dumps(list(grants), separators=(",", ":"))


def load(stored: str | None, owner: str) -> list[Grant]:
    """The stored grants; ``None`` is the private default of ``owner``."""
    if stored is None:
        return [user(owner, "FULL_CONTROL")]
    grants: list[Grant] = json.loads(stored)
    return grants


def is_owner_only(grants: Sequence[Grant], owner: str, bucket_owner: str | None = None) -> bool:
    """Whether nobody but the owner (and the bucket owner) holds anything: what is left of an
    ACL once ACLs are disabled (``private`` and ``bucket-owner-full-control``)."""
    allowed = {owner, bucket_owner}
    return all(g["Grantee"].get("Type") == "CanonicalUser" and g["Grantee"].get("ID") in allowed
               and g["Permission"] == "FULL_CONTROL" for g in grants)


@dataclass(frozen=True)
class Caller:
    """Who asks, as an ACL sees it: a canonical user id, or ``None`` when anonymous."""

    canonical_id: str | None


def allows(grants: Sequence[Grant], caller: Caller, permission: str) -> bool:
    """Whether a grant gives ``caller`` the permission (FULL_CONTROL implies every one)."""
    for grant in grants:
        if grant["Permission"] not in (permission, "FULL_CONTROL"):
            continue
        grantee = grant["Grantee"]
        if grantee.get("Type") == "CanonicalUser":
            if caller.canonical_id is not None and grantee.get("ID") == caller.canonical_id:
                return True
        elif grantee.get("URI") == ALL_USERS or grantee.get("URI") == AUTHENTICATED_USERS and caller.canonical_id is not None:
            return True
    return False
