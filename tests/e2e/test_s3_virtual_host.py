"""Virtual-hosted-style S3 (``BUCKET.s3.<dns_domain>``) on a server with a DNS domain: requests
signed with SigV4, SigV2 headers (s3cmd, boto 2) and SigV2 presigned URLs are accepted; SigV2
signs ``/bucket/key`` whatever the addressing, as S3 documents. Sent to the loopback address
with the virtual host in ``Host`` (no resolver is needed)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from controller.identity.service import Credentials
from tests.conftest import REGION, Server, running_server

DOMAIN = "localhost"


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(db_backend, tmp_path_factory,
                        {"IRONBARK_DNS_DOMAIN": DOMAIN}) as srv:
        yield srv


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"vhost-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _send(server: Server, request: AWSRequest, host: str) -> httpx.Response:
    """``request`` (signed for ``http://host/...``) sent to the server's loopback address."""
    url = httpx.URL(request.url)
    target = url.copy_with(scheme="http", host="127.0.0.1", port=server.port)
    headers = {k: v for k, v in request.headers.items()} | {"Host": host}
    return httpx.request(request.method, target, content=request.body or b"", headers=headers,
                         trust_env=False)


def _request(method: str, host: str, path: str, body: bytes = b"") -> AWSRequest:
    return AWSRequest(method=method, url=f"http://{host}{path}", data=body)


def _boto(creds: Credentials) -> BotoCredentials:
    return BotoCredentials(creds.access_key_id, creds.secret_access_key)


def test_sigv2_headers(server: Server, account: Credentials, bucket: str) -> None:
    host = f"{bucket}.s3.{DOMAIN}:{server.port}"

    def v2(method: str, path: str, body: bytes = b"", resource: str | None = None
           ) -> httpx.Response:
        request = _request(method, host, path, body)
        request.auth_path = resource if resource is not None else (
            f"/{bucket}{path.partition('?')[0]}")
        HmacV1Auth(_boto(account)).add_auth(request)
        return _send(server, request, host)

    assert v2("PUT", "/dir/key.txt", b"hello vhost").status_code == 200
    got = v2("GET", "/dir/key.txt")
    assert (got.status_code, got.content) == (200, b"hello vhost")
    listing = v2("GET", "/?prefix=dir/")
    assert listing.status_code == 200 and "<Key>dir/key.txt</Key>" in listing.text
    acl = v2("GET", "/dir/key.txt?acl")
    assert acl.status_code == 200 and "AccessControlPolicy" in acl.text
    assert v2("GET", "/").status_code == 200
    # Signed over the path alone (without the bucket), as some broken clients do: refused.
    wrong = v2("GET", "/dir/key.txt", resource="/dir/key.txt")
    assert wrong.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in wrong.text


def test_sigv2_presigned_and_sigv4(server: Server, account: Credentials, bucket: str,
                                   s3: Any) -> None:
    s3.put_object(Bucket=bucket, Key="shared", Body=b"presigned bytes")
    host = f"{bucket}.s3.{DOMAIN}:{server.port}"
    request = _request("GET", host, "/shared")
    request.auth_path = f"/{bucket}/shared"
    HmacV1QueryAuth(_boto(account), expires=300).add_auth(request)
    presigned = _send(server, request, host)
    assert (presigned.status_code, presigned.content) == (200, b"presigned bytes")
    v4 = _request("PUT", host, "/v4", b"sigv4 bytes")
    v4.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    S3SigV4Auth(_boto(account), "s3", REGION).add_auth(v4)
    assert _send(server, v4, host).status_code == 200
    assert s3.get_object(Bucket=bucket, Key="v4")["Body"].read() == b"sigv4 bytes"
