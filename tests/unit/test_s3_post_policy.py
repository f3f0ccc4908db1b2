"""Policy documents of browser POST uploads: decoding and condition checks (pure)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from controller.s3 import errors
from controller.s3.post_policy import decode_policy

FUTURE = "2099-01-01T00:00:00.000Z"


def _encode(document: Any) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def _policy(*conditions: Any, expiration: str = FUTURE) -> Any:
    return decode_policy(_encode({"expiration": expiration, "conditions": list(conditions)}))


def test_decodes_conditions_and_range() -> None:
    policy = _policy({"Bucket": "b"}, ["eq", "$Key", "k"], ["starts-with", "$Content-Type", "i/"],
                     ["content-length-range", 1, "10"])
    assert [(c.op, c.field, c.value) for c in policy.conditions] == [
        ("eq", "bucket", "b"), ("eq", "key", "k"), ("starts-with", "content-type", "i/")]
    assert policy.length_range == (1, 10)
    assert policy.expiration == datetime(2099, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("encoded, message", [
    ("not base64!", "Invalid Policy: Invalid Base64 encoding."),
    (base64.b64encode(b"{nope").decode(), "Invalid Policy: Invalid JSON."),
    (_encode({"conditions": []}), "Invalid Policy: Policy missing expiration."),
    (_encode({"expiration": FUTURE}), "Invalid Policy: Policy missing conditions."),
    (_encode({"EXPIRATION": FUTURE, "conditions": []}), "Invalid Policy: Policy missing expiration."),
    (_encode({"expiration": "tomorrow", "conditions": []}),
     "Invalid Policy: Invalid 'expiration' value: 'tomorrow'"),
])
def test_malformed_policies(encoded: str, message: str) -> None:
    with pytest.raises(errors.InvalidPolicyDocument) as err:
        decode_policy(encoded)
    assert err.value.message == message
    assert err.value.http_status == 400


@pytest.mark.parametrize("condition", [
    {}, {"a": "1", "b": "2"}, {"a": 1}, ["eq", "$a"], ["eq", "a", "1"], ["in", "$a", "1"],
    ["content-length-range", 0], ["content-length-range", -1, 0], ["content-length-range", 0, "x"],
    "key",
])
def test_malformed_conditions(condition: Any) -> None:
    with pytest.raises(errors.InvalidPolicyDocument):
        _policy(condition)


def test_expiry() -> None:
    policy = _policy(expiration="2020-01-01T00:00:00Z")
    with pytest.raises(errors.AccessDenied) as err:
        policy.check_expiry(datetime.now(UTC))
    assert err.value.message == "Invalid according to Policy: Policy expired."
    _policy().check_expiry(datetime.now(UTC))


def test_conditions_hold_and_fail() -> None:
    policy = _policy({"bucket": "b"}, ["starts-with", "$key", "up/"], {"acl": "private"},
                     ["starts-with", "$x-amz-meta-tag", ""])
    fields = {"key": "up/x", "acl": "private"}
    policy.check_fields(["Key", "ACL", "policy", "x-ignore-me", "File"], fields, "b")
    with pytest.raises(errors.AccessDenied) as err:
        policy.check_fields(["key", "acl"], {"key": "down/x", "acl": "private"}, "b")
    assert err.value.message == ('Invalid according to Policy: Policy Condition failed: '
                                 '["starts-with", "$key", "up/"]')
    with pytest.raises(errors.AccessDenied) as err:
        policy.check_fields(["key", "acl"], fields, "other")
    assert err.value.message.endswith('["eq", "$bucket", "b"]')
    with pytest.raises(errors.AccessDenied) as err:
        policy.check_fields(["key"], {"key": "up/x"}, "b")  # acl required by the policy
    assert err.value.message.endswith('["eq", "$acl", "private"]')


def test_extra_fields() -> None:
    policy = _policy({"key": "k"})
    with pytest.raises(errors.AccessDenied) as err:
        policy.check_fields(["key", "Content-Type"], {"key": "k", "content-type": "x"}, "b")
    assert err.value.message == "Invalid according to Policy: Extra input fields: Content-Type"
    exempt = ["key", "AWSAccessKeyId", "Signature", "x-amz-signature", "policy", "x-ignore-z"]
    policy.check_fields(exempt, {"key": "k"}, "b")


def test_content_type_list_must_all_match() -> None:
    policy = _policy(["starts-with", "$Content-Type", "image/"])
    policy.check_fields(["content-type"], {"content-type": "image/png, image/gif"}, "b")
    with pytest.raises(errors.AccessDenied):
        policy.check_fields(["content-type"], {"content-type": "image/png, text/html"}, "b")


def test_length_range() -> None:
    policy = _policy(["content-length-range", 2, 4])
    policy.check_length(2)
    policy.check_length(4)
    with pytest.raises(errors.EntityTooSmall):
        policy.check_length(1)
    with pytest.raises(errors.EntityTooLarge):
        policy.check_length(5)
    _policy().check_length(10**12)
