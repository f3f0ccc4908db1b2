"""GetObjectAttributes end to end with boto3 and the AWS CLI: ETag, checksum, parts (paged),
storage class and size of the latest or a named version."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import AwsCli, Server

ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
PART = 5 * 1024**2


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"attrs-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_plain_object(s3: Any, bucket: str) -> None:
    body = b"A" * 1024
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    put = s3.put_object(Bucket=bucket, Key="o", Body=body, ChecksumSHA256=sha)
    got = s3.get_object_attributes(Bucket=bucket, Key="o", ObjectAttributes=ALL)
    assert got["ETag"] == put["ETag"].strip('"') and got["ObjectSize"] == 1024
    assert got["StorageClass"] == "STANDARD" and "ObjectParts" not in got
    assert got["Checksum"] == {"ChecksumSHA256": sha, "ChecksumType": "FULL_OBJECT"}
    assert "VersionId" not in got and "DeleteMarker" not in got
    assert got["LastModified"] == s3.head_object(Bucket=bucket, Key="o")["LastModified"]
    only = s3.get_object_attributes(Bucket=bucket, Key="o", ObjectAttributes=["ObjectSize"])
    assert only["ObjectSize"] == 1024 and "ETag" not in only and "Checksum" not in only


def test_multipart_parts_are_paged(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = []
    for number in range(1, 5):
        size = PART if number < 4 else 3
        reply = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=number,
                               Body=bytes([number]) * size)
        parts.append({"PartNumber": number, "ETag": reply["ETag"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    got = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=ALL)
    assert got["ETag"] == done["ETag"].strip('"') and got["ObjectSize"] == 3 * PART + 3
    whole = got["ObjectParts"]
    assert whole["TotalPartsCount"] == 4 and whole["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"]) for p in whole["Parts"]] == [
        (1, PART), (2, PART), (3, PART), (4, 3)]
    page = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"],
                                    MaxParts=1, PartNumberMarker=2)["ObjectParts"]
    assert [p["PartNumber"] for p in page["Parts"]] == [3]
    assert page["IsTruncated"] is True and page["NextPartNumberMarker"] == 3
    assert page["MaxParts"] == 1 and page["PartNumberMarker"] == 2


def test_composite_checksum_and_part_checksums(s3: Any, bucket: str) -> None:
    bodies = [b"x" * PART, b"y" * 10]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="c", ChecksumAlgorithm="SHA256")
    sums = [base64.b64encode(hashlib.sha256(b).digest()).decode() for b in bodies]
    parts = []
    for number, body in enumerate(bodies, start=1):
        reply = s3.upload_part(Bucket=bucket, Key="c", UploadId=upload["UploadId"],
                               PartNumber=number, Body=body, ChecksumSHA256=sums[number - 1])
        parts.append({"PartNumber": number, "ETag": reply["ETag"],
                      "ChecksumSHA256": reply["ChecksumSHA256"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="c", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": parts})
    got = s3.get_object_attributes(Bucket=bucket, Key="c", ObjectAttributes=ALL)
    assert got["Checksum"] == {"ChecksumSHA256": done["ChecksumSHA256"],
                               "ChecksumType": "COMPOSITE"}
    assert [p["ChecksumSHA256"] for p in got["ObjectParts"]["Parts"]] == sums


def test_versions_delete_markers_and_errors(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"second")
    old = s3.get_object_attributes(Bucket=bucket, Key="v", VersionId=first,
                                   ObjectAttributes=["ObjectSize"])
    assert old["VersionId"] == first and old["ObjectSize"] == 3
    latest = s3.get_object_attributes(Bucket=bucket, Key="v", ObjectAttributes=["ObjectSize"])
    assert latest["ObjectSize"] == 6 and latest["VersionId"] != first
    s3.delete_object(Bucket=bucket, Key="v")
    with pytest.raises(ClientError) as err:
        s3.get_object_attributes(Bucket=bucket, Key="v", ObjectAttributes=["ObjectSize"])
    assert _code(err) == "NoSuchKey"
    with pytest.raises(ClientError) as err:
        s3.get_object_attributes(Bucket=bucket, Key="v", ObjectAttributes=["Colour"])
    assert _code(err) == "InvalidArgument"


def test_another_account_needs_read(s3: Any, bucket: str, server: Server,
                                    make_s3: Callable[[Credentials], Any]) -> None:
    other_s3 = make_s3(server.new_account())
    s3.put_object(Bucket=bucket, Key="p", Body=b"x")
    with pytest.raises(ClientError) as err:
        other_s3.get_object_attributes(Bucket=bucket, Key="p", ObjectAttributes=["ObjectSize"])
    assert _code(err) == "AccessDenied"
    s3.put_object_acl(Bucket=bucket, Key="p", ACL="public-read")
    got = other_s3.get_object_attributes(Bucket=bucket, Key="p", ObjectAttributes=["ObjectSize"])
    assert got["ObjectSize"] == 1


def test_cli_get_object_attributes(aws: AwsCli, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="c", Body=b"cli")
    out = aws("s3api", "get-object-attributes", "--bucket", bucket, "--key", "c",
              "--object-attributes", "ObjectSize", "StorageClass")
    assert out["ObjectSize"] == 3 and out["StorageClass"] == "STANDARD"
