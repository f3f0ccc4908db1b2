"""Server-side encryption with S3-managed keys (SSE-S3, AES256) end to end: objects written
with ``x-amz-server-side-encryption: AES256`` or into a bucket whose default encryption is
AES256 are stored encrypted (the bytes at rest are not the plaintext), read back whole, by
range and by part, copied both ways, uploaded in parts (SSE-KMS: ``test_s3_sse_kms.py``;
SSE-C: ``test_s3_sse_c.py``). boto3, the AWS CLI and boto 2."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from controller.db.models import S3Object
from tests.conftest import Server
from tests.e2e.refusals import error_code

MIB = 1024 * 1024
AES = "AES256"


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"sse-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _stored(server: Server, bucket: str, key: str) -> bytes:
    """The bytes Ironbark keeps for the latest version of ``key``: its row's or its blob's."""
    _, sessions, _ = server._database()
    with sessions() as session:
        row = session.scalar(select(S3Object).where(
            S3Object.bucket == bucket, S3Object.key == key, S3Object.is_latest.is_(True)))
        assert row is not None
        if row.inline_data is not None:
            return bytes(row.inline_data)
        blob = row.blob_id
    assert blob is not None
    return bytes((server.data_dir / "objects" / "blobs" / blob[:2] / blob[2:4] / blob).read_bytes())


def test_put_and_get_small_and_large(s3: Any, bucket: str, server: Server) -> None:
    small = b"small secret " * 100
    large = os.urandom(3 * MIB + 12345)
    for key, body in (("small", small), ("large", large)):
        put = s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption=AES)
        assert put["ServerSideEncryption"] == AES
        assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # of the plaintext
        assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == AES
        got = s3.get_object(Bucket=bucket, Key=key)
        assert (got["ServerSideEncryption"], got["Body"].read()) == (AES, body)
        at_rest = _stored(server, bucket, key)
        assert len(at_rest) == len(body) and at_rest != body
        assert body[:64] not in at_rest
    for first, last in ((0, 0), (5, 17), (1_048_570, 1_048_600), (len(large) - 7, len(large) - 1)):
        part = s3.get_object(Bucket=bucket, Key="large", Range=f"bytes={first}-{last}")
        assert part["Body"].read() == large[first:last + 1]
    assert s3.get_object(Bucket=bucket, Key="small", Range="bytes=13-30")["Body"].read() == (
        small[13:31])
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    head = s3.head_object(Bucket=bucket, Key="plain")
    assert "ServerSideEncryption" not in head
    assert _stored(server, bucket, "plain") == b"plain"


def test_bucket_default_encryption(s3: Any, bucket: str, server: Server) -> None:
    assert error_code(s3.get_bucket_encryption, Bucket=bucket) == (
        "ServerSideEncryptionConfigurationNotFoundError", 404)
    config = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": AES},
                         "BucketKeyEnabled": True}]}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config)
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"] == config
    body = b"encrypted by default " * 10
    assert s3.put_object(Bucket=bucket, Key="k", Body=body)["ServerSideEncryption"] == AES
    assert body not in _stored(server, bucket, "k")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    big = os.urandom(200 * 1024)  # past the inline size: a blob, streamed
    s3.put_object(Bucket=bucket, Key="big", Body=big)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == big
    assert big[:64] not in _stored(server, bucket, "big")
    s3.delete_bucket_encryption(Bucket=bucket)
    assert error_code(s3.get_bucket_encryption, Bucket=bucket) == (
        "ServerSideEncryptionConfigurationNotFoundError", 404)
    assert "ServerSideEncryption" not in s3.put_object(Bucket=bucket, Key="after", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body  # still readable


def test_bucket_encryption_errors(s3: Any, bucket: str, server: Server, make_s3: Any) -> None:
    def put(rule: dict[str, Any]) -> tuple[str | None, int | None]:
        return error_code(s3.put_bucket_encryption, Bucket=bucket,
                          ServerSideEncryptionConfiguration={"Rules": [rule]})

    assert put({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "ROT13"}}) == (
        "MalformedXML", 400)
    assert put({"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": AES, "KMSMasterKeyID": "alias/x"}}) == ("InvalidArgument", 400)
    assert error_code(s3.get_bucket_encryption, Bucket=bucket) == (
        "ServerSideEncryptionConfigurationNotFoundError", 404)
    other = make_s3(server.new_account())
    assert error_code(other.put_bucket_encryption, Bucket=bucket,
                      ServerSideEncryptionConfiguration={"Rules": [
                     {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": AES}}]}) == (
        "AccessDenied", 403)
    assert error_code(other.get_bucket_encryption, Bucket=bucket) == ("AccessDenied", 403)


def test_multipart_and_part_copies(s3: Any, bucket: str, server: Server) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB + 3), os.urandom(1234)]
    created = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption=AES)
    assert created["ServerSideEncryption"] == AES
    uid = created["UploadId"]
    etags = []
    for number, body in enumerate(parts, 1):
        done = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=number, Body=body)
        assert done["ServerSideEncryption"] == AES
        etags.append(done["ETag"])
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=parts[1])  # again
    finished = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                            MultipartUpload={"Parts": [
                                                {"PartNumber": n, "ETag": e}
                                                for n, e in enumerate(etags, 1)]})
    assert finished["ServerSideEncryption"] == AES
    whole = b"".join(parts)
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == whole
    assert parts[0][:64] not in _stored(server, bucket, "mp")
    edge = 5 * MIB  # across the boundary of parts 1 and 2, and of 2 and 3
    for first, last in ((edge - 10, edge + 10), (2 * edge - 5, len(whole) - 1), (0, 15)):
        got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={first}-{last}")
        assert got["Body"].read() == whole[first:last + 1]
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)["Body"].read() == parts[1]
    # Part copies: from an encrypted source into a plain upload, and back.
    plain = s3.create_multipart_upload(Bucket=bucket, Key="from-sse")["UploadId"]
    copied = s3.upload_part_copy(Bucket=bucket, Key="from-sse", UploadId=plain, PartNumber=1,
                                 CopySource={"Bucket": bucket, "Key": "mp"},
                                 CopySourceRange=f"bytes={edge - 100}-{edge + 99}")
    s3.complete_multipart_upload(Bucket=bucket, Key="from-sse", UploadId=plain, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="from-sse")["Body"].read() == (
        whole[edge - 100:edge + 100])
    assert _stored(server, bucket, "from-sse") == whole[edge - 100:edge + 100]


def test_copies_encrypt_and_decrypt(s3: Any, bucket: str, server: Server) -> None:
    body = os.urandom(100 * 1024)
    s3.put_object(Bucket=bucket, Key="plain", Body=body)
    to_sse = s3.copy_object(Bucket=bucket, Key="sealed", ServerSideEncryption=AES,
                            CopySource={"Bucket": bucket, "Key": "plain"})
    assert to_sse["ServerSideEncryption"] == AES
    assert body[:64] not in _stored(server, bucket, "sealed")
    s3.copy_object(Bucket=bucket, Key="opened", CopySource={"Bucket": bucket, "Key": "sealed"})
    assert _stored(server, bucket, "opened") == body
    assert s3.get_object(Bucket=bucket, Key="opened")["Body"].read() == body
    # In place: asking for encryption is a change (S3's way of encrypting existing objects).
    s3.copy_object(Bucket=bucket, Key="plain", ServerSideEncryption=AES,
                   CopySource={"Bucket": bucket, "Key": "plain"})
    assert s3.head_object(Bucket=bucket, Key="plain")["ServerSideEncryption"] == AES
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == body
    small = b"tiny"
    s3.put_object(Bucket=bucket, Key="tiny", Body=small, ServerSideEncryption=AES)
    s3.copy_object(Bucket=bucket, Key="tiny-copy", CopySource={"Bucket": bucket, "Key": "tiny"})
    assert _stored(server, bucket, "tiny-copy") == small


def test_unknown_methods_refused_and_customer_keys_blocked_by_default(s3: Any,
                                                                     bucket: str) -> None:
    put = s3.put_object
    assert error_code(put, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="ROT13") == (
        "InvalidArgument", 400)
    assert error_code(put, Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm=AES,
                      SSECustomerKey="k" * 32) == ("AccessDenied", 403)  # as S3 since April 2026
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_the_aws_cli_and_boto2(aws: Any, boto2_s3: Any, s3: Any, bucket: str, server: Server,
                               tmp_path: Path) -> None:
    source = tmp_path / "file.bin"
    body = os.urandom(9 * MIB)  # the CLI uploads this in parts
    source.write_bytes(body)
    aws("s3", "cp", str(source), f"s3://{bucket}/cli", "--sse", AES, "--only-show-errors")
    head = aws("s3api", "head-object", "--bucket", bucket, "--key", "cli")
    assert head["ServerSideEncryption"] == AES
    aws("s3", "cp", f"s3://{bucket}/cli", str(tmp_path / "back"), "--only-show-errors")
    assert (tmp_path / "back").read_bytes() == body
    aws("s3api", "put-bucket-encryption", "--bucket", bucket,
        "--server-side-encryption-configuration",
        '{"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}')
    legacy = boto2_s3.get_bucket(bucket)
    key = legacy.new_key("boto2")
    key.set_contents_from_string("legacy client, default encryption")
    assert b"legacy client" not in _stored(server, bucket, "boto2")
    assert legacy.get_key("boto2").get_contents_as_string() == (
        b"legacy client, default encryption")
    assert s3.head_object(Bucket=bucket, Key="boto2")["ServerSideEncryption"] == AES


def test_reads_must_not_name_the_encryption(s3: Any, bucket: str) -> None:
    """S3 answers 400 to a GET or HEAD of an SSE-S3 object that sends
    ``x-amz-server-side-encryption`` (a write-only header)."""
    s3.put_object(Bucket=bucket, Key="sealed", Body=b"x", ServerSideEncryption=AES)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"y")

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-amz-server-side-encryption"] = AES

    for event in ("before-sign.s3.GetObject", "before-sign.s3.HeadObject"):
        s3.meta.events.register(event, add_header)
    assert error_code(s3.get_object, Bucket=bucket, Key="sealed") == ("InvalidArgument", 400)
    assert error_code(s3.head_object, Bucket=bucket, Key="sealed") == ("400", 400)  # no body
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"y"


def test_a_policy_requiring_encryption_is_checked_first(s3: Any, bucket: str) -> None:
    """A bucket policy that denies writes without SSE-S3: such writes are AccessDenied, even
    when what they ask for is refused anyway (an unknown method) or another encryption."""
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": AES}}}]}))
    assert error_code(s3.put_object, Bucket=bucket, Key="none", Body=b"x") == ("AccessDenied", 403)
    assert error_code(s3.put_object, Bucket=bucket, Key="kms", Body=b"x",
                      ServerSideEncryption="aws:kms") == ("AccessDenied", 403)
    assert error_code(s3.put_object, Bucket=bucket, Key="odd", Body=b"x" * 100_000,
                      ServerSideEncryption="AES192") == ("AccessDenied", 403)
    s3.put_object(Bucket=bucket, Key="ok", Body=b"x", ServerSideEncryption=AES)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["ok"]
