"""PutObject, GetObject, HeadObject and DeleteObject end to end: boto3 (SigV4 headers and
presigned URLs), the AWS CLI (``s3api`` and ``s3 cp``) and boto 2 (SigV2 headers, path style)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import AwsCli

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from boto.exception import S3ResponseError


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"obj-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _status(err: pytest.ExceptionInfo[ClientError]) -> int:
    return int(err.value.response["ResponseMetadata"]["HTTPStatusCode"])


def _md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


# --- put / get / head / delete ----------------------------------------------------------------

def test_put_get_head_delete(s3: Any, bucket: str) -> None:
    data = b"hello, ironbark"
    put = s3.put_object(Bucket=bucket, Key="greeting.txt", Body=data)
    etag = f'"{hashlib.md5(data).hexdigest()}"'
    assert put["ETag"] == etag and "VersionId" not in put
    got = s3.get_object(Bucket=bucket, Key="greeting.txt")
    assert got["Body"].read() == data
    assert got["ETag"] == etag and got["ContentLength"] == len(data)
    assert got["ContentType"] == "binary/octet-stream" and got["AcceptRanges"] == "bytes"
    assert abs(got["LastModified"] - datetime.now(UTC)) < timedelta(minutes=2)
    head = s3.head_object(Bucket=bucket, Key="greeting.txt")
    assert head["ContentLength"] == len(data) and head["ETag"] == etag
    deleted = s3.delete_object(Bucket=bucket, Key="greeting.txt")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="greeting.txt")
    assert _code(err) == "NoSuchKey"
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key="greeting.txt")
    assert _status(err) == 404
    s3.delete_object(Bucket=bucket, Key="greeting.txt")  # deleting nothing succeeds


def test_overwrite_replaces(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", Metadata={"v": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second" and got["Metadata"] == {}
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


def test_missing_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=f"nope-{uuid.uuid4().hex[:8]}", Key="k", Body=b"x")
    assert _code(err) == "NoSuchBucket"


def test_metadata_and_standard_headers(s3: Any, bucket: str) -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    s3.put_object(
        Bucket=bucket, Key="doc", Body=b"{}", ContentType="application/json",
        ContentEncoding="identity", ContentDisposition='attachment; filename="d.json"',
        ContentLanguage="en-GB", CacheControl="max-age=60", Expires=expires,
        WebsiteRedirectLocation="/elsewhere", Metadata={"colour": "blue", "Mixed-Case": "Yes"})
    head = s3.head_object(Bucket=bucket, Key="doc")
    assert head["ContentType"] == "application/json"
    assert head["ContentEncoding"] == "identity"
    assert head["ContentDisposition"] == 'attachment; filename="d.json"'
    assert head["ContentLanguage"] == "en-GB" and head["CacheControl"] == "max-age=60"
    assert head["Expires"] == expires
    assert head["WebsiteRedirectLocation"] == "/elsewhere"
    assert head["Metadata"] == {"colour": "blue", "mixed-case": "Yes"}


def test_non_ascii_metadata_is_signed_as_sent_and_returned_rfc2047(s3: Any, bucket: str) -> None:
    """botocore refuses non-ASCII metadata itself; set past its check, it sends (and signs) the
    value's UTF-8 bytes. S3 accepts it and returns it RFC 2047 encoded, as its docs say."""
    def unicode_metadata(params: dict[str, Any], **_: Any) -> None:
        params["headers"]["x-amz-meta-meta1"] = "Hello World\xe9"

    s3.meta.events.register("before-call.s3.PutObject", unicode_metadata)
    try:
        s3.put_object(Bucket=bucket, Key="unicode", Body=b"x")
    finally:
        s3.meta.events.unregister("before-call.s3.PutObject", unicode_metadata)
    sent = s3.head_object(Bucket=bucket, Key="unicode")["Metadata"]["meta1"]
    assert sent == "=?UTF-8?B?" + base64.b64encode("Hello World\xe9".encode()).decode() + "?="
    assert str(make_header(decode_header(sent))) == "Hello World\xe9"
    got = s3.get_object(Bucket=bucket, Key="unicode")["Metadata"]["meta1"]
    assert got == sent


def test_metadata_too_large(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"big": "v" * 2100})
    assert _code(err) == "MetadataTooLarge"


def test_zero_byte_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b"" and got["ContentLength"] == 0
    assert got["ETag"] == f'"{hashlib.md5(b"").hexdigest()}"'
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="empty", Range="bytes=0-0")
    assert _code(err) == "InvalidRange"


def test_twenty_mib_round_trip(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(20 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="big.bin", Body=data)
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    body = got["Body"].read()
    assert len(body) == len(data)
    assert hashlib.md5(body).hexdigest() == hashlib.md5(data).hexdigest()
    assert got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'


# --- integrity ------------------------------------------------------------------------------

def test_content_md5(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5=_md5_b64(b"data"))
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5=_md5_b64(b"other"))
    assert _code(err) == "BadDigest"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5="not base64!")
    assert _code(err) == "InvalidDigest"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"


def test_additional_checksums(s3: Any, bucket: str) -> None:
    data = b"checked bytes"
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    put = s3.put_object(Bucket=bucket, Key="c", Body=data, ChecksumSHA256=sha)
    assert put["ChecksumSHA256"] == sha
    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha
    wrong = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="c", Body=data, ChecksumSHA256=wrong)
    assert _code(err) == "BadDigest"
    for malformed in ("bad", base64.b64encode(b"too short").decode()):  # not a SHA-256
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket=bucket, Key="c", Body=data, ChecksumSHA256=malformed)
        assert _code(err) == "InvalidRequest"
    assert head["ChecksumType"] == "FULL_OBJECT"


def test_crc64nvme_checksum(s3: Any, bucket: str) -> None:
    """CRC64NVME, the newest default of the AWS SDKs, checked and kept like the others."""
    crc = "Qeh8oXvGiSo="  # CRC-64/NVME of 1 KiB of "A"
    put = s3.put_object(Bucket=bucket, Key="n", Body=b"A" * 1024, ChecksumCRC64NVME=crc)
    assert put["ChecksumCRC64NVME"] == crc
    assert "ChecksumCRC64NVME" not in s3.head_object(Bucket=bucket, Key="n")
    head = s3.head_object(Bucket=bucket, Key="n", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == crc and head["ChecksumType"] == "FULL_OBJECT"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="n", Body=b"A" * 1024, ChecksumCRC64NVME="AAAAAAAAAAA=")
    assert _code(err) == "BadDigest"


def test_content_encoding_kept_as_sent_without_aws_chunked(s3: Any, bucket: str) -> None:
    """Content-Encoding is stored as sent; an aws-chunked coding (a transfer detail) is dropped,
    and on a plain body (no streaming payload hash) it is only a label, not a framing."""
    for sent, kept in [("deflate, gzip", "deflate, gzip"), ("gzip, aws-chunked", "gzip"),
                       ("aws-chunked, gzip", "gzip"), ("aws-chunked", None)]:
        s3.put_object(Bucket=bucket, Key="e", Body=b"x", ContentEncoding=sent)
        head = s3.head_object(Bucket=bucket, Key="e")
        assert head.get("ContentEncoding") == kept
        assert s3.get_object(Bucket=bucket, Key="e")["Body"].read() == b"x"


# --- ranges and conditions ------------------------------------------------------------------

@pytest.mark.parametrize(("header", "expected", "content_range"), [
    ("bytes=0-4", b"01234", "bytes 0-4/10"),
    ("bytes=5-", b"56789", "bytes 5-9/10"),
    ("bytes=-3", b"789", "bytes 7-9/10"),
    ("bytes=8-100", b"89", "bytes 8-9/10"),
    ("bytes=-100", b"0123456789", "bytes 0-9/10"),
])
def test_range(s3: Any, bucket: str, header: str, expected: bytes, content_range: str) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="digits", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == expected and got["ContentRange"] == content_range
    assert got["ContentLength"] == len(expected)


def test_range_unsatisfiable_and_ignored(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="digits", Range="bytes=10-")
    assert _code(err) == "InvalidRange" and _status(err) == 416
    whole = s3.get_object(Bucket=bucket, Key="digits", Range="bytes=0-1,3-4")
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert whole["Body"].read() == b"0123456789"


def test_conditional_get(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    etag = put["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    before, after = modified - timedelta(hours=1), modified + timedelta(hours=1)
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == b"v"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k", IfMatch='"0000"')
    assert _code(err) == "PreconditionFailed" and _status(err) == 412
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=etag)
    assert _status(err) == 304
    assert err.value.response["ResponseMetadata"]["HTTPHeaders"]["etag"] == etag  # as S3 does
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=after)
    assert _status(err) == 304
    assert "last-modified" in err.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=before)["Body"].read() == b"v"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k", IfUnmodifiedSince=before)
    assert _status(err) == 412
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key="k", IfMatch='"0000"')
    assert _status(err) == 412
    # If-Match holds, so If-Unmodified-Since is not consulted (RFC 7232 as S3 applies it)
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag,
                         IfUnmodifiedSince=before)["Body"].read() == b"v"


# --- keys -----------------------------------------------------------------------------------

KEYS = [
    "unicode/ünïcødé-日本語-🎉", "with spaces/and  doubles ", "../../etc/passwd", "a/../b",
    "/leading/slash", "//double//slashes//", "trailing/", "tab\there", "plus+and%percent",
    "query?and#hash&amp", "semi;colon=equals", "tilde~star*quote'\"", "k" * 1024,
    "é" * 512,
    "new\nline",
    "carriage\rreturn",
]


@pytest.mark.parametrize("key", KEYS)
def test_awkward_keys(s3: Any, bucket: str, key: str) -> None:
    data = key.encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_too_long(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert _code(err) == "KeyTooLongError"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"x")  # 1,026 bytes in UTF-8
    assert _code(err) == "KeyTooLongError"


# --- presigned URLs (SigV4 query auth) -------------------------------------------------------

def test_presigned_get_and_put(s3: Any, bucket: str) -> None:
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p k"},
                                        ExpiresIn=300)
    reply = httpx.put(put_url, content=b"presigned body", trust_env=False)
    assert reply.status_code == 200, reply.text
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p k"},
                                        ExpiresIn=300)
    reply = httpx.get(get_url, trust_env=False)
    assert reply.status_code == 200 and reply.content == b"presigned body"
    tampered = get_url.replace("p%20k", "other")
    reply = httpx.get(tampered, trust_env=False)
    assert reply.status_code == 403 and "SignatureDoesNotMatch" in reply.text


def test_presigned_response_overrides(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="doc", Body=b"x", ContentType="text/plain")
    url = s3.generate_presigned_url("get_object", ExpiresIn=300, Params={
        "Bucket": bucket, "Key": "doc", "ResponseContentType": "application/x-custom",
        "ResponseContentDisposition": 'attachment; filename="x.bin"',
        "ResponseCacheControl": "no-cache", "ResponseContentLanguage": "fr",
        "ResponseExpires": datetime(2031, 1, 1, tzinfo=UTC),
        "ResponseContentEncoding": "identity"})
    reply = httpx.get(url, trust_env=False)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/x-custom"
    assert reply.headers["content-disposition"] == 'attachment; filename="x.bin"'
    assert reply.headers["cache-control"] == "no-cache"
    assert reply.headers["content-language"] == "fr"
    assert reply.headers["content-encoding"] == "identity"
    assert reply.headers["expires"] == format_datetime(datetime(2031, 1, 1, tzinfo=UTC),
                                                       usegmt=True)


def test_presigned_expired(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                    ExpiresIn=1)
    time.sleep(2.1)
    reply = httpx.get(url, trust_env=False)
    assert reply.status_code == 403 and "AccessDenied" in reply.text


# --- boto 2 (SigV2 header auth) --------------------------------------------------------------

def test_boto2_object_round_trip(boto2_s3: Any, s3: Any, bucket: str) -> None:
    b2 = boto2_s3.get_bucket(bucket)
    key = b2.new_key("boto2/ünï code.txt")
    key.set_metadata("colour", "green")
    key.set_contents_from_string("from boto 2", headers={"Content-Type": "text/plain"})
    fetched = b2.get_key("boto2/ünï code.txt")
    assert fetched.get_contents_as_string() == b"from boto 2"
    assert fetched.content_type == "text/plain" and fetched.get_metadata("colour") == "green"
    assert fetched.etag == f'"{hashlib.md5(b"from boto 2").hexdigest()}"'
    head = s3.head_object(Bucket=bucket, Key="boto2/ünï code.txt")
    assert head["Metadata"] == {"colour": "green"}
    partial = b2.get_key("boto2/ünï code.txt").get_contents_as_string(
        headers={"Range": "bytes=5-10"})
    assert partial == b"boto 2"
    assert b2.get_key("missing") is None
    b2.delete_key("boto2/ünï code.txt")
    assert b2.get_key("boto2/ünï code.txt") is None


def test_boto2_errors_and_md5(boto2_s3: Any, bucket: str) -> None:
    b2 = boto2_s3.get_bucket(bucket)
    key = b2.new_key("k")
    key.set_contents_from_string("checked", md5=key.compute_md5(io.BytesIO(b"checked")))
    with pytest.raises(S3ResponseError) as err:
        key.set_contents_from_string("checked", md5=(hashlib.md5(b"nope").hexdigest(),
                                                     _md5_b64(b"nope")))
    assert err.value.error_code == "BadDigest"
    with pytest.raises(S3ResponseError) as err:
        b2.new_key("missing").get_contents_as_string()
    assert err.value.error_code == "NoSuchKey"


def test_boto2_generate_url(boto2_s3: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared", Body=b"v2 query auth")
    url = boto2_s3.generate_url(300, "GET", bucket=bucket, key="shared")
    reply = httpx.get(url, trust_env=False)
    assert reply.status_code == 200, reply.text
    assert reply.content == b"v2 query auth"


# --- the AWS CLI ----------------------------------------------------------------------------

def test_cli_s3api_put_get_head(aws: AwsCli, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"cli bytes")
    out = aws("s3api", "put-object", "--bucket", bucket, "--key", "c/k", "--body", str(source),
              "--content-type", "text/x-cli", "--metadata", "who=cli")
    assert out["ETag"] == f'"{hashlib.md5(b"cli bytes").hexdigest()}"'
    head = aws("s3api", "head-object", "--bucket", bucket, "--key", "c/k")
    assert head["ContentType"] == "text/x-cli" and head["Metadata"] == {"who": "cli"}
    target = tmp_path / "out.bin"
    got = aws("s3api", "get-object", "--bucket", bucket, "--key", "c/k", "--range",
              "bytes=4-", str(target))
    assert got["ContentRange"] == "bytes 4-8/9" and target.read_bytes() == b"bytes"
    assert aws("s3api", "delete-object", "--bucket", bucket, "--key", "c/k") is None


def test_cli_s3_cp_up_and_down(aws: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "up.bin"
    data = os.urandom(5 * 1024 * 1024 + 7)  # under the CLI's 8 MiB multipart threshold
    source.write_bytes(b"small file")
    assert aws("s3", "cp", str(source), f"s3://{bucket}/small.txt", "--only-show-errors") is None
    assert s3.get_object(Bucket=bucket, Key="small.txt")["Body"].read() == b"small file"
    down = tmp_path / "down.bin"
    aws("s3", "cp", f"s3://{bucket}/small.txt", str(down), "--only-show-errors")
    assert down.read_bytes() == b"small file"
    big = tmp_path / "big.bin"
    big.write_bytes(data)
    aws("s3", "cp", str(big), f"s3://{bucket}/big.bin", "--only-show-errors")
    aws("s3", "cp", f"s3://{bucket}/big.bin", str(tmp_path / "big.out"), "--only-show-errors")
    assert hashlib.md5((tmp_path / "big.out").read_bytes()).digest() == hashlib.md5(data).digest()
    aws("s3", "rm", f"s3://{bucket}/small.txt", "--only-show-errors")
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["big.bin"]


def test_conditional_put(s3: Any, bucket: str) -> None:
    """Conditional writes: If-None-Match: * creates only, If-Match replaces only that ETag."""
    first = s3.put_object(Bucket=bucket, Key="c", Body=b"one", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="c", Body=b"two", IfNoneMatch="*")
    assert _code(err) == "PreconditionFailed" and _status(err) == 412
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="c", Body=b"two", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert _code(err) == "PreconditionFailed" and _status(err) == 412
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"one"
    s3.put_object(Bucket=bucket, Key="c", Body=b"two", IfMatch=first)
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"two"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=first)
    assert _code(err) == "NoSuchKey" and _status(err) == 404


def test_http_chunked_transfer_without_content_length(s3: Any, bucket: str) -> None:
    """A PUT whose body comes with ``Transfer-Encoding: chunked`` and no Content-Length (the
    signed payload hash still covers it) is stored whole."""

    def chunked(request: Any, **_: Any) -> None:
        request.headers.add_header("Transfer-Encoding", "chunked")

    s3.meta.events.register_first("before-sign.s3.PutObject", chunked)
    try:
        body = b"0123456789" * 100_000
        s3.put_object(Bucket=bucket, Key="te", Body=body)
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", chunked)
    assert s3.get_object(Bucket=bucket, Key="te")["Body"].read() == body
