"""SSE-KMS with each account's AWS managed key for S3 (``aws/s3``), end to end: writes that ask
for ``aws:kms`` (explicitly, or through the bucket's default encryption) are stored encrypted
and answered with the key's ARN; any other key is ``KMS.NotFoundException`` and nothing is
stored; SSE-KMS objects are read only with Signature Version 4. boto3, the AWS CLI, boto 2
(SigV2) and plain HTTP."""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from sqlalchemy import select

from controller.db.models import S3Object
from controller.identity.service import Credentials
from tests.conftest import Server
from tests.e2e.refusals import error_code
from tests.e2e.signing import signed

KMS = "aws:kms"
MIB = 1024 * 1024
_ARN = re.compile(r"arn:aws:kms:us-east-1:(\d{12}):key/[0-9a-f-]{36}")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"kms-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _stored(server: Server, bucket: str, key: str) -> tuple[bytes, str | None]:
    """The bytes kept for the latest version of ``key`` (row or blob) and its ``sse``."""
    _, sessions, _ = server._database()
    with sessions() as session:
        row = session.scalar(select(S3Object).where(
            S3Object.bucket == bucket, S3Object.key == key, S3Object.is_latest.is_(True)))
        assert row is not None
        sse, blob, inline = row.sse, row.blob_id, row.inline_data
    if inline is not None:
        return bytes(inline), sse
    assert blob is not None
    path = server.data_dir / "objects" / "blobs" / blob[:2] / blob[2:4] / blob
    return path.read_bytes(), sse


def test_put_get_head_with_the_managed_key(s3: Any, bucket: str, server: Server,
                                           account: Credentials) -> None:
    body = b"kms secret " * 200
    put = s3.put_object(Bucket=bucket, Key="small", Body=body, ServerSideEncryption=KMS)
    assert put["ServerSideEncryption"] == KMS
    arn = put["SSEKMSKeyId"]
    match = _ARN.fullmatch(arn)
    assert match is not None and match.group(1) == account.account_id
    assert "BucketKeyEnabled" not in put
    stored, sse = _stored(server, bucket, "small")
    assert sse == KMS and body[:32] not in stored
    got = s3.get_object(Bucket=bucket, Key="small")
    assert got["Body"].read() == body
    assert (got["ServerSideEncryption"], got["SSEKMSKeyId"]) == (KMS, arn)
    head = s3.head_object(Bucket=bucket, Key="small")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == (KMS, arn)
    assert s3.get_object(Bucket=bucket, Key="small", Range="bytes=11-21")["Body"].read() == (
        body[11:22])
    # Every name of the same key is that key; the ARN the replies give is one of them.
    key_id = arn.rsplit("/", 1)[1]
    for name in (arn, key_id, "alias/aws/s3",
                 f"arn:aws:kms:us-east-1:{account.account_id}:alias/aws/s3"):
        again = s3.put_object(Bucket=bucket, Key="named", Body=b"x", ServerSideEncryption=KMS,
                              SSEKMSKeyId=name)
        assert again["SSEKMSKeyId"] == arn
    large = os.urandom(2 * MIB + 7)  # a blob, not a row
    s3.put_object(Bucket=bucket, Key="large", Body=large, ServerSideEncryption="aws:kms:dsse")
    assert large[:64] not in _stored(server, bucket, "large")[0]
    got = s3.get_object(Bucket=bucket, Key="large")
    assert got["ServerSideEncryption"] == "aws:kms:dsse" and got["Body"].read() == large


def test_keys_that_do_not_exist_and_misused_headers(s3: Any, bucket: str, server: Server,
                                                    account: Credentials) -> None:
    put = s3.put_object
    other = server.new_account()  # its managed key is not this account's to use
    other_arn = f"arn:aws:kms:us-east-1:{other.account_id}:key/{uuid.uuid4()}"
    for key_id in ("alias/mine", str(uuid.uuid4()), other_arn, "aws/s3"):
        assert error_code(put, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption=KMS,
                          SSEKMSKeyId=key_id) == ("KMS.NotFoundException", 400), key_id
    assert error_code(s3.create_multipart_upload, Bucket=bucket, Key="k", ServerSideEncryption=KMS,
                      SSEKMSKeyId="alias/mine") == ("KMS.NotFoundException", 400)
    # A key id or context without aws:kms, or with AES256, is InvalidArgument.
    assert error_code(put, Bucket=bucket, Key="k", Body=b"x", SSEKMSKeyId="alias/aws/s3") == (
        "InvalidArgument", 400)
    assert error_code(put, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256",
                      SSEKMSKeyId="alias/aws/s3") == ("InvalidArgument", 400)
    assert error_code(put, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption=KMS,
                      SSEKMSEncryptionContext=base64.b64encode(b"[1, 2]").decode()) == (
        "InvalidArgument", 400)
    assert error_code(put, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption=KMS,
                      SSEKMSEncryptionContext="not base64!") == ("InvalidArgument", 400)
    bad_flag = signed(account, "PUT", f"{server.endpoint}{bucket}/k", b"x", headers={
        "x-amz-server-side-encryption": KMS,
        "x-amz-server-side-encryption-bucket-key-enabled": "maybe"})
    assert bad_flag.status_code == 400 and "<Code>InvalidArgument</Code>" in bad_flag.text
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    context = base64.b64encode(json.dumps({"project": "ironbark"}).encode()).decode()
    done = put(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption=KMS,
               SSEKMSEncryptionContext=context, BucketKeyEnabled=True)
    assert done["SSEKMSEncryptionContext"] == context and done["BucketKeyEnabled"] is True
    assert s3.head_object(Bucket=bucket, Key="k")["BucketKeyEnabled"] is True


def test_bucket_default_encryption(s3: Any, bucket: str, server: Server) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": KMS,
                                               "KMSMasterKeyID": "alias/aws/s3"},
        "BucketKeyEnabled": True}]})
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
        "Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": KMS, "KMSMasterKeyID": "alias/aws/s3"}
    assert rule["BucketKeyEnabled"] is True
    put = s3.put_object(Bucket=bucket, Key="default", Body=b"by default")
    assert put["ServerSideEncryption"] == KMS and put["BucketKeyEnabled"] is True
    assert _stored(server, bucket, "default")[1] == KMS
    head = s3.head_object(Bucket=bucket, Key="default")
    assert head["SSEKMSKeyId"] == put["SSEKMSKeyId"] and head["BucketKeyEnabled"] is True
    # The request's own choice wins over the bucket's.
    assert s3.put_object(Bucket=bucket, Key="own", Body=b"x", ServerSideEncryption="AES256"
                         )["ServerSideEncryption"] == "AES256"
    # A default naming a key that does not exist is accepted, and fails the writes using it.
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": KMS,
                                               "KMSMasterKeyID": "alias/gone"}}]})
    assert error_code(s3.put_object, Bucket=bucket, Key="fails", Body=b"x") == (
        "KMS.NotFoundException", 400)


def test_multipart_and_copies(s3: Any, bucket: str, server: Server) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(1234)]
    created = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption=KMS,
                                         BucketKeyEnabled=True)
    arn = created["SSEKMSKeyId"]
    assert created["ServerSideEncryption"] == KMS and created["BucketKeyEnabled"] is True
    etags = []
    for number, body in enumerate(parts, 1):
        part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=created["UploadId"],
                              PartNumber=number, Body=body)
        assert (part["ServerSideEncryption"], part["SSEKMSKeyId"]) == (KMS, arn)
        etags.append(part["ETag"])
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=created["UploadId"], MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    assert (done["ServerSideEncryption"], done["SSEKMSKeyId"]) == (KMS, arn)
    whole = b"".join(parts)
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == whole
    assert parts[0][:64] not in _stored(server, bucket, "mp")[0]
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain bytes")
    to_kms = s3.copy_object(Bucket=bucket, Key="to-kms", ServerSideEncryption=KMS,
                            CopySource={"Bucket": bucket, "Key": "plain"})
    assert (to_kms["ServerSideEncryption"], to_kms["SSEKMSKeyId"]) == (KMS, arn)
    assert _stored(server, bucket, "to-kms")[1] == KMS
    s3.copy_object(Bucket=bucket, Key="back", CopySource={"Bucket": bucket, "Key": "mp"})
    assert _stored(server, bucket, "back") == (whole, None)
    assert error_code(s3.copy_object, Bucket=bucket, Key="nope", ServerSideEncryption=KMS,
                      SSEKMSKeyId="alias/mine", CopySource={"Bucket": bucket, "Key": "plain"}) == (
        "KMS.NotFoundException", 400)


def test_reads_need_signature_v4(s3: Any, boto2_s3: Any, bucket: str, server: Server,
                                 account: Credentials) -> None:
    s3.put_object(Bucket=bucket, Key="sealed", Body=b"kms only", ServerSideEncryption=KMS,
                  ACL="public-read")
    s3.put_object(Bucket=bucket, Key="open", Body=b"plain", ACL="public-read")
    legacy = boto2_s3.get_bucket(bucket, validate=False)
    assert legacy.get_key("open").get_contents_as_string() == b"plain"
    with pytest.raises(Exception) as caught:  # boto 2 signs with Signature Version 2
        legacy.get_key("sealed", validate=False).get_contents_as_string()
    assert getattr(caught.value, "status", None) == 400
    assert "Signature Version 4" in str(getattr(caught.value, "body", ""))
    anonymous = httpx.get(f"{server.endpoint}{bucket}/sealed", trust_env=False)
    assert anonymous.status_code == 400 and "<Code>InvalidArgument</Code>" in anonymous.text
    assert httpx.get(f"{server.endpoint}{bucket}/open", trust_env=False).text == "plain"
    params = {"Bucket": bucket, "Key": "sealed"}
    v2_url = s3.generate_presigned_url("get_object", Params=params)  # boto3: SigV2 here
    assert "AWSAccessKeyId=" in v2_url and httpx.get(v2_url, trust_env=False).status_code == 400
    v4_client = boto3.client(
        "s3", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=account.access_key_id, aws_secret_access_key=account.secret_access_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    v4_url = v4_client.generate_presigned_url("get_object", Params=params)
    assert httpx.get(v4_url, trust_env=False).content == b"kms only"
    v4 = signed(account, "GET", f"{server.endpoint}{bucket}/sealed")
    assert v4.status_code == 200 and v4.content == b"kms only"
    # A SigV2 write asking for SSE-KMS is refused too, and stores nothing.
    with pytest.raises(Exception) as caught:
        legacy.new_key("v2-write").set_contents_from_string(
            "x", headers={"x-amz-server-side-encryption": KMS})
    assert getattr(caught.value, "status", None) == 400
    assert s3.list_objects_v2(Bucket=bucket, Prefix="v2-write")["KeyCount"] == 0


def test_the_aws_cli(aws: Any, s3: Any, bucket: str, server: Server, tmp_path: Path) -> None:
    source = tmp_path / "file.bin"
    body = os.urandom(9 * MIB)  # the CLI uploads this in parts
    source.write_bytes(body)
    aws("s3", "cp", str(source), f"s3://{bucket}/cli", "--sse", KMS, "--only-show-errors")
    head = aws("s3api", "head-object", "--bucket", bucket, "--key", "cli")
    assert head["ServerSideEncryption"] == KMS and _ARN.fullmatch(head["SSEKMSKeyId"])
    aws("s3", "cp", str(source), f"s3://{bucket}/cli-alias", "--sse", KMS, "--sse-kms-key-id",
        "alias/aws/s3", "--only-show-errors")
    aws("s3", "cp", f"s3://{bucket}/cli", str(tmp_path / "back"), "--only-show-errors")
    assert (tmp_path / "back").read_bytes() == body
    assert body[:64] not in _stored(server, bucket, "cli-alias")[0]
