"""Bucket policy validation (AWS's MalformedPolicy messages) and evaluation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.s3.policy import MalformedPolicy, Verdict, Who, evaluate, parse

BUCKET = "bkt"
ACCOUNT = "111122223333"
OTHER = "444455556666"
CANONICAL = "f" * 64
ANONYMOUS = Who()


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def verdict(text: str, who: Who = ANONYMOUS, action: str = "s3:GetObject", key: str | None = "k",
            context: dict[str, list[str]] | None = None) -> Verdict:
    resource = f"arn:aws:s3:::{BUCKET}" + (f"/{key}" if key is not None else "")
    return evaluate(parse(text, BUCKET), who, action, resource, context or {})


# --- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "This policy contains invalid Json"),
    ("[]", "This policy contains invalid Json"),
    (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
    (doc(stmt(Effect=None)), "Missing required field Effect"),
    (doc(stmt(Effect="Maybe")), "Invalid effect: Maybe"),
    (doc(stmt(Action=None)), "Missing required field Action"),
    (doc(stmt(Resource=None)), "Missing required field Resource"),
    (doc(stmt(Principal=None)), "Missing required field Principal"),
    (doc(stmt(Action="s3:GetObjekt")), "Policy has invalid action"),
    (doc(stmt(Action="ec2:RunInstances")), "Policy has invalid action"),
    (doc(stmt(Resource="arn:aws:s3:::otherbucket/*")), "Policy has invalid resource"),
    (doc(stmt(Resource="arn:aws:s3:::bkt2")), "Policy has invalid resource"),
    (doc(stmt(Principal={"AWS": "bob"})), "Invalid principal in policy"),
    (doc(stmt(Principal={"AWS": "arn:aws:iam::12:root"})), "Invalid principal in policy"),
    (doc(stmt(Principal={"Service": "s3.amazonaws.com"})), "Invalid principal in policy"),
    (doc(stmt(Principal={"CanonicalUser": "abc"})), "Invalid principal in policy"),
    (doc(stmt(Principal="someone")), "Invalid principal in policy"),
    (doc(stmt(Condition={"StringEqualz": {"aws:Referer": "x"}})),
     "Invalid Condition type : StringEqualz"),
    (doc(stmt(Resource=f"arn:aws:s3:::{BUCKET}")),
     "Action does not apply to any resource(s) in statement"),
    (json.dumps({"Version": "2012-10-17", "Statement": [], "Extra": 1}), "Unknown field extra"),
    (json.dumps({"Version": "2001-01-01", "Statement": [stmt()]}),
     "Policy has an invalid version"),
])
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(MalformedPolicy) as err:
        parse(text, BUCKET)
    assert err.value.message == message


def test_valid_forms() -> None:
    parse(doc(stmt(Action=["s3:Get*", "s3:ListBucket"],
                   Resource=[f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                   Principal={"AWS": [ACCOUNT, f"arn:aws:iam::{OTHER}:root"]}),
              stmt(Action=None, NotAction="s3:PutObject", Principal={"CanonicalUser": CANONICAL}),
              stmt(Action="*", Principal={"AWS": "*"},
                   Condition={"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"},
                              "ForAnyValue:StringLike": {"s3:prefix": ["a*"]}})), BUCKET)
    parse(json.dumps({"Statement": stmt()}), BUCKET)  # one statement, no Version


# --- evaluation -------------------------------------------------------------------------------

def test_principal_star_allows_anonymous_and_everyone() -> None:
    text = doc(stmt())
    assert verdict(text) is Verdict.ALLOW
    assert verdict(text, Who(OTHER, CANONICAL)) is Verdict.ALLOW
    assert verdict(doc(stmt(Principal={"AWS": "*"}))) is Verdict.ALLOW


@pytest.mark.parametrize("principal", [
    {"AWS": OTHER}, {"AWS": f"arn:aws:iam::{OTHER}:root"}, {"AWS": [ACCOUNT, OTHER]},
    {"CanonicalUser": CANONICAL}, {"AWS": f"arn:aws:iam::{OTHER}:user/alice"},
])
def test_account_principals(principal: dict[str, Any]) -> None:
    text = doc(stmt(Principal=principal))
    who = Who(OTHER, CANONICAL, f"arn:aws:iam::{OTHER}:user/alice")
    assert verdict(text, who) is Verdict.ALLOW
    assert verdict(text, Who("999999999999", "0" * 64, "arn:aws:iam::999999999999:user/x")
                   ) is Verdict.NONE
    assert verdict(text) is Verdict.NONE  # anonymous


def test_not_principal() -> None:
    text = doc(stmt(Effect="Deny", Principal=None, NotPrincipal={"AWS": ACCOUNT}))
    assert verdict(text, Who(ACCOUNT)) is Verdict.NONE
    assert verdict(text, Who(OTHER)) is Verdict.DENY
    assert verdict(text) is Verdict.DENY


def test_deny_wins_over_allow() -> None:
    text = doc(stmt(), stmt(Effect="Deny", Resource=f"arn:aws:s3:::{BUCKET}/secret/*"))
    assert verdict(text, key="public/a") is Verdict.ALLOW
    assert verdict(text, key="secret/a") is Verdict.DENY


def test_actions_wildcards_and_case() -> None:
    text = doc(stmt(Action=["S3:get*", "s3:List?ucket"],
                    Resource=[f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]))
    assert verdict(text, action="s3:GetObjectAcl") is Verdict.ALLOW
    assert verdict(text, action="s3:ListBucket", key=None) is Verdict.ALLOW
    assert verdict(text, action="s3:PutObject") is Verdict.NONE


def test_not_action_and_not_resource() -> None:
    text = doc(stmt(Action=None, NotAction="s3:Delete*"))
    assert verdict(text, action="s3:PutObject") is Verdict.ALLOW
    assert verdict(text, action="s3:DeleteObject") is Verdict.NONE
    text = doc(stmt(Resource=None, NotResource=f"arn:aws:s3:::{BUCKET}/private/*"))
    assert verdict(text, key="x") is Verdict.ALLOW
    assert verdict(text, key="private/x") is Verdict.NONE


def test_resource_patterns() -> None:
    text = doc(stmt(Resource=f"arn:aws:s3:::{BUCKET}/home/?/*"))
    assert verdict(text, key="home/a/file") is Verdict.ALLOW
    assert verdict(text, key="home/ab/file") is Verdict.NONE
    assert verdict(text, key="HOME/a/file") is Verdict.NONE  # resources are case-sensitive
