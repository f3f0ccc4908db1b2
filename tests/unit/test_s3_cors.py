"""CORS rules: configuration checks, wildcard matching, preflight and actual-request headers."""

from __future__ import annotations

from typing import Any

import pytest

from controller.s3 import cors, errors

CONFIG: dict[str, Any] = {"CORSRules": [
    {"AllowedOrigins": ["http://*.example.com"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["x-amz-*", "Content-Type"], "ExposeHeaders": ["ETag", "x-amz-meta-a"],
     "MaxAgeSeconds": 3000},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]}


def _rule(**extra: Any) -> dict[str, Any]:
    return {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], **extra}


def test_good_configuration() -> None:
    cors.check_configuration(CONFIG)
    cors.check_configuration({"CORSRules": [_rule()] * 100})


@pytest.mark.parametrize("config", [{}, {"CORSRules": []}, {"CORSRules": [_rule()] * 101}])
def test_rule_count(config: dict[str, Any]) -> None:
    with pytest.raises(errors.S3Error) as caught:
        cors.check_configuration(config)
    assert caught.value.code == "MalformedXML"


@pytest.mark.parametrize(("rule", "message"), [
    (_rule(AllowedMethods=["GET", "PATCH"]),
     "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
    (_rule(AllowedMethods=["get"]),
     "Found unsupported HTTP method in CORS config. Unsupported method is get"),
    (_rule(AllowedOrigins=["http://*.*.com"]),
     'AllowedOrigin "http://*.*.com" can not have more than one wildcard.'),
    (_rule(AllowedHeaders=["x-*-*"]),
     'AllowedHeader "x-*-*" can not have more than one wildcard.'),
    (_rule(ExposeHeaders=["*"]),
     ('ExposeHeader "*" contains wildcard. We currently do not support wildcard for '
     "ExposeHeader.")),
])
def test_invalid_rules(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.S3Error) as caught:
        cors.check_configuration({"CORSRules": [rule]})
    assert (caught.value.code, caught.value.http_status, caught.value.message) == (
        "InvalidRequest", 400, message)


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("*", "anything", True),
    ("http://*.example.com", "http://www.example.com", True),
    ("http://*.example.com", "http://a.b.example.com", True),
    ("http://*.example.com", "https://www.example.com", False),
    ("http://*.example.com", "http://example.com", False),
    ("start*end", "startend", True),
    ("start*end", "0start12end", False),
    ("prefix*", "prefix.suffix", True),
    ("*suffix", "foo.suffix.get", False),
    ("http://a.com", "http://a.com", True),
    ("a.b", "axb", False),  # a dot is a dot, not a regex
])
def test_wildcards(pattern: str, value: str, expected: bool) -> None:
    assert cors.matches(pattern, value) is expected


def test_header_matching_ignores_case() -> None:
    assert cors.matches("X-Amz-*", "x-amz-date", ignore_case=True)
    assert not cors.matches("X-Amz-*", "x-amz-date")


def test_first_matching_rule_wins() -> None:
    assert cors.find_rule(CONFIG, "http://a.example.com", "GET") is CONFIG["CORSRules"][0]
    assert cors.find_rule(CONFIG, "http://other.org", "GET") is CONFIG["CORSRules"][1]
    assert cors.find_rule(CONFIG, "http://other.org", "PUT") is None
    assert cors.find_rule(CONFIG, "http://a.example.com", "DELETE") is None
    # Headers must all be allowed; the second rule allows none.
    assert cors.find_rule(CONFIG, "http://a.example.com", "PUT",
                          ["x-amz-date", "content-type"]) is CONFIG["CORSRules"][0]
    assert cors.find_rule(CONFIG, "http://other.org", "GET", ["x-amz-date"]) is None
    assert cors.find_rule(CONFIG, "http://a.example.com", "PUT", ["authorization"]) is None


def test_requested_headers() -> None:
    assert cors.requested_headers(" X-Amz-Date,Content-Type ,, ") == ["x-amz-date",
                                                                       "content-type"]
    assert cors.requested_headers(None) == []


def test_preflight_headers() -> None:
    headers = dict(cors.preflight(CONFIG, "http://a.example.com", "PUT",
                                  "X-Amz-Date, Content-Type"))
    assert headers == {
        "Access-Control-Allow-Origin": "http://a.example.com",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT",
        "Access-Control-Allow-Headers": "x-amz-date, content-type",
        "Access-Control-Expose-Headers": "ETag, x-amz-meta-a",
        "Access-Control-Max-Age": "3000",
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }


def test_preflight_wildcard_origin() -> None:
    headers = dict(cors.preflight(CONFIG, "http://other.org", "GET", None))
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in headers
    assert "Access-Control-Allow-Headers" not in headers
    assert "Access-Control-Max-Age" not in headers


@pytest.mark.parametrize("config", [None, CONFIG])
def test_preflight_refused(config: dict[str, Any] | None) -> None:
    with pytest.raises(errors.S3Error) as caught:
        cors.preflight(config, "http://other.org", "DELETE", None, "BUCKET")
    assert (caught.value.code, caught.value.http_status) == ("AccessForbidden", 403)
    assert caught.value.extra == {"Method": "DELETE", "ResourceType": "BUCKET"}


def test_actual_request_headers() -> None:
    headers = dict(cors.actual(CONFIG, "http://a.example.com", "GET"))
    assert headers["Access-Control-Allow-Origin"] == "http://a.example.com"
    assert headers["Access-Control-Allow-Methods"] == "GET, PUT"
    assert headers["Access-Control-Expose-Headers"] == "ETag, x-amz-meta-a"
    assert "Access-Control-Allow-Headers" not in headers
    assert cors.actual(CONFIG, "http://other.org", "PUT") == []
    assert cors.actual(None, "http://a.example.com", "GET") == []
