"""Multipart uploads and CopyObject, end to end: boto3, the AWS CLI and boto 2."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from storage.objects.checksums import new_hasher
from tests.conftest import REGION, Server, _hermetic_env

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from boto.exception import S3ResponseError
    from boto.s3.connection import S3Connection

MIB = 1024 * 1024
SELF_COPY = "This copy request is illegal"


def _code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def _multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"mp-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _start(s3: Any, bucket: str, key: str, **extra: Any) -> str:
    return str(s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"])


def _put_parts(s3: Any, bucket: str, key: str, upload: str, parts: list[bytes]
               ) -> list[dict[str, Any]]:
    done = []
    for number, body in enumerate(parts, start=1):
        reply = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                               Body=body)
        assert reply["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        done.append({"PartNumber": number, "ETag": reply["ETag"]})
    return done


# --- boto3 low level ---------------------------------------------------------------------------

def test_multipart_upload_assembles_the_parts(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(5 * MIB), b"tail" * 1000]
    upload = _start(s3, bucket, "big/file.bin", ContentType="application/x-test",
                    Metadata={"colour": "blue"})
    done = _put_parts(s3, bucket, "big/file.bin", upload, parts)
    reply = s3.complete_multipart_upload(Bucket=bucket, Key="big/file.bin", UploadId=upload,
                                         MultipartUpload={"Parts": done})
    assert reply["ETag"] == _multipart_etag(parts)
    assert reply["Key"] == "big/file.bin"
    got = s3.get_object(Bucket=bucket, Key="big/file.bin")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == _multipart_etag(parts)
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"colour": "blue"}
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_single_small_part_is_allowed(s3: Any, bucket: str) -> None:
    upload = _start(s3, bucket, "one")
    done = _put_parts(s3, bucket, "one", upload, [b"just one part"])
    reply = s3.complete_multipart_upload(Bucket=bucket, Key="one", UploadId=upload,
                                         MultipartUpload={"Parts": done})
    assert reply["ETag"] == _multipart_etag([b"just one part"])
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == b"just one part"


def test_replacing_a_part_keeps_the_last(s3: Any, bucket: str) -> None:
    upload = _start(s3, bucket, "k")
    _put_parts(s3, bucket, "k", upload, [b"first"])
    done = _put_parts(s3, bucket, "k", upload, [b"second"])
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, 6)]
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload,
                                 MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"second"


def test_small_parts_before_the_last_are_too_small(s3: Any, bucket: str) -> None:
    upload = _start(s3, bucket, "k")
    done = _put_parts(s3, bucket, "k", upload, [b"a" * 1024, b"b" * 1024])
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload,
                                     MultipartUpload={"Parts": done})
    assert _code(caught.value) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)


def test_unknown_part_or_wrong_etag_is_invalid_part(s3: Any, bucket: str) -> None:
    upload = _start(s3, bucket, "k")
    done = _put_parts(s3, bucket, "k", upload, [b"a"])
    for parts in ([{"PartNumber": 2, "ETag": done[0]["ETag"]}],
                  [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]):
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload,
                                         MultipartUpload={"Parts": parts})
        assert _code(caught.value) == "InvalidPart"


def test_parts_out_of_order_are_invalid_part_order(s3: Any, bucket: str) -> None:
    upload = _start(s3, bucket, "k")
    done = _put_parts(s3, bucket, "k", upload, [b"a" * 10, b"b" * 10])
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload,
                                     MultipartUpload={"Parts": done[::-1]})
    assert _code(caught.value) == "InvalidPartOrder"


def test_complete_checks_a_declared_checksum(s3: Any, bucket: str) -> None:
    """A checksum sent with CompleteMultipartUpload must be the object's (composite) one: a
    well-formed other one is BadDigest, a value that is no SHA-256 at all InvalidRequest."""
    body = b"p" * 1024
    part_sum = base64.b64encode(hashlib.sha256(body).digest()).decode()
    composite = base64.b64encode(
        hashlib.sha256(hashlib.sha256(body).digest()).digest()).decode() + "-1"
    other = base64.b64encode(hashlib.sha256(b"other").digest()).decode() + "-1"
    for declared, error in [("bad", "InvalidRequest"), (other, "BadDigest"), (composite, None)]:
        upload = _start(s3, bucket, "c", ChecksumAlgorithm="SHA256")
        reply = s3.upload_part(Bucket=bucket, Key="c", UploadId=upload, PartNumber=1, Body=body,
                               ChecksumSHA256=part_sum)
        parts = {"Parts": [{"PartNumber": 1, "ETag": reply["ETag"],
                            "ChecksumSHA256": part_sum}]}
        if error is not None:
            with pytest.raises(ClientError) as err:
                s3.complete_multipart_upload(Bucket=bucket, Key="c", UploadId=upload,
                                             MultipartUpload=parts, ChecksumSHA256=declared)
            assert _code(err.value) == error
            continue
        done = s3.complete_multipart_upload(Bucket=bucket, Key="c", UploadId=upload,
                                            MultipartUpload=parts, ChecksumSHA256=declared)
        assert done["ChecksumSHA256"] == composite
        head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == composite and head["ChecksumType"] == "COMPOSITE"
        version = s3.list_object_versions(Bucket=bucket, Prefix="c")["Versions"][0]
        assert (version["ChecksumAlgorithm"], version["ChecksumType"]) == (
            ["SHA256"], "COMPOSITE")


@pytest.mark.parametrize(("algorithm", "kind"), [("CRC32", "FULL_OBJECT"),
                                                  ("CRC32C", "FULL_OBJECT"),
                                                  ("CRC64NVME", None)])
def test_full_object_checksum(s3: Any, bucket: str, algorithm: str, kind: str | None) -> None:
    """FULL_OBJECT multipart checksums are the CRC of the whole object (CRC64NVME's only
    type); the part CRCs are combined, never recomputed."""
    bodies = [b"A" * (5 * 1024**2), b"B" * 1000]
    whole = new_hasher(algorithm)
    whole.update(b"".join(bodies))
    expected = base64.b64encode(whole.digest()).decode()
    extra = {"ChecksumType": kind} if kind else {}
    created = s3.create_multipart_upload(Bucket=bucket, Key="f", ChecksumAlgorithm=algorithm,
                                         **extra)
    assert created["ChecksumType"] == "FULL_OBJECT"
    parts = []
    for number, body in enumerate(bodies, start=1):
        hasher = new_hasher(algorithm)  # given, as botocore computes CRC32C/CRC64NVME with crt
        hasher.update(body)
        value = {f"Checksum{algorithm}": base64.b64encode(hasher.digest()).decode()}
        reply = s3.upload_part(Bucket=bucket, Key="f", UploadId=created["UploadId"],
                               PartNumber=number, Body=body, **value)
        parts.append({"PartNumber": number, "ETag": reply["ETag"],
                      f"Checksum{algorithm}": reply[f"Checksum{algorithm}"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="f", UploadId=created["UploadId"],
                                        MultipartUpload={"Parts": parts})
    assert done[f"Checksum{algorithm}"] == expected and done["ChecksumType"] == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key="f", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == expected and head["ChecksumType"] == "FULL_OBJECT"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="f")["Contents"][0]
    assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == ([algorithm], "FULL_OBJECT")


def test_checksum_type_must_suit_the_algorithm(s3: Any, bucket: str) -> None:
    for algorithm, kind in [("SHA256", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE")]:
        with pytest.raises(ClientError) as err:
            s3.create_multipart_upload(Bucket=bucket, Key="t", ChecksumAlgorithm=algorithm,
                                       ChecksumType=kind)
        assert _code(err.value) == "InvalidRequest"


def test_part_number_out_of_range_is_invalid_argument(s3: Any, bucket: str) -> None:
    upload = _start(s3, bucket, "k")
    for number in (0, 10001):
        with pytest.raises(ClientError) as caught:
            s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=number, Body=b"x")
        assert _code(caught.value) == "InvalidArgument", caught.value.response


def test_unknown_upload_is_no_such_upload(s3: Any, bucket: str) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: s3.upload_part(Bucket=bucket, Key="k", UploadId="nope", PartNumber=1, Body=b"x"),
        lambda: s3.list_parts(Bucket=bucket, Key="k", UploadId="nope"),
        lambda: s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="nope"),
        lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId="nope",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]}),
    ]
    for call in calls:
        with pytest.raises(ClientError) as caught:
            call()
        assert _code(caught.value) == "NoSuchUpload"
    upload = _start(s3, bucket, "k")
    with pytest.raises(ClientError) as caught:  # the id belongs to another key
        s3.list_parts(Bucket=bucket, Key="other", UploadId=upload)
    assert _code(caught.value) == "NoSuchUpload"


def test_abort_discards_the_upload(s3: Any, bucket: str) -> None:
    upload = _start(s3, bucket, "k")
    _put_parts(s3, bucket, "k", upload, [b"abc"])
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as caught:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=upload)
    assert _code(caught.value) == "NoSuchUpload"
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)  # nothing left behind


def test_open_uploads_go_with_their_bucket(s3: Any, bucket: str, server: Any) -> None:
    """General purpose buckets: uploads in progress do not keep a bucket (only objects do);
    deleting the bucket aborts them and frees their parts."""
    upload = _start(s3, bucket, "k")
    _put_parts(s3, bucket, "k", upload, [b"x" * 1000])
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=upload)
    assert _code(caught.value) == "NoSuchBucket"
    s3.create_bucket(Bucket=bucket)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_list_parts_pages(s3: Any, bucket: str) -> None:
    upload = _start(s3, bucket, "k")
    bodies = [bytes([n]) * (n + 1) for n in range(5)]
    _put_parts(s3, bucket, "k", upload, bodies)
    first = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True and first["NextPartNumberMarker"] == 2
    assert first["Parts"][1]["ETag"] == f'"{hashlib.md5(bodies[1]).hexdigest()}"'
    assert first["Parts"][1]["Size"] == 2
    rest = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload, MaxParts=2,
                         PartNumberMarker=first["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["Parts"]] == [3, 4]
    paginator = s3.get_paginator("list_parts")
    numbers = [p["PartNumber"] for page in paginator.paginate(
        Bucket=bucket, Key="k", UploadId=upload, PaginationConfig={"PageSize": 2})
        for p in page.get("Parts", [])]
    assert numbers == [1, 2, 3, 4, 5]


def test_list_uploads_pages_with_prefix_and_delimiter(s3: Any, bucket: str) -> None:
    ids = {key: [_start(s3, bucket, key) for _ in range(2)]
           for key in ("a/1", "a/2", "b", "c/d/e")}
    listed = [(u["Key"], u["UploadId"])
              for page in s3.get_paginator("list_multipart_uploads").paginate(
                  Bucket=bucket, PaginationConfig={"PageSize": 3})
              for u in page.get("Uploads", [])]
    assert sorted(listed) == sorted((k, u) for k, us in ids.items() for u in us)
    assert [k for k, _ in listed] == sorted(k for k, _ in listed)
    assert len(set(listed)) == 8
    first = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=3)
    assert first["IsTruncated"] is True and first["NextKeyMarker"] == "a/2"
    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/", "c/"]
    assert [u["Key"] for u in grouped["Uploads"]] == ["b", "b"]
    under = s3.list_multipart_uploads(Bucket=bucket, Prefix="c/", Delimiter="/")
    assert [p["Prefix"] for p in under["CommonPrefixes"]] == ["c/d/"]
    assert under.get("Uploads", []) == []
    page = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", MaxUploads=1)
    assert page["IsTruncated"] is True and page["NextKeyMarker"] == "a/"
    after = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", KeyMarker="a/")
    assert [u["Key"] for u in after["Uploads"]] == ["b", "b"]


def test_upload_part_copy_with_ranges(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload = _start(s3, bucket, "dst")
    first = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "src"},
                                CopySourceRange=f"bytes=0-{5 * MIB - 1}")
    second = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=2,
                                 CopySource=f"{bucket}/src", CopySourceRange="bytes=100-199")
    assert first["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[:5 * MIB]).hexdigest()}"'
    assert second["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[100:200]).hexdigest()}"'
    with pytest.raises(ClientError) as caught:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=3,
                            CopySource=f"{bucket}/src", CopySourceRange=f"bytes=0-{6 * MIB}")
    assert _code(caught.value) == "InvalidRange"
    with pytest.raises(ClientError) as caught:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=3,
                            CopySource=f"{bucket}/src", CopySourceIfMatch='"nope"')
    assert _code(caught.value) == "PreconditionFailed"
    parts = [{"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload,
                                 MultipartUpload={"Parts": parts})
    body = s3.get_object(Bucket=bucket, Key="dst")["Body"].read()
    assert body == source[:5 * MIB] + source[100:200]


# --- boto3 managed transfers and the AWS CLI ---------------------------------------------------

def _md5_file(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_upload_file_and_download_file(s3: Any, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "up.bin"
    source.write_bytes(os.urandom(25 * MIB))
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(str(source), bucket, "transfer.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="transfer.bin")
    assert head["ContentLength"] == 25 * MIB and head["ETag"].endswith('-5"')
    target = tmp_path / "down.bin"
    s3.download_file(bucket, "transfer.bin", str(target), Config=config)
    assert _md5_file(target) == _md5_file(source)


def _aws_s3(server: Server, creds: Credentials, *args: str) -> None:
    """The real ``aws`` command (``aws s3`` prints progress, not JSON)."""
    env = {k: v for k, v in _hermetic_env().items() if not k.startswith("AWS_")}
    env |= {"AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_MAX_ATTEMPTS": "1",
            "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    command = [str(Path(sys.executable).parent / "aws"), "--endpoint-url", server.endpoint,
               "--region", REGION, "s3", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stderr


def test_aws_cli_cp_up_and_down(server: Server, account: Credentials, s3: Any, bucket: str,
                                tmp_path: Path) -> None:
    source = tmp_path / "cli.bin"
    source.write_bytes(os.urandom(20 * MIB))
    _aws_s3(server, account, "cp", str(source), f"s3://{bucket}/cli.bin")
    assert s3.head_object(Bucket=bucket, Key="cli.bin")["ETag"].endswith('-3"')
    target = tmp_path / "back.bin"
    _aws_s3(server, account, "cp", f"s3://{bucket}/cli.bin", str(target))
    assert _md5_file(target) == _md5_file(source)


# --- boto 2 ------------------------------------------------------------------------------------

def test_boto2_multipart(boto2_s3: S3Connection, s3: Any, bucket: str, tmp_path: Path) -> None:
    parts = [os.urandom(5 * MIB), b"the end"]
    b2 = boto2_s3.get_bucket(bucket, validate=False)
    upload = b2.initiate_multipart_upload("boto2.bin", metadata={"from": "boto2"})
    for number, body in enumerate(parts, start=1):
        path = tmp_path / f"part{number}"
        path.write_bytes(body)
        with path.open("rb") as file:
            upload.upload_part_from_file(file, number)
    listed = [p.part_number for p in upload]
    assert listed == [1, 2]
    done = upload.complete_upload()
    assert done.etag == _multipart_etag(parts)
    got = s3.get_object(Bucket=bucket, Key="boto2.bin")
    assert got["Body"].read() == b"".join(parts) and got["Metadata"] == {"from": "boto2"}
    abandoned = b2.initiate_multipart_upload("gone")
    assert [u.id for u in b2.get_all_multipart_uploads()] == [abandoned.id]
    abandoned.cancel_upload()
    assert list(b2.get_all_multipart_uploads()) == []


def test_boto2_copy_key(boto2_s3: S3Connection, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="orig", Body=b"payload", Metadata={"a": "1"})
    b2 = boto2_s3.get_bucket(bucket, validate=False)
    b2.copy_key("kept", bucket, "orig")
    b2.copy_key("replaced", bucket, "orig", metadata={"b": "2"})
    assert s3.head_object(Bucket=bucket, Key="kept")["Metadata"] == {"a": "1"}
    assert s3.head_object(Bucket=bucket, Key="replaced")["Metadata"] == {"b": "2"}
    assert s3.get_object(Bucket=bucket, Key="replaced")["Body"].read() == b"payload"
    with pytest.raises(S3ResponseError) as caught:
        b2.copy_key("orig", bucket, "orig")
    assert caught.value.error_code == "InvalidRequest"


# --- CopyObject with boto3 ---------------------------------------------------------------------

def test_copy_object_copies_or_replaces_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"hello", ContentType="text/plain",
                  Metadata={"a": "1"})
    reply = s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/src")
    assert reply["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"'
    assert reply["CopyObjectResult"]["LastModified"].year >= 2024
    head = s3.head_object(Bucket=bucket, Key="copy")
    assert head["Metadata"] == {"a": "1"} and head["ContentType"] == "text/plain"
    s3.copy_object(Bucket=bucket, Key="new", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="text/x")
    head = s3.head_object(Bucket=bucket, Key="new")
    assert head["Metadata"] == {"b": "2"} and head["ContentType"] == "text/x"
    assert s3.get_object(Bucket=bucket, Key="new")["Body"].read() == b"hello"


def test_copy_of_a_multipart_object_has_a_plain_etag(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MIB), b"x"]
    upload = _start(s3, bucket, "mp")
    done = _put_parts(s3, bucket, "mp", upload, parts)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": done})
    reply = s3.copy_object(Bucket=bucket, Key="flat", CopySource=f"{bucket}/mp")
    assert reply["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"".join(parts)).hexdigest()}"'


def test_copy_onto_itself_needs_a_change(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="self", Body=b"x", Metadata={"a": "1"})
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="self", CopySource=f"{bucket}/self")
    assert _code(caught.value) == "InvalidRequest"
    assert SELF_COPY in caught.value.response["Error"]["Message"]
    s3.copy_object(Bucket=bucket, Key="self", CopySource=f"{bucket}/self",
                   MetadataDirective="REPLACE", Metadata={"a": "2"})
    head = s3.head_object(Bucket=bucket, Key="self")
    assert head["Metadata"] == {"a": "2"}
    assert s3.get_object(Bucket=bucket, Key="self")["Body"].read() == b"x"


def test_copy_source_conditions(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"cond")["ETag"]
    past, future = formatdate(time.time() - 3600, usegmt=True), formatdate(
        time.time() + 3600, usegmt=True)
    source = f"{bucket}/src"
    ok: list[dict[str, Any]] = [{"CopySourceIfMatch": etag}, {"CopySourceIfNoneMatch": '"x"'},
                                {"CopySourceIfModifiedSince": past},
                                {"CopySourceIfUnmodifiedSince": future}]
    for condition in ok:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, **condition)
    failing: list[dict[str, Any]] = [
        {"CopySourceIfMatch": '"x"'}, {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": future}, {"CopySourceIfUnmodifiedSince": past}]
    for condition in failing:
        with pytest.raises(ClientError) as caught:
            s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, **condition)
        assert _code(caught.value) == "PreconditionFailed", condition


def test_copy_errors(s3: Any, bucket: str, make_s3: Callable[[Credentials], Any],
                     server: Server) -> None:
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/missing")
    assert _code(caught.value) == "NoSuchKey"
    other = make_s3(server.new_account())
    foreign = f"mp-{uuid.uuid4().hex[:12]}"
    other.create_bucket(Bucket=foreign)
    other.put_object(Bucket=foreign, Key="secret", Body=b"s")
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{foreign}/secret")
    assert _code(caught.value) == "AccessDenied"


def test_copy_keys_with_odd_characters(s3: Any, bucket: str) -> None:
    key = "dir/ä b+c?d=e&f"
    s3.put_object(Bucket=bucket, Key=key, Body=b"odd")
    s3.copy_object(Bucket=bucket, Key="plain", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"odd"


def test_parts_of_a_completed_object_and_a_repeated_complete(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MIB), b"tail" * 1000]
    upload = _start(s3, bucket, "p")
    done = _put_parts(s3, bucket, "p", upload, parts)
    first = s3.complete_multipart_upload(Bucket=bucket, Key="p", UploadId=upload,
                                         MultipartUpload={"Parts": done})
    again = s3.complete_multipart_upload(Bucket=bucket, Key="p", UploadId=upload,
                                         MultipartUpload={"Parts": done})
    assert again["ETag"] == first["ETag"]
    for number, body in enumerate(parts, start=1):
        got = s3.get_object(Bucket=bucket, Key="p", PartNumber=number)
        assert got["Body"].read() == body
        assert got["PartsCount"] == 2 and got["ContentLength"] == len(body)
        assert got["ETag"] == done[number - 1]["ETag"]
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        head = s3.head_object(Bucket=bucket, Key="p", PartNumber=number)
        assert head["ContentLength"] == len(body) and head["PartsCount"] == 2
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="p", PartNumber=3)
    assert _code(caught.value) == "InvalidPart"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="p", PartNumber=0)
    assert _code(caught.value) == "InvalidArgument"
    s3.put_object(Bucket=bucket, Key="plain", Body=b"whole")
    assert s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)["Body"].read() == b"whole"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="plain", PartNumber=2)
    assert _code(caught.value) == "InvalidPart"
    other = _start(s3, bucket, "p")
    with pytest.raises(ClientError) as caught:  # another, unknown upload id stays unknown
        s3.complete_multipart_upload(Bucket=bucket, Key="p", UploadId=other + "x",
                                     MultipartUpload={"Parts": done})
    assert _code(caught.value) == "NoSuchUpload"
