"""aws-chunked uploads end to end: boto3 sending ``STREAMING-UNSIGNED-PAYLOAD-TRAILER`` (its
default over HTTPS, forced here over HTTP) and a hand-signed
``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` body sent with httpx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import uuid
import zlib
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from controller.auth.sigv4 import signing_key
from controller.identity.service import Credentials
from tests.conftest import REGION, Server

pytestmark = pytest.mark.e2e
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"chunked-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _force_trailer(params: dict[str, Any], **_: Any) -> None:
    """Ask botocore for the trailing checksum it only uses over HTTPS."""
    algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
    if isinstance(algorithm, dict):
        algorithm["in"] = "trailer"


@pytest.fixture
def trailer_s3(s3: Any) -> Any:
    s3.meta.events.register("before-call.s3.PutObject", _force_trailer)
    s3.meta.events.register("before-call.s3.UploadPart", _force_trailer)
    sent: list[dict[str, str]] = []
    s3.meta.events.register("before-send.s3", lambda request, **_: sent.append(
        {k.lower(): v.decode() if isinstance(v, bytes) else v
         for k, v in request.headers.items()}))
    s3.sent = sent  # type: ignore[attr-defined]
    return s3


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_boto3_unsigned_trailer_put(trailer_s3: Any, bucket: str) -> None:
    data = b"streamed with a trailing checksum\n" * 5000
    reply = trailer_s3.put_object(Bucket=bucket, Key="k", Body=io.BytesIO(data))
    headers = trailer_s3.sent[-1]
    assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert headers["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert reply["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = trailer_s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == data
    assert got["ETag"] == reply["ETag"]
    assert "ContentEncoding" not in got  # aws-chunked is not the object's encoding


def test_boto3_trailer_checksum_mismatch(trailer_s3: Any, bucket: str) -> None:
    def corrupt(request: Any, **_: Any) -> None:
        body = request.body
        original = body.read

        def read(size: int = -1) -> bytes:
            return original(size).replace(b"x-amz-checksum-crc32:", b"x-amz-checksum-crc32:A")

        body.read = read

    trailer_s3.meta.events.register("before-send.s3.PutObject", corrupt)
    with pytest.raises(ClientError) as err:
        trailer_s3.put_object(Bucket=bucket, Key="bad", Body=io.BytesIO(b"x" * 1000))
    assert err.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError):
        trailer_s3.head_object(Bucket=bucket, Key="bad")


def test_boto3_trailer_upload_part(trailer_s3: Any, bucket: str) -> None:
    parts = [b"1" * (5 * 1024 * 1024), b"2" * 1000]
    upload = trailer_s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = [trailer_s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n + 1,
                                    Body=io.BytesIO(part))["ETag"]
             for n, part in enumerate(parts)]
    assert trailer_s3.sent[-1]["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert etags == [f'"{hashlib.md5(p).hexdigest()}"' for p in parts]
    trailer_s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]})
    assert trailer_s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"".join(parts)


class _StreamingAuth(S3SigV4Auth):
    def payload(self, request: Any) -> str:
        return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def _signed_put(server: Server, creds: Credentials, url_path: str, data: bytes,
                chunk: int, tamper: bool = False, decoded: int | None = None) -> httpx.Response:
    url = server.endpoint.rstrip("/") + url_path
    request = AWSRequest("PUT", url, headers={
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data) if decoded is None else decoded)})
    boto_creds = BotoCredentials(creds.access_key_id, creds.secret_access_key)
    _StreamingAuth(boto_creds, "s3", REGION).add_auth(request)
    headers = dict(request.headers.items())
    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    key = signing_key(creds.secret_access_key, amz_date[:8], REGION, "s3")
    body, previous = b"", seed
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for piece in pieces:
        message = "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY_SHA256,
                             hashlib.sha256(piece).hexdigest()))
        previous = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
        sent = piece.replace(b"a", b"b", 1) if tamper and piece else piece
        body += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(piece), previous.encode(), sent)
    headers.pop("host", None)
    headers["Host"] = urlsplit(url).netloc
    return httpx.put(url, content=body, headers=headers, trust_env=False)


def test_signed_chunks_put(server: Server, account: Credentials, s3: Any, bucket: str) -> None:
    data = b"a" * 70000 + b"tail"
    reply = _signed_put(server, account, f"/{bucket}/signed", data, chunk=65536)
    assert reply.status_code == 200, reply.text
    assert reply.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="signed")
    assert got["Body"].read() == data
    assert got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'


def test_signed_chunks_tampered(server: Server, account: Credentials, s3: Any,
                                bucket: str) -> None:
    reply = _signed_put(server, account, f"/{bucket}/tampered", b"a" * 20000, chunk=8192,
                        tamper=True)
    assert reply.status_code == 403
    assert b"SignatureDoesNotMatch" in reply.content
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="tampered")


def test_signed_chunks_wrong_decoded_length(server: Server, account: Credentials,
                                            bucket: str) -> None:
    reply = _signed_put(server, account, f"/{bucket}/short", b"a" * 100, chunk=64, decoded=150)
    assert reply.status_code == 400
    assert b"IncompleteBody" in reply.content
