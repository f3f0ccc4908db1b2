"""Bucket and object tagging end to end: boto3, the AWS CLI and boto 2; ``x-amz-tagging`` on
PutObject, CopyObject and multipart uploads; the tag count on GET/HEAD; versions and delete
markers; the error codes AWS answers."""

from __future__ import annotations

import base64
import hashlib
import json
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
    from boto.s3.tagging import Tags, TagSet


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _tag_set(tags: dict[str, str]) -> dict[str, Any]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"tag-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


# --- bucket tagging ---------------------------------------------------------------------------

def test_bucket_tagging_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_tagging(Bucket=bucket)
    assert _error(caught) == ("NoSuchTagSet", 404)
    tags = {"project": "ironbark", "empty": "", "team": "storage"}
    s3.put_bucket_tagging(Bucket=bucket, Tagging=_tag_set(tags))
    got = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert {t["Key"]: t["Value"] for t in got} == tags
    s3.put_bucket_tagging(Bucket=bucket, Tagging=_tag_set({"only": "one"}))  # replaces
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "only", "Value": "one"}]
    assert s3.delete_bucket_tagging(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_tagging(Bucket=bucket)
    assert _error(caught) == ("NoSuchTagSet", 404)


def test_bucket_tagging_limits(s3: Any, bucket: str) -> None:
    s3.put_bucket_tagging(Bucket=bucket, Tagging=_tag_set({f"k{i}": "v" for i in range(50)}))
    cases: list[tuple[dict[str, Any], str, str]] = [
        (_tag_set({f"k{i}": "v" for i in range(51)}), "BadRequest",
         "Bucket tag count cannot be greater than 50"),
        (_tag_set({"k" * 129: "v"}), "InvalidTag", "The TagKey you have provided is invalid"),
        (_tag_set({"k": "v" * 257}), "InvalidTag", "The TagValue you have provided is invalid"),
        ({"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}, "InvalidTag",
         "Cannot provide multiple Tags with the same key"),
        (_tag_set({"aws:createdBy": "me"}), "InvalidTag",
         "System tags cannot be added/updated by requester"),
    ]
    for tagging, code, message in cases:
        with pytest.raises(ClientError) as caught:
            s3.put_bucket_tagging(Bucket=bucket, Tagging=tagging)
        assert _error(caught) == (code, 400)
        assert caught.value.response["Error"]["Message"] == message
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50  # unchanged


def test_bucket_tagging_bad_xml_and_digest(s3: Any, server: Server, account: Credentials,
                                           bucket: str) -> None:
    good = (b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag>'
            b"<Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>")
    md5 = base64.b64encode(hashlib.md5(good).digest()).decode()
    url = f"{server.endpoint}{bucket}?tagging"
    cases = [
        (b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>", {}, "MalformedXML"),
        (b"<Tagging><TagSet>", {}, "MalformedXML"),
        (b"<Tagging><Nope/></Tagging>", {}, "MalformedXML"),
        (good, {"Content-MD5": base64.b64encode(b"x" * 16).decode()}, "BadDigest"),
        (good, {"Content-MD5": "not base64!"}, "InvalidDigest"),
    ]
    for body, headers, code in cases:
        reply = signed(account, "PUT", url, body, headers)
        assert reply.status_code == 400 and f"<Code>{code}</Code>" in reply.text, reply.text
    assert signed(account, "PUT", url, good, {"Content-MD5": md5}).status_code == 204
    assert signed(account, "PUT", url, good).status_code == 204  # Content-MD5 is optional
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "a", "Value": "b"}]


def test_bucket_tagging_missing_bucket_and_other_account(s3: Any, make_s3: Any,
                                                         server: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_tagging(Bucket=f"missing-{uuid.uuid4().hex[:12]}")
    assert _error(caught) == ("NoSuchBucket", 404)
    other = make_s3(server.new_account())
    with pytest.raises(ClientError) as caught:
        other.put_bucket_tagging(Bucket=bucket, Tagging=_tag_set({"a": "b"}))
    assert _error(caught) == ("AccessDenied", 403)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=b")
    for call in (lambda: other.get_object_tagging(Bucket=bucket, Key="k"),
                 lambda: other.get_object_tagging(Bucket=bucket, Key="missing"),
                 lambda: other.delete_object_tagging(Bucket=bucket, Key="k")):
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught) == ("AccessDenied", 403)
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "a", "Value": "b"}]


def test_cli_bucket_and_object_tagging(aws: AwsCli) -> None:
    name = f"tag-{uuid.uuid4().hex[:16]}"
    aws("s3api", "create-bucket", "--bucket", name)
    aws("s3api", "put-bucket-tagging", "--bucket", name,
        "--tagging", "TagSet=[{Key=env,Value=prod},{Key=owner,Value=ops}]")
    assert aws("s3api", "get-bucket-tagging", "--bucket", name)["TagSet"] == [
        {"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "ops"}]
    aws("s3api", "put-object", "--bucket", name, "--key", "k", "--tagging", "a=1&b=2")
    assert aws("s3api", "get-object-tagging", "--bucket", name, "--key", "k")["TagSet"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    aws("s3api", "put-object-tagging", "--bucket", name, "--key", "k",
        "--tagging", json.dumps(_tag_set({"c": "3"})))
    assert aws("s3api", "get-object-tagging", "--bucket", name, "--key", "k")["TagSet"] == [
        {"Key": "c", "Value": "3"}]
    aws("s3api", "delete-object-tagging", "--bucket", name, "--key", "k")
    assert aws("s3api", "get-object-tagging", "--bucket", name, "--key", "k")["TagSet"] == []
    aws("s3api", "delete-bucket-tagging", "--bucket", name)
    with pytest.raises(AwsCliError) as caught:
        aws("s3api", "get-bucket-tagging", "--bucket", name)
    assert caught.value.code == "NoSuchTagSet"


def test_boto2_bucket_tags(boto2_s3: Any, s3: Any, bucket: str) -> None:
    b2 = boto2_s3.get_bucket(bucket)
    with pytest.raises(S3ResponseError) as caught:
        b2.get_tags()
    assert caught.value.status == 404 and caught.value.error_code == "NoSuchTagSet"
    tag_set = TagSet()
    tag_set.add_tag("color", "blue")
    tag_set.add_tag("size", "XL")
    tags = Tags()
    tags.add_tag_set(tag_set)
    b2.set_tags(tags)
    got = {tag.key: tag.value for ts in b2.get_tags() for tag in ts}
    assert got == {"color": "blue", "size": "XL"}
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 2
    b2.delete_tags()
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)


# --- object tagging ---------------------------------------------------------------------------

def test_object_tagging_round_trip_and_count(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")
    tags = {str(i): f"v{i}" for i in range(10)}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=_tag_set(tags))
    got = s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]
    assert {t["Key"]: t["Value"] for t in got} == tags
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 10
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "10"
    deleted = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_object_tagging_limits(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=_tag_set({"k" * 128: "v" * 256}))
    cases: list[tuple[dict[str, Any], str, str]] = [
        (_tag_set({str(i): "" for i in range(11)}), "BadRequest",
         "Object tags cannot be greater than 10"),
        (_tag_set({"k" * 129: "v"}), "InvalidTag", "The TagKey you have provided is invalid"),
        (_tag_set({"k": "v" * 257}), "InvalidTag", "The TagValue you have provided is invalid"),
        ({"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "1"}]}, "InvalidTag",
         "Cannot provide multiple Tags with the same key"),
    ]
    for tagging, code, message in cases:
        with pytest.raises(ClientError) as caught:
            s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagging)
        assert _error(caught) == (code, 400)
        assert caught.value.response["Error"]["Message"] == message
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [
        {"Key": "k" * 128, "Value": "v" * 256}]


def test_object_tagging_missing(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_object_tagging(Bucket=bucket, Key="nope")
    assert _error(caught) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as caught:
        s3.put_object_tagging(Bucket=bucket, Key="nope", Tagging=_tag_set({"a": "b"}))
    assert _error(caught) == ("NoSuchKey", 404)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as caught:
        s3.get_object_tagging(Bucket=bucket, Key="k", VersionId="no-such-version")
    assert _error(caught) == ("NoSuchVersion", 404)


def test_object_tagging_per_version_and_delete_marker(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="gen=1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    put = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1,
                                Tagging=_tag_set({"gen": "one"}))
    assert put["VersionId"] == v1
    got = s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)
    assert (got["VersionId"], got["TagSet"]) == (v1, [{"Key": "gen", "Value": "one"}])
    latest = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert (latest["VersionId"], latest["TagSet"]) == (v2, [])
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["TagCount"] == 1
    assert s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["VersionId"] == v1

    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    calls = [
        lambda: s3.get_object_tagging(Bucket=bucket, Key="k"),
        lambda: s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=marker),
        lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=_tag_set({"a": "b"})),
        lambda: s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=marker),
    ]
    for call in calls:
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught) == ("MethodNotAllowed", 405)
        headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert (headers["x-amz-delete-marker"], headers["x-amz-version-id"]) == ("true", marker)


def test_put_object_tagging_header(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="foo=bar&bar&sp%20ace=a+b")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [
        {"Key": "bar", "Value": ""}, {"Key": "foo", "Value": "bar"},
        {"Key": "sp ace", "Value": "a b"}]
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "3"
    cases = [("a=1&a=2", "InvalidArgument"), ("k=" + "v" * 257, "InvalidTag"),
             ("&".join(f"k{i}=v" for i in range(11)), "BadRequest")]
    for header, code in cases:
        with pytest.raises(ClientError) as caught:
            s3.put_object(Bucket=bucket, Key="bad", Body=b"x", Tagging=header)
        assert _error(caught) == (code, 400)
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key="bad")
    assert _error(caught)[1] == 404


def test_copy_object_tagging_directive(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1&b=2")
    source = {"Bucket": bucket, "Key": "src"}
    s3.copy_object(Bucket=bucket, Key="copied", CopySource=source)
    assert s3.get_object(Bucket=bucket, Key="copied")["TagCount"] == 2
    s3.copy_object(Bucket=bucket, Key="kept", CopySource=source, TaggingDirective="COPY",
                   Tagging="ignored=1")
    assert s3.get_object_tagging(Bucket=bucket, Key="kept")["TagSet"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource=source,
                   TaggingDirective="REPLACE", Tagging="c=3")
    assert s3.get_object_tagging(Bucket=bucket, Key="replaced")["TagSet"] == [
        {"Key": "c", "Value": "3"}]
    s3.copy_object(Bucket=bucket, Key="cleared", CopySource=source, TaggingDirective="REPLACE")
    assert s3.get_object_tagging(Bucket=bucket, Key="cleared")["TagSet"] == []
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="bad", CopySource=source, TaggingDirective="MERGE")
    assert _error(caught) == ("InvalidArgument", 400)


def test_multipart_upload_tags_apply_at_complete(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="stage=final")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                          Body=b"data")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="mp")["TagSet"] == [
        {"Key": "stage", "Value": "final"}]
    with pytest.raises(ClientError) as caught:
        s3.create_multipart_upload(Bucket=bucket, Key="mp2", Tagging="aws:x=1")
    assert _error(caught) == ("InvalidTag", 400)


def _post_tagging(s3: Any, server: Server, bucket: str, key: str,
                  tags: dict[str, str]) -> httpx.Response:
    document = "<Tagging><TagSet>" + "".join(
        f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in tags.items()) + (
        "</TagSet></Tagging>")
    form = s3.generate_presigned_post(bucket, key, Fields={"tagging": document},
                                      Conditions=[{"tagging": document}])
    return httpx.post(f"{server.endpoint}{bucket}", data=form["fields"],
                      files={"file": ("f.txt", b"posted")}, trust_env=False)


def test_post_object_tagging_field(s3: Any, server: Server, bucket: str) -> None:
    assert _post_tagging(s3, server, bucket, "ok", {"team": "blue"}).status_code == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="ok")["TagSet"] == [
        {"Key": "team", "Value": "blue"}]
    assert s3.head_object(Bucket=bucket, Key="ok")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "1"
    too_many = _post_tagging(s3, server, bucket, "bad", {str(i): "" for i in range(11)})
    assert too_many.status_code == 400 and "<Code>BadRequest</Code>" in too_many.text
    reserved = _post_tagging(s3, server, bucket, "bad", {"aws:x": "1"})
    assert reserved.status_code == 400 and "<Code>InvalidTag</Code>" in reserved.text
