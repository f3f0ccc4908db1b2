"""Storage classes end to end: a write's ``x-amz-storage-class`` is kept and reported (HEAD,
GET, listings, multipart uploads, GetObjectAttributes) with boto3, the AWS CLI and boto 2; a
name S3 does not store is InvalidStorageClass; an archived version (GLACIER, DEEP_ARCHIVE) is
read only after RestoreObject."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import AwsCliError, Server


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"sc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _error(call: Any, **params: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value


def _code(error: ClientError) -> tuple[str, int]:
    return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]


def test_the_class_is_kept_and_reported(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="ia", Body=b"infrequent", StorageClass="STANDARD_IA")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain", StorageClass="STANDARD")
    s3.put_object(Bucket=bucket, Key="unsaid", Body=b"unsaid")
    assert s3.head_object(Bucket=bucket, Key="ia")["StorageClass"] == "STANDARD_IA"
    got = s3.get_object(Bucket=bucket, Key="ia")
    assert (got["StorageClass"], got["Body"].read()) == ("STANDARD_IA", b"infrequent")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="plain")  # as S3: unnamed
    expected = {"ia": "STANDARD_IA", "plain": "STANDARD", "unsaid": "STANDARD"}
    v2 = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"]: o["StorageClass"] for o in v2} == expected
    v1 = s3.list_objects(Bucket=bucket)["Contents"]
    assert {o["Key"]: o["StorageClass"] for o in v1} == expected
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert {o["Key"]: o["StorageClass"] for o in versions} == expected
    attributes = s3.get_object_attributes(Bucket=bucket, Key="ia",
                                          ObjectAttributes=["StorageClass", "ObjectSize"])
    assert (attributes["StorageClass"], attributes["ObjectSize"]) == ("STANDARD_IA", 10)
    s3.put_object(Bucket=bucket, Key="ia", Body=b"now standard")  # an overwrite: its own class
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="ia")


@pytest.mark.parametrize("value", ["standard_ia", "FROZEN", "OUTPOSTS", "EXPRESS_ONEZONE"])
def test_a_class_s3_does_not_store_is_refused(s3: Any, bucket: str, value: str) -> None:
    error = _error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", StorageClass=value)
    assert _code(error) == ("InvalidStorageClass", 400)
    assert error.response["Error"]["Message"] == "The storage class you specified is not valid"
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    assert _code(_error(s3.copy_object, Bucket=bucket, Key="k", StorageClass=value,
                        CopySource={"Bucket": bucket, "Key": "src"})) == (
        "InvalidStorageClass", 400)
    assert _code(_error(s3.create_multipart_upload, Bucket=bucket, Key="k",
                        StorageClass=value)) == ("InvalidStorageClass", 400)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["src"]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_multipart_uploads_carry_their_class(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", StorageClass="GLACIER_IR")
    uid = upload["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["StorageClass"]) for u in listed] == [("big", "GLACIER_IR")]
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=b"p" * 100)
    assert s3.list_parts(Bucket=bucket, Key="big", UploadId=uid)["StorageClass"] == "GLACIER_IR"
    s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert s3.head_object(Bucket=bucket, Key="big")["StorageClass"] == "GLACIER_IR"
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == b"p" * 100  # instant


def test_a_copy_is_standard_unless_it_names_a_class(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="ia", Body=b"data", StorageClass="STANDARD_IA")
    source = {"Bucket": bucket, "Key": "ia"}
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=source)
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="copy")
    s3.copy_object(Bucket=bucket, Key="onezone", CopySource=source, StorageClass="ONEZONE_IA")
    assert s3.head_object(Bucket=bucket, Key="onezone")["StorageClass"] == "ONEZONE_IA"
    # In place: changing the class is a change; keeping it is not.
    error = _error(s3.copy_object, Bucket=bucket, Key="ia", CopySource=source,
                   StorageClass="STANDARD_IA")
    assert _code(error) == ("InvalidRequest", 400)
    s3.copy_object(Bucket=bucket, Key="ia", CopySource=source, StorageClass="INTELLIGENT_TIERING")
    head = s3.head_object(Bucket=bucket, Key="ia")
    assert (head["StorageClass"], head["ContentLength"]) == ("INTELLIGENT_TIERING", 4)


def test_an_archived_version_is_read_after_a_restore(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="cold", Body=b"frozen bytes", StorageClass="GLACIER")
    head = s3.head_object(Bucket=bucket, Key="cold")  # HEAD answers; the bytes wait
    assert (head["StorageClass"], head["ContentLength"]) == ("GLACIER", 12)
    assert "Restore" not in head
    error = _error(s3.get_object, Bucket=bucket, Key="cold")
    assert _code(error) == ("InvalidObjectState", 403)
    assert error.response["Error"]["StorageClass"] == "GLACIER"
    copy = _error(s3.copy_object, Bucket=bucket, Key="warm",
                  CopySource={"Bucket": bucket, "Key": "cold"})
    assert _code(copy) == ("InvalidObjectState", 403)
    first = s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={
        "Days": 2, "GlacierJobParameters": {"Tier": "Bulk"}})
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 202
    restore = s3.head_object(Bucket=bucket, Key="cold")["Restore"]
    assert restore.startswith('ongoing-request="false", expiry-date="')
    assert restore.endswith(' 00:00:00 GMT"')  # midnight UTC, as S3 rounds it
    assert s3.get_object(Bucket=bucket, Key="cold")["Body"].read() == b"frozen bytes"
    again = s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 5})
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200  # already restored
    s3.copy_object(Bucket=bucket, Key="warm", CopySource={"Bucket": bucket, "Key": "cold"})
    assert s3.get_object(Bucket=bucket, Key="warm")["Body"].read() == b"frozen bytes"
    s3.put_object(Bucket=bucket, Key="deep", Body=b"deep", StorageClass="DEEP_ARCHIVE")
    assert _code(_error(s3.get_object, Bucket=bucket, Key="deep", Range="bytes=0-1")) == (
        "InvalidObjectState", 403)


def test_listings_report_the_restore_status_when_asked(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a-restored", Body=b"x", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="b-frozen", Body=b"y", StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket=bucket, Key="c-hot", Body=b"z")
    s3.restore_object(Bucket=bucket, Key="a-restored", RestoreRequest={"Days": 1})
    expiry = s3.head_object(Bucket=bucket, Key="a-restored")["Restore"].split('"')[3]
    asked = ["RestoreStatus"]
    for listing in (s3.list_objects_v2(Bucket=bucket, OptionalObjectAttributes=asked)["Contents"],
                    s3.list_objects(Bucket=bucket, OptionalObjectAttributes=asked)["Contents"],
                    s3.list_object_versions(Bucket=bucket,
                                            OptionalObjectAttributes=asked)["Versions"]):
        status = {o["Key"]: o.get("RestoreStatus") for o in listing}
        assert status["b-frozen"] is None and status["c-hot"] is None
        restored = status["a-restored"]
        assert restored is not None and restored["IsRestoreInProgress"] is False
        assert restored["RestoreExpiryDate"].strftime("%a, %d %b %Y %H:%M:%S GMT") == expiry
    # Not asked for: not shown, as in S3.
    assert all("RestoreStatus" not in o for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    error = _error(s3.list_objects_v2, Bucket=bucket, OptionalObjectAttributes=["Bogus"])
    assert _code(error) == ("InvalidArgument", 400)


def test_restore_errors_are_s3s(s3: Any, bucket: str, server: Server, make_s3: Any) -> None:
    s3.put_object(Bucket=bucket, Key="hot", Body=b"x")
    error = _error(s3.restore_object, Bucket=bucket, Key="hot", RestoreRequest={"Days": 1})
    assert _code(error) == ("InvalidObjectState", 403)
    assert _code(_error(s3.restore_object, Bucket=bucket, Key="missing",
                        RestoreRequest={"Days": 1})) == ("NoSuchKey", 404)
    s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
    assert _code(_error(s3.restore_object, Bucket=bucket, Key="cold",
                        RestoreRequest={"Days": 0})) == ("InvalidArgument", 400)
    other = make_s3(server.new_account())
    assert _code(_error(other.restore_object, Bucket=bucket, Key="cold",
                        RestoreRequest={"Days": 1})) == ("AccessDenied", 403)
    assert _code(_error(s3.get_object, Bucket=bucket, Key="cold")) == ("InvalidObjectState", 403)


def test_the_aws_cli_and_boto2(aws: Any, boto2_s3: Any, s3: Any, bucket: str,
                               tmp_path: Any) -> None:
    source = tmp_path / "file.txt"
    source.write_bytes(b"from the cli")
    aws("s3", "cp", str(source), f"s3://{bucket}/cli", "--storage-class", "STANDARD_IA",
        "--only-show-errors")
    listed = aws("s3api", "list-objects-v2", "--bucket", bucket)["Contents"]
    assert [(o["Key"], o["StorageClass"]) for o in listed] == [("cli", "STANDARD_IA")]
    aws("s3", "cp", str(source), f"s3://{bucket}/cold", "--storage-class", "DEEP_ARCHIVE",
        "--only-show-errors")
    with pytest.raises(AwsCliError) as caught:
        aws("s3api", "get-object", "--bucket", bucket, "--key", "cold", str(tmp_path / "out"))
    assert "InvalidObjectState" in str(caught.value)
    aws("s3api", "restore-object", "--bucket", bucket, "--key", "cold",
        "--restore-request", '{"Days": 1}')
    aws("s3", "cp", f"s3://{bucket}/cold", str(tmp_path / "back.txt"), "--only-show-errors")
    assert (tmp_path / "back.txt").read_bytes() == b"from the cli"
    legacy = boto2_s3.get_bucket(bucket)
    key = legacy.new_key("rr")
    key.set_contents_from_string("reduced", reduced_redundancy=True)  # boto 2's own header
    classes = {k.name: k.storage_class for k in legacy.list()}
    assert classes == {"cli": "STANDARD_IA", "cold": "DEEP_ARCHIVE", "rr": "REDUCED_REDUNDANCY"}
    assert s3.head_object(Bucket=bucket, Key="rr")["StorageClass"] == "REDUCED_REDUNDANCY"
