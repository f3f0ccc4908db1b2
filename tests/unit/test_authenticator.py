"""The authentication entry point: finding, parsing and verifying a request's signature."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import (
    HmacV1Auth,
    HmacV1QueryAuth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV2Auth,
    SigV4Auth,
)
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from controller.api_error import ApiError
from controller.auth import errors
from controller.auth.authenticator import ParsedSignature, parse_signature
from controller.auth.errors import (
    AuthError,
    IncompleteSignature,
    SignatureMismatch,
    UnsupportedSignature,
)
from controller.auth.request import HttpRequest
from controller.auth.sigv4 import SigV4Request

SECRET = "authenticator/secret+key"
CREDS = Credentials("AKIAAUTHTEST", SECRET, "the-session-token")
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def scope_of(aws: AWSRequest) -> tuple[dict[str, Any], bytes]:
    """An ASGI scope and body for what a botocore request puts on the wire."""
    prepared = aws.prepare()
    split = urlsplit(prepared.url)
    headers = [(k.lower().encode(), v.encode() if isinstance(v, str) else v)
               for k, v in prepared.headers.items()]  # fmt: skip
    headers.append((b"host", split.netloc.encode()))
    body = prepared.body or b""
    scope = {
        "type": "http",
        "method": prepared.method,
        "path": split.path,
        "raw_path": split.path.encode(),
        "query_string": split.query.encode(),
        "headers": headers,
    }
    return scope, body.encode() if isinstance(body, str) else body


def signed(sign: Callable[[AWSRequest], None], method: str, url: str, **kw: Any) -> HttpRequest:
    aws = AWSRequest(method, url, **kw)
    aws.auth_path = urlsplit(url).path
    sign(aws)
    scope, body = scope_of(aws)
    return HttpRequest.from_asgi(scope, body, parse_form_body=":9000" not in url)


EC2 = "http://127.0.0.1:8773/"
S3 = "http://127.0.0.1:9000/bucket/key%201"
# signer, method, url, AWSRequest keywords, (version, location, presigned, region, service)
Kind = tuple[
    Callable[[AWSRequest], None],
    str,
    str,
    dict[str, Any],
    tuple[str, str, bool, str | None, str | None],
]
KINDS: dict[str, Kind] = {
    "v4-header": (
        lambda r: SigV4Auth(CREDS, "ec2", "region-1").add_auth(r),
        "POST", EC2, {"data": {"Action": "DescribeRegions"}, "headers": {"Content-Type": FORM}},
        ("v4", "header", False, "region-1", "ec2"),
    ),
    "v4-s3-header": (
        lambda r: S3SigV4Auth(CREDS, "s3", "region-1").add_auth(r),
        "PUT", S3, {"data": b"object body"},
        ("v4", "header", False, "region-1", "s3"),
    ),
    "v4-query": (
        lambda r: S3SigV4QueryAuth(CREDS, "s3", "region-1", expires=60).add_auth(r),
        "GET", S3, {},
        ("v4", "query", True, "region-1", "s3"),
    ),
    "v2-query": (
        lambda r: SigV2Auth(CREDS).add_auth(r),
        "GET", EC2, {"params": {"Action": "DescribeRegions"}},
        ("v2", "query", False, None, None),
    ),
    "v2-form": (
        lambda r: SigV2Auth(CREDS).add_auth(r),
        "POST", EC2, {"data": {"Action": "DescribeRegions"}, "headers": {"Content-Type": FORM}},
        ("v2", "form", False, None, None),
    ),
    "v2-s3-header": (
        lambda r: HmacV1Auth(CREDS).add_auth(r),
        "GET", S3, {},
        ("v2", "header", False, None, None),
    ),
    "v2-s3-query": (
        lambda r: HmacV1QueryAuth(CREDS, expires=60).add_auth(r),
        "GET", S3, {},
        ("v2", "query", True, None, None),
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_signature(kind: str) -> None:
    sign, method, url, kwargs, expected = KINDS[kind]
    parsed = parse_signature(signed(sign, method, url, **kwargs), datetime.now(UTC))
    assert isinstance(parsed, ParsedSignature)
    info = parsed.info
    assert (info.version, info.location, info.presigned, info.region, info.service) == expected
    assert (parsed.version, parsed.region, parsed.service) == expected[:1] + expected[3:]
    assert parsed.access_key_id == "AKIAAUTHTEST"
    assert info.security_token == "the-session-token"
    assert (parsed.sigv4 is not None) == (info.version == "v4")
    parsed.verify(SECRET)
    with pytest.raises(SignatureMismatch):
        parsed.verify("not-" + SECRET)


def test_parsing_computes_no_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    requests = [signed(sign, method, url, **kw) for sign, method, url, kw, _ in KINDS.values()]

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("parse_signature must not compute an HMAC or hash the body")

    with monkeypatch.context() as patch:
        patch.setattr(hmac, "new", forbidden)
        patch.setattr(HttpRequest, "payload_sha256", forbidden)
        parsed = [parse_signature(req, datetime.now(UTC)) for req in requests]
    for item in parsed:
        assert item is not None
        item.verify(SECRET)


def test_anonymous_requests() -> None:
    now = datetime.now(UTC)
    assert parse_signature(HttpRequest("GET", "/bucket/key", [("prefix", "a")], {}), now) is None
    form = [("Action", "DescribeRegions"), ("Version", "2016-11-15")]
    assert parse_signature(HttpRequest("POST", "/", [], {"host": "h"}, form=form), now) is None
    assert parse_signature(HttpRequest("GET", "/", [], {"authorization": "  "}), now) is None


@pytest.mark.parametrize(
    ("headers", "query", "error"),
    [
        ({"authorization": "Bearer abc"}, [], UnsupportedSignature),
        ({"authorization": "AWS4-HMAC-SHA512 Credential=x"}, [], UnsupportedSignature),
        ({}, [("X-Amz-Credential", "AK/20240101/r/s/aws4_request")], IncompleteSignature),
        ({}, [("SignatureVersion", "4")], UnsupportedSignature),
        ({}, [("AWSAccessKeyId", "AK"), ("Signature", "c2ln")], IncompleteSignature),
    ],
)
def test_malformed_requests(
    headers: dict[str, str], query: list[tuple[str, str]], error: type[AuthError]
) -> None:
    with pytest.raises(error):
        parse_signature(HttpRequest("GET", "/", query, {"host": "h", **headers}), datetime.now(UTC))


@pytest.mark.parametrize("extra", [("X-Amz-Signature", "ab"), ("Signature", "c2ln")])
def test_only_one_auth_mechanism(extra: tuple[str, str]) -> None:
    sign, method, url, kwargs, _ = KINDS["v4-header"]
    req = signed(sign, method, url, **kwargs)
    query = [*req.query, ("AWSAccessKeyId", "AK"), extra]
    with pytest.raises(IncompleteSignature, match="Only one auth mechanism"):
        parse_signature(replace(req, query=query), datetime.now(UTC))


def test_form_without_signature_version() -> None:
    form = [("Action", "DescribeRegions"), ("AWSAccessKeyId", "AK"), ("Signature", "c2ln")]
    with pytest.raises(IncompleteSignature):
        parse_signature(HttpRequest("POST", "/", [], {"host": "h"}, form=form), datetime.now(UTC))


def test_naive_now_is_utc() -> None:
    sign, method, url, kwargs, _ = KINDS["v4-header"]
    req = signed(sign, method, url, **kwargs)
    parsed = parse_signature(req, datetime.now(UTC).replace(tzinfo=None))
    assert parsed is not None
    parsed.verify(SECRET)


def test_repr_leaks_no_signature_or_token() -> None:
    sign, method, url, kwargs, _ = KINDS["v4-header"]
    parsed = parse_signature(signed(sign, method, url, **kwargs), datetime.now(UTC))
    assert parsed is not None and isinstance(parsed.sigv4, SigV4Request)
    text = repr(parsed) + repr(parsed.info) + repr(parsed.sigv4)
    assert parsed.sigv4.signature not in text
    assert "the-session-token" not in text


# --- HttpRequest.from_asgi --------------------------------------------------------------


def test_from_asgi_keeps_the_wire_path_and_decodes_the_query() -> None:
    scope = {
        "method": "post",
        "path": "/bucket/a b/c",
        "raw_path": b"/bucket/a%20b%2Fc",
        "query_string": b"acl&x=%2F%20+&x=2",
        "headers": [
            (b"host", b"h:1"),
            (b"x-amz-meta-a", b" 1 "),
            (b"x-amz-meta-a", b"2"),
            (b"x-amz-meta-b", "caf\u00e9".encode("latin-1")),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ],
    }
    req = HttpRequest.from_asgi(scope, b"Action=Run&Name=a+b%2B")
    assert (req.method, req.raw_path) == ("POST", "/bucket/a%20b%2Fc")
    assert req.query == [("acl", ""), ("x", "/  "), ("x", "2")]
    assert req.headers == {
        "host": "h:1",
        "x-amz-meta-a": "1,2",
        "x-amz-meta-b": "caf\u00e9",
        "content-type": "application/x-www-form-urlencoded",
    }
    assert req.form == [("Action", "Run"), ("Name", "a b+")]
    assert HttpRequest.from_asgi(scope, b"a=1", parse_form_body=False).form is None
    assert HttpRequest.from_asgi({**scope, "method": "PUT"}, b"a=1").form is None
    assert HttpRequest.from_asgi({**scope, "raw_path": None}).raw_path == "/bucket/a%20b/c"


def test_payload_hash_prefers_the_precomputed_digest() -> None:
    req = HttpRequest("PUT", "/b/k", [], {}, b"abc")
    assert req.payload_sha256().startswith("ba7816bf")
    assert replace(req, body=b"", body_sha256="f" * 64).payload_sha256() == "f" * 64


# --- errors -----------------------------------------------------------------------------


def test_error_tree() -> None:
    leaves = [
        errors.MissingAuthentication, errors.IncompleteSignature, errors.UnsupportedSignature,
        errors.UnknownAccessKey, errors.InactiveAccessKey, errors.SignatureMismatch,
        errors.RequestExpired, errors.RequestTimeTooSkewed, errors.PayloadHashMismatch,
        errors.InvalidDate,
    ]  # fmt: skip
    for leaf in leaves:
        assert issubclass(leaf, AuthError) and not issubclass(leaf, ApiError)
        assert leaf().message == leaf.default_message
        assert leaf("custom").message == "custom" == str(leaf("custom"))
