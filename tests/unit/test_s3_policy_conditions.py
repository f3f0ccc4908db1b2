"""Policy Condition operators against request context keys."""

from __future__ import annotations

import pytest

from controller.s3.policy_conditions import all_hold, holds, like, normalize_key, split_operator

CTX = {
    "aws:sourceip": ["192.168.1.20"],
    "aws:securetransport": ["false"],
    "aws:referer": ["http://www.example.com/page"],
    "aws:currenttime": ["2026-06-01T12:00:00Z"],
    "aws:epochtime": ["1780315200"],
    "s3:prefix": ["home/alice/"],
    "s3:max-keys": ["50"],
    "s3:existingobjecttag/Classification": ["public"],
    "aws:multi": ["a", "b"],
}


@pytest.mark.parametrize(("operator", "key", "values", "expected"), [
    ("StringEquals", "s3:prefix", ["home/alice/"], True),
    ("StringEquals", "S3:Prefix", ["home/alice/"], True),  # key names are case-insensitive
    ("StringEquals", "s3:prefix", ["HOME/alice/"], False),
    ("StringEqualsIgnoreCase", "s3:prefix", ["HOME/ALICE/"], True),
    ("StringNotEquals", "s3:prefix", ["home/bob/"], True),
    ("StringNotEquals", "s3:prefix", ["home/alice/", "x"], False),
    ("StringNotEqualsIgnoreCase", "s3:prefix", ["HOME/ALICE/"], False),
    ("StringLike", "s3:prefix", ["home/*"], True),
    ("StringLike", "aws:Referer", ["http://www.example.com/*"], True),
    ("StringLike", "s3:prefix", ["home/?lice/"], True),
    ("StringNotLike", "s3:prefix", ["home/bob*"], True),
    ("NumericLessThanEquals", "s3:max-keys", ["50"], True),
    ("NumericLessThan", "s3:max-keys", ["50"], False),
    ("NumericGreaterThan", "s3:max-keys", ["10"], True),
    ("NumericGreaterThanEquals", "s3:max-keys", ["51"], False),
    ("NumericEquals", "s3:max-keys", ["50"], True),
    ("NumericNotEquals", "s3:max-keys", ["50"], False),
    ("NumericEquals", "s3:max-keys", ["fifty"], False),
    ("DateGreaterThan", "aws:CurrentTime", ["2026-01-01T00:00:00Z"], True),
    ("DateLessThan", "aws:CurrentTime", ["2026-01-01"], False),
    ("DateEquals", "aws:EpochTime", ["2026-06-01T12:00:00Z"], True),
    ("DateNotEquals", "aws:CurrentTime", ["2026-06-01T12:00:00Z"], False),
    ("DateLessThanEquals", "aws:CurrentTime", ["1780315200"], True),
    ("DateGreaterThanEquals", "aws:CurrentTime", ["2027-01-01T00:00:00+00:00"], False),
    ("Bool", "aws:SecureTransport", ["false"], True),
    ("Bool", "aws:SecureTransport", ["true"], False),
    ("IpAddress", "aws:SourceIp", ["192.168.0.0/16"], True),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8", "192.168.1.20/32"], True),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8"], False),
    ("IpAddress", "aws:SourceIp", ["2001:db8::/32"], False),
    ("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8"], True),
    ("NotIpAddress", "aws:SourceIp", ["192.168.1.0/24"], False),
    ("Null", "aws:Referer", ["false"], True),
    ("Null", "aws:UserAgent", ["true"], True),
    ("Null", "aws:UserAgent", ["false"], False),
    ("StringEquals", "s3:ExistingObjectTag/Classification", ["public"], True),
    ("StringEquals", "s3:ExistingObjectTag/classification", ["public"], False),
    # a missing key: positive operators fail, negated ones hold, IfExists holds
    ("StringEquals", "aws:UserAgent", ["x"], False),
    ("StringNotEquals", "aws:UserAgent", ["x"], True),
    ("StringEqualsIfExists", "aws:UserAgent", ["x"], True),
    ("StringEqualsIfExists", "s3:prefix", ["nope"], False),
    ("IpAddressIfExists", "aws:SourceIp", ["192.168.0.0/16"], True),
    # set operators over a multi-valued key
    ("ForAnyValue:StringEquals", "aws:multi", ["b", "z"], True),
    ("ForAnyValue:StringEquals", "aws:multi", ["z"], False),
    ("ForAllValues:StringEquals", "aws:multi", ["a", "b", "c"], True),
    ("ForAllValues:StringEquals", "aws:multi", ["a"], False),
    ("ForAllValues:StringEquals", "aws:absent", ["a"], True),
    ("ForAnyValue:StringEquals", "aws:absent", ["a"], False),
    ("ForAllValues:StringNotEquals", "aws:multi", ["z"], True),
    ("ForAnyValue:StringLike", "aws:multi", ["?"], True),
])
def test_operators(operator: str, key: str, values: list[str], expected: bool) -> None:
    assert holds(operator, key, values, CTX) is expected


def test_ipv6_source() -> None:
    ctx = {"aws:sourceip": ["2001:db8::5"]}
    assert holds("IpAddress", "aws:SourceIp", ["2001:db8::/32"], ctx)
    assert not holds("IpAddress", "aws:SourceIp", ["192.168.0.0/16"], ctx)


def test_arn_operators() -> None:
    ctx = {"aws:principalarn": ["arn:aws:iam::111122223333:user/alice"]}
    assert holds("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::*:user/*"], ctx)
    assert holds("ArnEquals", "aws:PrincipalArn", ["arn:aws:iam::111122223333:user/alice"], ctx)
    assert not holds("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::*:role/*"], ctx)
    assert holds("ArnNotLike", "aws:PrincipalArn", ["arn:aws:iam::*:role/*"], ctx)
    assert not holds("ArnLike", "aws:PrincipalArn", ["not-an-arn"], ctx)


def test_every_block_must_hold() -> None:
    assert all_hold({"StringLike": {"s3:prefix": ["home/*"]},
                     "IpAddress": {"aws:SourceIp": ["192.168.0.0/16"]}}, CTX)
    assert not all_hold({"StringLike": {"s3:prefix": ["home/*"]},
                         "Bool": {"aws:SecureTransport": ["true"]}}, CTX)


def test_operator_names() -> None:
    assert split_operator("ForAnyValue:StringLikeIfExists") == (
        "foranyvalue", "stringlike", False, True)
    assert split_operator("stringnotequals") == ("", "stringequals", True, False)
    assert split_operator("NullIfExists") is None
    assert split_operator("StringSimilar") is None


def test_like_and_keys() -> None:
    assert like("a.b[c]", "a.b[c]") and like("abc", "a*") and not like("abc", "a?")
    assert normalize_key("S3:ExistingObjectTag/Team") == "s3:existingobjecttag/Team"
