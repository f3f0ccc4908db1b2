"""The condition keys a request offers a bucket policy (``access.condition_context``)."""

from __future__ import annotations

import json

from controller.db.models import S3Object
from controller.identity.authenticate import Principal
from controller.s3.access import RequestFacts, condition_context
from controller.s3.policy import Who, evaluate, parse

ALICE = Principal(account_id="111122223333", user_id="u-1", access_key_id="AK",
                  region="us-east-1", service="s3")


def test_signed_listing_request() -> None:
    facts = RequestFacts(source_ip="10.1.2.3", secure=True, now=1_700_000_000,
                         headers={"user-agent": "aws-cli/2", "x-amz-acl": "public-read"},
                         query={"prefix": "logs/", "max-keys": "5"})
    ctx = condition_context(facts, ALICE, "alice", "s3:ListBucket", None)
    assert ctx["aws:sourceip"] == ["10.1.2.3"]
    assert ctx["aws:securetransport"] == ["true"]
    assert ctx["aws:useragent"] == ["aws-cli/2"]
    assert ctx["aws:epochtime"] == ["1700000000"]
    assert ctx["aws:currenttime"] == ["2023-11-14T22:13:20Z"]
    assert ctx["aws:principalaccount"] == ["111122223333"]
    assert ctx["aws:username"] == ["alice"] and ctx["aws:userid"] == ["u-1"]
    assert ctx["s3:prefix"] == ["logs/"] and ctx["s3:max-keys"] == ["5"]
    assert "s3:delimiter" not in ctx
    assert ctx["s3:x-amz-acl"] == ["public-read"]


def test_anonymous_object_request_with_tags_and_version() -> None:
    row = S3Object(key="k", tags=json.dumps({"Team": "blue"}))
    facts = RequestFacts(query={"versionId": "v1"})
    ctx = condition_context(facts, None, None, "s3:GetObjectVersion", row)
    assert ctx["aws:principaltype"] == ["Anonymous"]
    assert "aws:principalaccount" not in ctx and "s3:prefix" not in ctx
    assert ctx["s3:existingobjecttag/Team"] == ["blue"]
    assert ctx["s3:versionid"] == ["v1"]
    text = json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject*",
        "Resource": "arn:aws:s3:::b/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/Team": "blue"}}}]})
    assert evaluate(parse(text, "b"), Who(), "s3:GetObjectVersion", "arn:aws:s3:::b/k",
                    ctx).value == "Allow"
    other = condition_context(facts, None, None, "s3:GetObject",
                              S3Object(key="k", tags=json.dumps({"Team": "red"})))
    assert evaluate(parse(text, "b"), Who(), "s3:GetObject", "arn:aws:s3:::b/k",
                    other).value == "None"
