"""ACL logic: canned ACLs, grant headers, AccessControlPolicy documents, permission checks."""

from __future__ import annotations

import pytest

from controller.s3 import acl

OWNER = "a" * 64
BUCKET_OWNER = "b" * 64
OTHER = "c" * 64
KNOWN = {OWNER, BUCKET_OWNER, OTHER}


def known(canonical_id: str) -> bool:
    return canonical_id in KNOWN


def perms(grants: list[acl.Grant]) -> list[tuple[str, str]]:
    return [(g["Grantee"].get("ID") or g["Grantee"]["URI"].rsplit("/", 1)[1], g["Permission"])
            for g in grants]


@pytest.mark.parametrize(("name", "expected"), [
    ("private", [("a" * 64, "FULL_CONTROL")]),
    ("public-read", [("a" * 64, "FULL_CONTROL"), ("AllUsers", "READ")]),
    ("public-read-write", [("a" * 64, "FULL_CONTROL"), ("AllUsers", "READ"),
                           ("AllUsers", "WRITE")]),
    ("authenticated-read", [("a" * 64, "FULL_CONTROL"), ("AuthenticatedUsers", "READ")]),
    ("aws-exec-read", [("a" * 64, "FULL_CONTROL")]),
    ("bucket-owner-read", [("a" * 64, "FULL_CONTROL"), ("b" * 64, "READ")]),
    ("bucket-owner-full-control", [("a" * 64, "FULL_CONTROL"), ("b" * 64, "FULL_CONTROL")]),
    ("log-delivery-write", [("a" * 64, "FULL_CONTROL"), ("LogDelivery", "WRITE"),
                            ("LogDelivery", "READ_ACP")]),
])
def test_canned_expansions(name: str, expected: list[tuple[str, str]]) -> None:
    """The same grants, the owner's last (as S3 implementations list them)."""
    assert perms(acl.canned(name, OWNER, BUCKET_OWNER)) == [*expected[1:], expected[0]]


def test_bucket_owner_canned_acls_add_nothing_when_the_writer_owns_the_bucket() -> None:
    assert perms(acl.canned("bucket-owner-full-control", OWNER, OWNER)) == [
        (OWNER, "FULL_CONTROL")]


def test_unknown_canned_acl_is_invalid_argument() -> None:
    with pytest.raises(acl.AclError) as err:
        acl.from_headers({"x-amz-acl": "public"}, known)
    assert err.value.code == "InvalidArgument"
    assert err.value.extra == {"ArgumentName": "x-amz-acl", "ArgumentValue": "public"}


def test_grant_headers_parse_ids_and_uris() -> None:
    wanted = acl.from_headers({
        "x-amz-grant-read": f'id="{OTHER}", uri="{acl.ALL_USERS}"',
        "x-amz-grant-full-control": f"id={OWNER}"}, known)
    assert wanted.canned is None
    assert perms(wanted.grants or []) == [(OTHER, "READ"), ("AllUsers", "READ"),
                                          (OWNER, "FULL_CONTROL")]


def test_grant_header_with_email_is_unresolvable() -> None:
    with pytest.raises(acl.AclError) as err:
        acl.from_headers({"x-amz-grant-write": 'emailAddress="x@example.com"'}, known)
    assert err.value.code == "UnresolvableGrantByEmailAddress"


@pytest.mark.parametrize("value", [f'id="{"d" * 64}"', 'uri="http://example.com/group"',
                                   'nonsense="x"', "", "id"])
def test_bad_grant_headers_are_invalid_argument(value: str) -> None:
    with pytest.raises(acl.AclError) as err:
        acl.from_headers({"x-amz-grant-read": value}, known)
    assert err.value.code == "InvalidArgument"


def test_canned_and_grant_headers_together_are_refused() -> None:
    with pytest.raises(acl.AclError) as err:
        acl.from_headers({"x-amz-acl": "private", "x-amz-grant-read": f'id="{OTHER}"'}, known)
    assert err.value.code == "InvalidRequest"


def test_no_headers_ask_for_nothing() -> None:
    assert not acl.from_headers({}, known).given


def _doc(owner: str, *grants: dict[str, object]) -> dict[str, object]:
    return {"Owner": {"ID": owner}, "Grants": list(grants)}


def test_policy_document_grants() -> None:
    doc = _doc(OWNER, {"Grantee": {"Type": "CanonicalUser", "ID": OTHER}, "Permission": "WRITE"},
               {"Grantee": {"Type": "Group", "URI": acl.AUTHENTICATED_USERS},
                "Permission": "READ_ACP"})
    assert perms(acl.from_policy_document(doc, OWNER, known)) == [
        (OTHER, "WRITE"), ("AuthenticatedUsers", "READ_ACP")]


def test_policy_document_of_another_owner_is_access_denied() -> None:
    with pytest.raises(acl.AclError) as err:
        acl.from_policy_document(_doc(OTHER), OWNER, known)
    assert err.value.code == "AccessDenied"


@pytest.mark.parametrize("grant", [
    {"Grantee": {"Type": "CanonicalUser", "ID": OTHER}, "Permission": "EVERYTHING"},
    {"Grantee": {"Type": "CanonicalUser"}, "Permission": "READ"},
    {"Grantee": {"Type": "Group"}, "Permission": "READ"},
    {"Permission": "READ"},
])
def test_malformed_grants(grant: dict[str, object]) -> None:
    with pytest.raises(acl.AclError) as err:
        acl.from_policy_document(_doc(OWNER, grant), OWNER, known)
    assert err.value.code == "MalformedACLError"


def test_document_without_owner_is_malformed() -> None:
    with pytest.raises(acl.AclError) as err:
        acl.from_policy_document({"Grants": []}, OWNER, known)
    assert err.value.code == "MalformedACLError"


def test_document_grant_to_email_or_unknown_id() -> None:
    email = {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@b.c"},
             "Permission": "READ"}
    with pytest.raises(acl.AclError) as err:
        acl.from_policy_document(_doc(OWNER, email), OWNER, known)
    assert err.value.code == "UnresolvableGrantByEmailAddress"
    stranger = {"Grantee": {"Type": "CanonicalUser", "ID": "e" * 64}, "Permission": "READ"}
    with pytest.raises(acl.AclError) as err:
        acl.from_policy_document(_doc(OWNER, stranger), OWNER, known)
    assert err.value.code == "InvalidArgument"


def test_allows_follows_grantees_and_full_control() -> None:
    grants = acl.canned("public-read", OWNER) + [acl.user(OTHER, "WRITE_ACP")]
    anonymous, other, owner = acl.Caller(None), acl.Caller(OTHER), acl.Caller(OWNER)
    assert acl.allows(grants, anonymous, "READ")
    assert not acl.allows(grants, anonymous, "WRITE")
    assert acl.allows(grants, other, "WRITE_ACP")
    assert not acl.allows(grants, other, "READ_ACP")
    assert all(acl.allows(grants, owner, p) for p in acl.PERMISSIONS)


def test_authenticated_users_excludes_anonymous() -> None:
    grants = acl.canned("authenticated-read", OWNER)
    assert acl.allows(grants, acl.Caller(OTHER), "READ")
    assert not acl.allows(grants, acl.Caller(None), "READ")


def test_round_trip_and_private_default() -> None:
    grants = acl.canned("public-read-write", OWNER)
    assert acl.load(acl.dump(grants), OWNER) == grants
    assert acl.load(None, OWNER) == [acl.user(OWNER, "FULL_CONTROL")]


def test_owner_only() -> None:
    assert acl.is_owner_only(acl.canned("private", OWNER), OWNER)
    assert acl.is_owner_only(acl.canned("bucket-owner-full-control", OWNER, BUCKET_OWNER),
                             OWNER, BUCKET_OWNER)
    assert not acl.is_owner_only(acl.canned("public-read", OWNER), OWNER)
