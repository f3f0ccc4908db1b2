"""Signature Version 2: the Query protocol (EC2) and S3, against AWS examples and clients."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, SigV2Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from controller.auth.errors import (
    IncompleteSignature,
    InvalidDate,
    RequestExpired,
    RequestTimeTooSkewed,
    SignatureMismatch,
    UnsupportedSignature,
)
from controller.auth.request import HttpRequest
from controller.auth.sigv2 import (
    canonical_resource,
    parse_query_v2,
    parse_s3_v2_header,
    parse_s3_v2_presigned,
)

DOC_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRET = "ironbark/v2+secret"
CREDS = Credentials("AKIAV2TEST", SECRET)


def now() -> datetime:
    return datetime.now(UTC)


def from_botocore(aws: AWSRequest) -> HttpRequest:
    prepared = aws.prepare()
    split = urlsplit(prepared.url)
    headers = [(k.lower().encode(), v.encode() if isinstance(v, str) else v)
               for k, v in prepared.headers.items()]  # fmt: skip
    if not any(name == b"host" for name, _ in headers):
        headers.append((b"host", split.netloc.encode()))
    body = prepared.body or b""
    scope = {
        "type": "http",
        "method": prepared.method,
        "raw_path": split.path.encode(),
        "query_string": split.query.encode(),
        "headers": headers,
    }
    return HttpRequest.from_asgi(scope, body.encode() if isinstance(body, str) else body)


# --- Query protocol --------------------------------------------------------------------


def test_aws_documented_query_example() -> None:
    """AWS General Reference, "Signature Version 2 signing process" (DescribeJobFlows)."""
    query = [
        ("Action", "DescribeJobFlows"),
        ("Version", "2009-03-31"),
        ("AWSAccessKeyId", "AKIAIOSFODNN7EXAMPLE"),
        ("SignatureVersion", "2"),
        ("SignatureMethod", "HmacSHA256"),
        ("Timestamp", "2011-10-03T15:19:30"),
        ("Signature", "i91nKc4PWAt0JJIdXwz9HxZCJDdiy6cf/Mj6vPxyYIs="),
    ]
    req = HttpRequest("GET", "/", query, {"host": "elasticmapreduce.amazonaws.com"})
    parsed = parse_query_v2(req, datetime(2011, 10, 3, 15, 20, tzinfo=UTC))
    assert parsed.string_to_sign("elasticmapreduce.amazonaws.com") == (
        "GET\nelasticmapreduce.amazonaws.com\n/\nAWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&"
        "Action=DescribeJobFlows&SignatureMethod=HmacSHA256&SignatureVersion=2&"
        "Timestamp=2011-10-03T15%3A19%3A30&Version=2009-03-31"
    )
    parsed.verify(DOC_KEY)
    with pytest.raises(SignatureMismatch):
        parsed.verify(DOC_KEY.lower())


@pytest.mark.parametrize("verb", ["GET", "POST"])
def test_botocore_sigv2(verb: str) -> None:
    params = {"Action": "DescribeImages", "Owner.1": "self", "Filter.1.Value.1": "a b/c~d+é"}
    url = "http://127.0.0.1:8773/"
    if verb == "POST":  # headers as botocore's query serializer sets them
        form_type = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        aws = AWSRequest(verb, url, data=dict(params), headers=form_type)
    else:
        aws = AWSRequest(verb, url, params=dict(params))
    SigV2Auth(CREDS).add_auth(aws)
    req = from_botocore(aws)
    assert (req.form is not None) == (verb == "POST")
    parsed = parse_query_v2(req, now())
    assert parsed.access_key_id == "AKIAV2TEST"
    parsed.verify(SECRET)


@pytest.fixture(scope="module")
def boto2() -> Iterator[tuple[Any, Any, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # boto 2's vendored six predates importlib's find_spec
        import boto.auth
        import boto.connection
        import boto.provider
    yield boto.auth, boto.connection, boto.provider


def boto2_query_request(boto2: tuple[Any, Any, Any], verb: str, sha1: bool) -> HttpRequest:
    """Sign as boto 2's EC2 connection does, and return what the server receives."""
    auth, connection, provider = boto2
    handler = auth.QuerySignatureV2AuthHandler(
        "127.0.0.1", None, provider.Provider("aws", "AKIDBOTO2", SECRET)
    )
    if sha1:
        handler._hmac_256 = None  # what boto 2 does when hashlib lacks SHA-256
    params = {"Action": "RunInstances", "ImageId": "emi-1", "UserData": "a+b/c= d"}
    boto_req = connection.HTTPRequest(verb, "http", "127.0.0.1", 8773, "/", None, params, {}, "")
    handler.add_auth(boto_req)
    path, _, query = boto_req.path.partition("?")
    headers = {name.lower(): value for name, value in boto_req.headers.items()}
    headers["host"] = "127.0.0.1"  # boto 2 sends and signs the host without the port
    body = boto_req.body.encode() if isinstance(boto_req.body, str) else boto_req.body
    form = parse_qsl(body.decode(), keep_blank_values=True) if verb == "POST" else None
    return HttpRequest(verb, path, parse_qsl(query), headers, body, form=form)


@pytest.mark.parametrize("sha1", [False, True], ids=["HmacSHA256", "HmacSHA1"])
@pytest.mark.parametrize("verb", ["GET", "POST"])
def test_boto2_query_signature_v2(boto2: tuple[Any, Any, Any], verb: str, sha1: bool) -> None:
    req = boto2_query_request(boto2, verb, sha1)
    parsed = parse_query_v2(req, now())
    assert parsed.signature_method == ("HmacSHA1" if sha1 else "HmacSHA256")
    parsed.verify(SECRET)
    tampered = [(k, "emi-2" if k == "ImageId" else v) for k, v in req.form or req.query]
    changed = replace(req, form=tampered) if verb == "POST" else replace(req, query=tampered)
    with pytest.raises(SignatureMismatch):
        parse_query_v2(changed, now()).verify(SECRET)


def test_host_signed_without_the_port() -> None:
    """A client that signs ``host`` while its HTTP library sends ``host:port``."""
    aws = AWSRequest("GET", "http://cloud.example.com/", params={"Action": "DescribeRegions"})
    SigV2Auth(CREDS).add_auth(aws)
    req = from_botocore(aws)
    with_port = replace(req, headers={**req.headers, "host": "Cloud.Example.com:8773"})
    parse_query_v2(with_port, now()).verify(SECRET)
    other_host = replace(req, headers={**req.headers, "host": "other.example.com:8773"})
    with pytest.raises(SignatureMismatch):
        parse_query_v2(other_host, now()).verify(SECRET)


def query_v2(**overrides: str) -> HttpRequest:
    params = {
        "Action": "DescribeRegions",
        "AWSAccessKeyId": "AK",
        "SignatureVersion": "2",
        "SignatureMethod": "HmacSHA256",
        "Timestamp": "2024-01-01T00:00:00Z",
        "Signature": "c2ln",
        **overrides,
    }
    query = [(k, v) for k, v in params.items() if v]
    return HttpRequest("GET", "/", query, {"host": "h"})


V2_NOW = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"SignatureVersion": "1"}, UnsupportedSignature),
        ({"SignatureVersion": ""}, IncompleteSignature),
        ({"SignatureMethod": "HmacMD5"}, UnsupportedSignature),
        ({"SignatureMethod": ""}, IncompleteSignature),
        ({"Signature": ""}, IncompleteSignature),
        ({"AWSAccessKeyId": ""}, IncompleteSignature),
        ({"Timestamp": ""}, IncompleteSignature),
        ({"Expires": "2024-01-01T00:10:00Z"}, IncompleteSignature),
        ({"Timestamp": "yesterday"}, InvalidDate),
        ({"Timestamp": "2023-12-31T23:44:00Z"}, RequestTimeTooSkewed),
        ({"Timestamp": "2024-01-01T00:16:00.000Z"}, RequestTimeTooSkewed),
        ({"Timestamp": "", "Expires": "2023-12-31T23:59:59Z"}, RequestExpired),
    ],
)
def test_bad_query_v2(overrides: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_query_v2(query_v2(**overrides), V2_NOW)


def test_query_v2_times() -> None:
    assert parse_query_v2(query_v2(Timestamp="2024-01-01T00:14:00"), V2_NOW).request_time
    parsed = parse_query_v2(query_v2(Timestamp="", Expires="2024-01-02T00:00:00Z"), V2_NOW)
    assert parsed.expires_at == datetime(2024, 1, 2, tzinfo=UTC)


def test_garbage_signature_is_a_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        parse_query_v2(query_v2(Signature="not base64!"), V2_NOW).verify(SECRET)


# --- S3 --------------------------------------------------------------------------------

# Amazon S3 Developer Guide, "Signing and Authenticating REST Requests" (Signature V2).
# (method, path, host, virtual-hosted bucket, headers, string to sign, signature)
S3_EXAMPLES = [
    ("GET", "/photos/puppy.jpg", "johnsmith.s3.amazonaws.com", "johnsmith",
     {"date": "Tue, 27 Mar 2007 19:36:42 +0000"},
     "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg",
     "bWq2s1WEIj+Ydj0vQ697zp+IXMU="),
    ("PUT", "/photos/puppy.jpg", "johnsmith.s3.amazonaws.com", "johnsmith",
     {"content-type": "image/jpeg", "content-length": "94328",
      "date": "Tue, 27 Mar 2007 21:15:45 +0000"},
     "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg",
     "MyyxeRY7whkBe+bq8fHCL/2kKUg="),
    ("GET", "/?prefix=photos&max-keys=50&marker=puppy", "johnsmith.s3.amazonaws.com",
     "johnsmith", {"user-agent": "Mozilla/5.0", "date": "Tue, 27 Mar 2007 19:42:41 +0000"},
     "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/", "htDYFYduRNen8P9ZfE/s9SuKy0U="),
    ("GET", "/?acl", "johnsmith.s3.amazonaws.com", "johnsmith",
     {"date": "Tue, 27 Mar 2007 19:44:46 +0000"},
     "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl", "c2WLPFtWHVgbEmeEG93a4cG37dM="),
    ("DELETE", "/johnsmith/photos/puppy.jpg", "s3.amazonaws.com", None,
     {"user-agent": "dotnet", "date": "Tue, 27 Mar 2007 21:20:26 +0000"},
     "DELETE\n\n\nTue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg",
     "lx3byBScXR6KzyMaifNkardMwNk="),
    ("PUT", "/db-backup.dat.gz", "static.johnsmith.net:8080", "static.johnsmith.net",
     {"user-agent": "curl/7.15.5", "date": "Tue, 27 Mar 2007 21:06:08 +0000",
      "x-amz-acl": "public-read", "content-type": "application/x-download",
      "content-md5": "4gJE4saaMU4BqNR0kLY+lw==",
      "x-amz-meta-reviewedby": "joe@johnsmith.net,jane@johnsmith.net",
      "x-amz-meta-filechecksum": "0x02661779", "x-amz-meta-checksumalgorithm": "crc32",
      "content-disposition": "attachment; filename=database.dat", "content-encoding": "gzip",
      "content-length": "5913339"},
     ("PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n"
      "x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\n"
      "x-amz-meta-filechecksum:0x02661779\n"
      "x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n"
      "/static.johnsmith.net/db-backup.dat.gz"),
     "ilyl83RwaSoYIEdixDQcA4OnAnc="),
    ("GET", "/", "s3.amazonaws.com", None, {"date": "Wed, 28 Mar 2007 01:29:59 +0000"},
     "GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/", "qGdzdERIC03wnaRNKh6OqZehG9s="),
    ("GET", "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re", "s3.amazonaws.com", None,
     {"date": "Wed, 28 Mar 2007 01:49:49 +0000"},
     "GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
     "DNEZGsoieTZ92F3bUfSPQcbGmlM="),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "target", "host", "bucket", "headers", "sts", "signature"),
    S3_EXAMPLES,
    ids=["get", "put", "list", "acl", "delete", "upload", "list-buckets", "unicode"],
)
def test_aws_documented_s3_examples(
    method: str,
    target: str,
    host: str,
    bucket: str | None,
    headers: dict[str, str],
    sts: str,
    signature: str,
) -> None:
    path, _, query = target.partition("?")
    authorization = f"AWS AKIAIOSFODNN7EXAMPLE:{signature}"
    all_headers = {"host": host, **headers, "authorization": authorization}
    req = HttpRequest(
        method, path, parse_qsl(query, keep_blank_values=True), all_headers,
        virtual_host_bucket=bucket,
    )  # fmt: skip
    request_time = datetime.strptime(headers["date"], "%a, %d %b %Y %H:%M:%S %z")
    parsed = parse_s3_v2_header(req, request_time + timedelta(minutes=1))
    assert parsed.string_to_sign() == sts
    parsed.verify(DOC_KEY)
    with pytest.raises(SignatureMismatch):
        parsed.verify(SECRET)


def test_aws_documented_s3_presigned_url() -> None:
    query = parse_qsl(
        "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
        "&Expires=1175139620"
    )
    req = HttpRequest(
        "GET", "/photos/puppy.jpg", query, {"host": "johnsmith.s3.amazonaws.com"},
        virtual_host_bucket="johnsmith",
    )  # fmt: skip
    parsed = parse_s3_v2_presigned(req, datetime(2007, 3, 28, tzinfo=UTC))
    assert parsed.string_to_sign() == "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"
    parsed.verify(DOC_KEY)
    with pytest.raises(RequestExpired):
        parse_s3_v2_presigned(req, datetime(2007, 3, 29, 3, 40, 21, tzinfo=UTC))


def hmac_v1(method: str, url: str, **kwargs: Any) -> HttpRequest:
    aws = AWSRequest(method, url, **kwargs)
    aws.auth_path = urlsplit(url).path  # botocore's auth_path never holds the query
    HmacV1Auth(CREDS).add_auth(aws)
    return from_botocore(aws)


def test_botocore_hmac_v1() -> None:
    headers = {"Content-Type": "text/plain", "x-amz-meta-a": " 1 ", "Content-MD5": "abc=="}
    req = hmac_v1(
        "PUT", "http://127.0.0.1:9000/bucket/a%20key?uploadId=u1&partNumber=2",
        headers=headers, data=b"part",
    )  # fmt: skip
    parsed = parse_s3_v2_header(req, now())
    assert parsed.string_to_sign().endswith("/bucket/a%20key?partNumber=2&uploadId=u1")
    parsed.verify(SECRET)


def test_s3_v2_subresources_are_signed_but_other_parameters_are_not() -> None:
    req = hmac_v1("GET", "http://127.0.0.1:9000/bucket/?acl&prefix=a")
    parse_s3_v2_header(req, now()).verify(SECRET)
    other_prefix = replace(req, query=[("acl", ""), ("prefix", "b")])
    parse_s3_v2_header(other_prefix, now()).verify(SECRET)
    with pytest.raises(SignatureMismatch):
        parse_s3_v2_header(replace(req, query=[("cors", "")]), now()).verify(SECRET)


def test_s3_v2_tampered_headers() -> None:
    req = hmac_v1(
        "PUT", "http://127.0.0.1:9000/bucket/key",
        headers={"Content-Type": "text/plain", "x-amz-acl": "private"}, data=b"x",
    )  # fmt: skip
    parse_s3_v2_header(req, now()).verify(SECRET)
    for name, value in (("content-type", "text/html"), ("x-amz-acl", "public-read")):
        changed = replace(req, headers={**req.headers, name: value})
        with pytest.raises(SignatureMismatch):
            parse_s3_v2_header(changed, now()).verify(SECRET)
    added = replace(req, headers={**req.headers, "x-amz-meta-new": "1"})
    with pytest.raises(SignatureMismatch):
        parse_s3_v2_header(added, now()).verify(SECRET)


def test_s3_v2_x_amz_date_replaces_the_date_line() -> None:
    stamp = now().strftime("%a, %d %b %Y %H:%M:%S GMT")
    req = hmac_v1("GET", "http://127.0.0.1:9000/bucket/key", headers={"x-amz-date": stamp})
    # botocore always signs the Date line, so this signature must not match ours ...
    with pytest.raises(SignatureMismatch):
        parse_s3_v2_header(req, now()).verify(SECRET)
    # ... but the string we sign is the one the S3 documentation and boto 2 prescribe.
    parsed = parse_s3_v2_header(req, now())
    assert parsed.string_to_sign() == f"GET\n\n\n\nx-amz-date:{stamp}\n/bucket/key"


def test_s3_v2_date_checks() -> None:
    req = hmac_v1("GET", "http://127.0.0.1:9000/bucket/key")
    with pytest.raises(RequestTimeTooSkewed):
        parse_s3_v2_header(req, now() + timedelta(minutes=16))
    no_date = replace(req, headers={k: v for k, v in req.headers.items() if k != "date"})
    with pytest.raises(IncompleteSignature):
        parse_s3_v2_header(no_date, now())
    with pytest.raises(InvalidDate):
        parse_s3_v2_header(replace(req, headers={**req.headers, "date": "soon"}), now())
    bad = replace(req, headers={**req.headers, "authorization": "AWS AKIAV2TEST"})
    with pytest.raises(IncompleteSignature):
        parse_s3_v2_header(bad, now())


def test_botocore_hmac_v1_presigned_url_with_token() -> None:
    creds = Credentials("ASIAV2", SECRET, "token/with+chars")
    aws = AWSRequest("GET", "http://127.0.0.1:9000/bucket/key?response-content-type=text/x")
    aws.auth_path = "/bucket/key"
    HmacV1QueryAuth(creds, expires=60).add_auth(aws)
    req = from_botocore(aws)
    parsed = parse_s3_v2_presigned(req, now())
    assert parsed.security_token == "token/with+chars"
    parsed.verify(SECRET)
    # A browser following the URL sends no x-amz-* headers: the query carries them.
    url_only = replace(req, headers={"host": req.headers["host"]})
    parse_s3_v2_presigned(url_only, now()).verify(SECRET)
    with pytest.raises(RequestExpired):
        parse_s3_v2_presigned(req, now() + timedelta(seconds=62))
    other = [(k, "text/y" if k == "response-content-type" else v) for k, v in req.query]
    with pytest.raises(SignatureMismatch):
        parse_s3_v2_presigned(replace(req, query=other), now()).verify(SECRET)


def test_boto2_hmac_v1(boto2: tuple[Any, Any, Any]) -> None:
    auth, connection, provider = boto2
    handler = auth.HmacAuthV1Handler("s3.local", None, provider.Provider("aws", "AKB", SECRET))
    headers = {"x-amz-meta-owner": "me", "Content-Type": "text/plain"}
    path = "/bucket/some%20key?versioning"
    boto_req = connection.HTTPRequest("PUT", "http", "s3.local", 80, path, None, {}, headers, "x")
    handler.add_auth(boto_req)
    raw_path, _, query = path.partition("?")
    sent = {name.lower(): value for name, value in boto_req.headers.items()}
    req = HttpRequest("PUT", raw_path, parse_qsl(query, keep_blank_values=True), sent, b"x")
    parse_s3_v2_header(req, now()).verify(SECRET)


def test_bad_s3_presigned() -> None:
    base = [("AWSAccessKeyId", "AK"), ("Signature", "c2ln")]
    for expires, error in (("tomorrow", InvalidDate), ("99999999999999999999", InvalidDate)):
        req = HttpRequest("GET", "/b/k", [*base, ("Expires", expires)], {"host": "h"})
        with pytest.raises(error):
            parse_s3_v2_presigned(req, now())
    with pytest.raises(IncompleteSignature):
        parse_s3_v2_presigned(HttpRequest("GET", "/b/k", base, {"host": "h"}), now())


def test_canonical_resource() -> None:
    query = [("uploads", ""), ("acl", ""), ("versionId", "v 1"), ("max-keys", "5")]
    req = HttpRequest("GET", "/key", query, {}, virtual_host_bucket="b")
    assert canonical_resource(req) == "/b/key?acl&uploads&versionId=v 1"
    assert canonical_resource(HttpRequest("GET", "", [], {})) == "/"
