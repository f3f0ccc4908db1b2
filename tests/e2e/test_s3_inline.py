"""Small objects are stored inline, in the database row with their metadata (no blob file);
larger ones as blob files. Clients cannot tell: every operation behaves the same either side
of the 64 KiB threshold."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

INLINE_MAX = 64 * 1024


def blob_files(server: Server) -> set[Path]:
    return {p for p in (server.data_dir / "objects" / "blobs").rglob("*") if p.is_file()}


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"inl-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.mark.parametrize("size", [0, 1, INLINE_MAX, INLINE_MAX + 1])
def test_round_trip_either_side_of_the_threshold(s3: Any, bucket: str, server: Server,
                                                 size: int) -> None:
    body = os.urandom(size)
    before = blob_files(server)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm="SHA256")
    new_files = blob_files(server) - before
    assert len(new_files) == (1 if size > INLINE_MAX else 0)
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got["ETag"] == put["ETag"]
    assert got["ChecksumSHA256"] == put["ChecksumSHA256"]
    if size > 10:
        part = s3.get_object(Bucket=bucket, Key="k", Range="bytes=3-9")
        assert part["Body"].read() == body[3:10] and part["ContentRange"].endswith(f"/{size}")
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == size


def test_copies_and_part_copies_of_inline_objects(s3: Any, bucket: str, server: Server) -> None:
    small = os.urandom(1000)
    s3.put_object(Bucket=bucket, Key="small", Body=small, Metadata={"a": "b"})
    before = blob_files(server)
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "small"})
    assert blob_files(server) == before  # the copy of an inline object is inline too
    copied = s3.get_object(Bucket=bucket, Key="copy")
    assert copied["Body"].read() == small and copied["Metadata"] == {"a": "b"}
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    first = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1,
                           Body=b"x" * (5 * 1024 * 1024))
    second = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=2,
                                 CopySource={"Bucket": bucket, "Key": "small"},
                                 CopySourceRange="bytes=10-99")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": first["ETag"]},
                  {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]})
    whole = s3.get_object(Bucket=bucket, Key="mp")["Body"].read()
    assert whole == b"x" * (5 * 1024 * 1024) + small[10:100]


def test_versions_and_deletes_of_inline_objects(s3: Any, bucket: str, server: Server) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    before = blob_files(server)
    one = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"two")
    s3.delete_object(Bucket=bucket, Key="v")
    assert s3.get_object(Bucket=bucket, Key="v", VersionId=one)["Body"].read() == b"one"
    for version in s3.list_object_versions(Bucket=bucket)["Versions"]:
        s3.delete_object(Bucket=bucket, Key="v", VersionId=version["VersionId"])
    assert blob_files(server) == before


def _put_raw(server: Server, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """An unsigned (anonymous) PUT by raw HTTP."""
    return httpx.put(server.endpoint.rstrip("/") + path, content=body, headers=headers,
                     trust_env=False)


def test_a_small_put_is_checked_in_the_order_s3_checks(s3: Any, bucket: str, server: Server,
                                                       make_s3: Any) -> None:
    """A small body is received before the bucket is read, but the errors keep S3's order:
    NoSuchBucket, then AccessDenied, then the body's digests; and a refused write changes
    nothing."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    bad_md5 = {"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}
    missing = _put_raw(server, f"/nobucket-{uuid.uuid4().hex[:12]}/k", b"data", bad_md5)
    assert missing.status_code == 404 and b"<Code>NoSuchBucket</Code>" in missing.content
    denied = _put_raw(server, f"/{bucket}/k", b"data", bad_md5)  # anonymous, private bucket
    assert denied.status_code == 403 and b"<Code>AccessDenied</Code>" in denied.content, denied.content
    other = make_s3(server.new_account())
    with pytest.raises(ClientError) as caught:
        other.put_object(Bucket=bucket, Key="k", Body=b"intruder")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5=bad_md5["Content-MD5"])
    assert caught.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", IfNoneMatch="*")
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate="2030-01-01T00:00:00Z")
    assert caught.value.response["Error"]["Code"] == "InvalidRequest"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"original"


def _first_status_line(server: Server, request: bytes, body: bytes | None) -> list[bytes]:
    """Send ``request`` (head only) on a raw socket; if the server invites the body with
    ``100 Continue``, send ``body``. The status lines of what came back, in order."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        data = sock.recv(65536)
        lines = [data.split(b"\r\n", 1)[0]]
        if lines[0].startswith(b"HTTP/1.1 100") and body is not None:
            sock.sendall(body)
            rest = data.split(b"\r\n\r\n", 1)[1]
            while b"\r\n\r\n" not in rest:
                rest += sock.recv(65536)
            lines.append(rest.split(b"\r\n", 1)[0])
        return lines


def test_expect_100_continue_is_refused_before_the_body(s3: Any, bucket: str,
                                                         server: Server) -> None:
    """A small PUT that waits for ``100 Continue`` is refused without it when it may not
    write (S3 checks access before inviting the body); an allowed one gets it, then 200."""
    host = f"127.0.0.1:{server.port}"
    anonymous = (f"PUT /{bucket}/k HTTP/1.1\r\nHost: {host}\r\nContent-Length: 123\r\n"
                 "Expect: 100-continue\r\n\r\n").encode()
    assert _first_status_line(server, anonymous, b"x" * 123)[0].startswith(b"HTTP/1.1 403")
    missing = anonymous.replace(f"/{bucket}/".encode(), b"/nobucket-expect-100/")
    assert _first_status_line(server, missing, b"x" * 123)[0].startswith(b"HTTP/1.1 404")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"})
    path = url.split(host, 1)[1]
    allowed = (f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n"
               "Expect: 100-continue\r\n\r\n").encode()
    statuses = _first_status_line(server, allowed, b"hello")
    assert [line[:12] for line in statuses] == [b"HTTP/1.1 100", b"HTTP/1.1 200"], statuses
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"


def test_a_client_hanging_up_before_its_body_is_no_server_error(s3: Any, bucket: str,
                                                                 server: Server) -> None:
    """A client that is invited (``100 Continue``) and hangs up without its body: nothing is
    stored and the server answers IncompleteBody, not an unhandled InternalError."""
    host = f"127.0.0.1:{server.port}"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "gone"})
    request = (f"PUT {url.split(host, 1)[1]} HTTP/1.1\r\nHost: {host}\r\n"
               "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n").encode()
    before = server.log_text().count("s3.unhandled")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        assert sock.recv(65536).startswith(b"HTTP/1.1 100")
    deadline = time.monotonic() + 10
    while "IncompleteBody" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.log_text().count("s3.unhandled") == before
    assert "code=IncompleteBody" in server.log_text()
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="gone")


def test_overwrites_in_a_never_versioned_bucket_keep_one_row_and_free_old_blobs(
        s3: Any, bucket: str, server: Server) -> None:
    """Overwriting rewrites the key's null version in place: inline → blob → inline leaves
    one version and no blob file behind, and listings see the key once."""
    before = blob_files(server)
    s3.put_object(Bucket=bucket, Key="k", Body=b"a" * 10)
    s3.put_object(Bucket=bucket, Key="k", Body=os.urandom(INLINE_MAX + 1))
    assert len(blob_files(server) - before) == 1
    s3.put_object(Bucket=bucket, Key="k", Body=b"b" * 10, Metadata={"m": "1"})
    assert blob_files(server) == before
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"b" * 10 and got["Metadata"] == {"m": "1"}
    versions = s3.list_object_versions(Bucket=bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions["Versions"]] == [
        ("k", "null", True)]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
