"""Bucket CORS end to end: the configuration through boto3, the AWS CLI and boto 2; anonymous
OPTIONS preflights and the Access-Control-* headers of actual requests, through raw httpx."""

from __future__ import annotations

import uuid
import warnings
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import AwsCli, AwsCliError, Server
from tests.e2e.signing import signed

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from boto.exception import S3ResponseError
    from boto.s3.cors import CORSConfiguration

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
RULES: dict[str, Any] = {"CORSRules": [
    {"ID": "site", "AllowedOrigins": ["http://*.example.com"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["x-amz-*", "Content-Type"], "ExposeHeaders": ["ETag"],
     "MaxAgeSeconds": 3000},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]}


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"cors-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def _options(url: str, **headers: str) -> httpx.Response:
    return httpx.options(url, headers=headers, trust_env=False)


# --- the configuration ------------------------------------------------------------------------

def test_cors_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_cors(Bucket=bucket)
    assert _error(caught) == ("NoSuchCORSConfiguration", 404)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES["CORSRules"]
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_cors(Bucket=bucket)
    assert _error(caught) == ("NoSuchCORSConfiguration", 404)


@pytest.mark.parametrize(("rules", "code", "message"), [
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PATCH"]}], "InvalidRequest",
     "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
    ([{"AllowedOrigins": ["http://*.*.com"], "AllowedMethods": ["GET"]}], "InvalidRequest",
     'AllowedOrigin "http://*.*.com" can not have more than one wildcard.'),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["*-*"]}],
     "InvalidRequest", 'AllowedHeader "*-*" can not have more than one wildcard.'),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, "MalformedXML", None),
    ([], "MalformedXML", None),
])
def test_invalid_configurations(s3: Any, bucket: str, rules: list[dict[str, Any]], code: str,
                                message: str | None) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert _error(caught) == (code, 400)
    if message is not None:
        assert caught.value.response["Error"]["Message"] == message
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)


def test_malformed_xml(server: Server, account: Credentials, bucket: str) -> None:
    url = f"{server.endpoint}{bucket}?cors"
    for body in ((b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>"
                 b"</CORSConfiguration>"), b"<CORSConfiguration>", b"not xml"):
        reply = signed(account, "PUT", url, body)
        assert reply.status_code == 400 and "<Code>MalformedXML</Code>" in reply.text


def test_cli_cors(aws: AwsCli) -> None:
    name = f"cors-{uuid.uuid4().hex[:16]}"
    aws("s3api", "create-bucket", "--bucket", name)
    with pytest.raises(AwsCliError) as caught:
        aws("s3api", "get-bucket-cors", "--bucket", name)
    assert caught.value.code == "NoSuchCORSConfiguration"
    aws("s3api", "put-bucket-cors", "--bucket", name, "--cors-configuration",
        '{"CORSRules": [{"AllowedOrigins": ["https://app.example.org"], '
        '"AllowedMethods": ["GET", "POST"], "MaxAgeSeconds": 60}]}')
    assert aws("s3api", "get-bucket-cors", "--bucket", name) == {"CORSRules": [
        {"AllowedOrigins": ["https://app.example.org"], "AllowedMethods": ["GET", "POST"],
         "MaxAgeSeconds": 60}]}
    aws("s3api", "delete-bucket-cors", "--bucket", name)


def test_boto2_cors(boto2_s3: Any, s3: Any, bucket: str) -> None:
    b2 = boto2_s3.get_bucket(bucket)
    with pytest.raises(S3ResponseError) as caught:
        b2.get_cors()
    assert caught.value.status == 404 and caught.value.error_code == "NoSuchCORSConfiguration"
    config = CORSConfiguration()
    config.add_rule(["PUT", "POST"], "http://www.example.com", allowed_header="*",
                    max_age_seconds=3000, expose_header="x-amz-server-side-encryption")
    config.add_rule("GET", "*", id="public")
    b2.set_cors(config)
    got = b2.get_cors()
    assert [(r.allowed_method, r.allowed_origin, r.max_age_seconds) for r in got] == [
        (["PUT", "POST"], ["http://www.example.com"], 3000), (["GET"], ["*"], None)]
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][1]["ID"] == "public"
    b2.delete_cors()
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)


# --- preflight --------------------------------------------------------------------------------

def test_preflight_allowed(s3: Any, server: Server, bucket: str) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    for url in (f"{server.endpoint}{bucket}", f"{server.endpoint}{bucket}/any/key.txt"):
        reply = _options(url, Origin="http://www.example.com",
                         **{"Access-Control-Request-Method": "PUT",
                            "Access-Control-Request-Headers": "X-Amz-Date, content-type"})
        assert reply.status_code == 200, reply.text
        h = reply.headers
        assert h["access-control-allow-origin"] == "http://www.example.com"
        assert h["access-control-allow-methods"] == "GET, PUT"
        assert h["access-control-allow-headers"] == "x-amz-date, content-type"
        assert h["access-control-max-age"] == "3000"
        assert h["access-control-expose-headers"] == "ETag"
        assert h["access-control-allow-credentials"] == "true"
        assert h["vary"] == VARY
    wildcard = _options(f"{server.endpoint}{bucket}/k", Origin="https://elsewhere.net",
                        **{"Access-Control-Request-Method": "HEAD"})
    assert wildcard.status_code == 200
    assert wildcard.headers["access-control-allow-origin"] == "*"
    assert wildcard.headers["access-control-allow-methods"] == "HEAD"
    assert "access-control-allow-credentials" not in wildcard.headers


def test_preflight_refusals(s3: Any, server: Server, bucket: str) -> None:
    url = f"{server.endpoint}{bucket}/k"
    get = {"Access-Control-Request-Method": "GET"}
    no_config = _options(url, Origin="http://www.example.com", **get)
    assert no_config.status_code == 403 and "<Code>AccessForbidden</Code>" in no_config.text
    assert "CORSResponse: This CORS request is not allowed." in no_config.text
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    cases: list[tuple[dict[str, str], int, str]] = [
        (get, 400, "BadRequest"),  # no Origin
        ({"Origin": "http://www.example.com"}, 400, "BadRequest"),  # no method
        ({"Origin": "http://www.example.com", "Access-Control-Request-Method": "PATCH"}, 400,
         "BadRequest"),
        ({"Origin": "http://evil.org", **get}, 403, "AccessForbidden"),
        ({"Origin": "http://www.example.com", "Access-Control-Request-Method": "DELETE"}, 403,
         "AccessForbidden"),
        ({"Origin": "http://www.example.com", **get,
          "Access-Control-Request-Headers": "authorization"}, 403, "AccessForbidden"),
    ]
    for headers, status, code in cases:
        reply = _options(url, **headers)
        assert (reply.status_code, f"<Code>{code}</Code>" in reply.text) == (status, True)
        assert "access-control-allow-origin" not in reply.headers
    missing = _options(f"{server.endpoint}no-such-{uuid.uuid4().hex[:10]}/k",
                       Origin="http://www.example.com", **get)
    assert missing.status_code == 404 and "<Code>NoSuchBucket</Code>" in missing.text
    origin_needed = _options(url, **get)
    assert "Insufficient information. Origin request header needed." in origin_needed.text


# --- actual requests --------------------------------------------------------------------------

def test_actual_requests_get_cors_headers(s3: Any, server: Server, bucket: str) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    origin = {"Origin": "http://app.example.com"}
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"})
    put = httpx.put(put_url, content=b"hello", headers=origin, trust_env=False)
    assert put.status_code == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    get = httpx.get(get_url, headers=origin, trust_env=False)
    assert (get.status_code, get.content) == (200, b"hello")
    for reply in (put, get):
        h = reply.headers
        assert h["access-control-allow-origin"] == "http://app.example.com"
        assert h["access-control-allow-methods"] == "GET, PUT"
        assert h["access-control-expose-headers"] == "ETag"
        assert h["access-control-max-age"] == "3000"
        assert h["access-control-allow-credentials"] == "true"
        assert h["vary"] == VARY
        assert "access-control-allow-headers" not in h
    # Errors carry them too (an anonymous GET is denied; a missing key is 404).
    denied = httpx.get(f"{server.endpoint}{bucket}/k", headers=origin, trust_env=False)
    assert denied.status_code == 403
    assert denied.headers["access-control-allow-origin"] == "http://app.example.com"
    missing_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "no"})
    missing = httpx.get(missing_url, headers=origin, trust_env=False)
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == "http://app.example.com"


def test_actual_requests_without_a_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    assert "access-control-allow-origin" not in httpx.get(
        url, headers={"Origin": "http://app.example.com"}, trust_env=False).headers  # no config
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    for origin in ("http://evil.org", None):  # the origin matches no GET rule / no Origin
        headers = {"Origin": origin} if origin else {}
        reply = httpx.get(url, headers=headers, trust_env=False)
        assert reply.status_code == 200
        assert not any(n.startswith("access-control-") for n in reply.headers)
    delete_url = s3.generate_presigned_url("delete_object", Params={"Bucket": bucket, "Key": "k"})
    deleted = httpx.delete(delete_url, headers={"Origin": "http://app.example.com"},
                           trust_env=False)
    assert deleted.status_code == 204 and "access-control-allow-origin" not in deleted.headers


def test_preflight_on_a_presigned_url(s3: Any, bucket: str) -> None:
    """Browsers send the preflight to the presigned URL itself: the query signature (made for
    the PUT) must not make the OPTIONS request fail authentication."""
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up"},
                                    ExpiresIn=300)
    assert _options(url).status_code == 400  # no Origin: S3's 400, not a signature error
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    reply = _options(url, Origin="http://www.example.com",
                     **{"Access-Control-Request-Method": "PUT"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["access-control-allow-origin"] == "http://www.example.com"
