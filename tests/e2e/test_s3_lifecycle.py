"""Bucket lifecycle configuration end to end: boto3, the AWS CLI and boto 2 (legacy format)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import AwsCli, AwsCliError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from boto.exception import S3ResponseError
    from boto.s3.connection import S3Connection
    from boto.s3.lifecycle import Expiration, Lifecycle, Rule


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    error = exc.value.response
    return (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"],
            error["Error"]["Message"])


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"lc-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def rule(**extra: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
            "Expiration": {"Days": 30}} | extra


def put(s3: Any, bucket: str, *rules: dict[str, Any]) -> Any:
    return s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)})


def refused(s3: Any, bucket: str, *rules: dict[str, Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        put(s3, bucket, *rules)
    return code(caught)


def test_none_configured_is_404(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code(caught) == ("NoSuchLifecycleConfiguration", 404,
                            "The lifecycle configuration does not exist")
    assert caught.value.response["Error"]["BucketName"] == bucket


def test_round_trip_and_delete(s3: Any, bucket: str) -> None:
    rules = [
        rule(),
        {"ID": "tagged", "Status": "Disabled",
         "Filter": {"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"},
                                                     {"Key": "k2", "Value": "v2"}],
                            "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 1000}},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 3},
         "Transitions": [{"Days": 40, "StorageClass": "GLACIER"}]},
        {"ID": "mpu", "Status": "Enabled", "Filter": {},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
        {"ID": "dated", "Status": "Enabled", "Filter": {"Tag": {"Key": "t", "Value": "1"}},
         "Expiration": {"Date": datetime(2030, 1, 1, tzinfo=UTC)}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 5},
         "Expiration": {"ExpiredObjectDeleteMarker": True},
         "NoncurrentVersionTransitions": [{"NoncurrentDays": 10, "StorageClass": "GLACIER"}]},
    ]
    put(s3, bucket, *rules)
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert got == rules
    assert s3.delete_bucket_lifecycle(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code(caught)[0] == "NoSuchLifecycleConfiguration"
    s3.delete_bucket_lifecycle(Bucket=bucket)  # deleting nothing is fine


def test_transition_default_minimum_object_size(s3: Any, bucket: str) -> None:
    """``x-amz-transition-default-minimum-object-size``: S3's default when not sent, kept and
    answered (as a header) by Put and Get."""
    assert put(s3, bucket, rule())["TransitionDefaultMinimumObjectSize"] == (
        "all_storage_classes_128K")
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    answer = s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [rule()]},
        TransitionDefaultMinimumObjectSize="varies_by_storage_class")
    assert answer["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    assert got["Rules"] == [rule()]
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [rule()]},
            TransitionDefaultMinimumObjectSize="tiny")
    assert code(caught)[:2] == ("InvalidArgument", 400)
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)[
        "TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"


def test_put_replaces_and_assigns_missing_ids(s3: Any, bucket: str) -> None:
    put(s3, bucket, rule())
    put(s3, bucket, {"Status": "Enabled", "Filter": {"Prefix": ""},
                     "Expiration": {"Days": 1}})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert len(got) == 1 and got[0]["ID"] and got[0]["ID"] != "r"


def test_rule_ids(s3: Any, bucket: str) -> None:
    assert refused(s3, bucket, rule(), rule()) == (
        "InvalidArgument", 400, "Rule ID must be unique. Found same ID for more than one rule")
    assert refused(s3, bucket, rule(ID="x" * 256))[:2] == ("InvalidArgument", 400)
    put(s3, bucket, rule(ID="x" * 255))


def test_status_and_rule_count(s3: Any, bucket: str) -> None:
    assert refused(s3, bucket, rule(Status="On"))[:2] == ("MalformedXML", 400)
    many = [rule(ID=str(n)) for n in range(1001)]
    assert refused(s3, bucket, *many)[:2] == ("MalformedXML", 400)
    put(s3, bucket, *many[:1000])
    assert len(s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]) == 1000


def test_expiration_values(s3: Any, bucket: str) -> None:
    assert refused(s3, bucket, rule(Expiration={"Days": 0})) == (
        "InvalidArgument", 400, "'Days' for Expiration action must be a positive integer")
    assert refused(s3, bucket, rule(Expiration={"Days": -3}))[0] == "InvalidArgument"
    noon = datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert refused(s3, bucket, rule(Expiration={"Date": noon})) == (
        "InvalidArgument", 400, "'Date' must be at midnight GMT")
    midnight = datetime(2030, 1, 1, tzinfo=UTC)
    both = {"Days": 1, "Date": midnight}
    assert refused(s3, bucket, rule(Expiration=both))[:2] == ("MalformedXML", 400)
    marker = {"Days": 1, "ExpiredObjectDeleteMarker": True}
    assert refused(s3, bucket, rule(Expiration=marker))[:2] == ("MalformedXML", 400)
    assert refused(s3, bucket, rule(Expiration={}))[:2] == ("MalformedXML", 400)


def test_filters(s3: Any, bucket: str) -> None:
    two = {"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}}
    assert refused(s3, bucket, rule(Filter=two))[:2] == ("MalformedXML", 400)
    assert refused(s3, bucket, rule(Prefix="x"))[:2] == ("MalformedXML", 400)
    no_filter = rule()
    del no_filter["Filter"]
    assert refused(s3, bucket, no_filter)[:2] == ("MalformedXML", 400)
    dup = {"And": {"Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}}
    assert refused(s3, bucket, rule(Filter=dup))[:2] == ("InvalidRequest", 400)
    sizes = {"And": {"ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 10}}
    assert refused(s3, bucket, rule(Filter=sizes))[:2] == ("InvalidRequest", 400)
    put(s3, bucket, rule(Filter={"ObjectSizeGreaterThan": 0}))


def test_actions(s3: Any, bucket: str) -> None:
    none = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}}
    assert refused(s3, bucket, none) == (
        "InvalidRequest", 400, "At least one action needs to be specified in a rule")
    tagged = rule(Filter={"Tag": {"Key": "k", "Value": "v"}},
                  AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})
    assert refused(s3, bucket, tagged) == (
        "InvalidRequest", 400, "AbortIncompleteMultipartUpload cannot be specified with Tags.")
    zero = rule(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})
    assert refused(s3, bucket, zero)[:2] == ("InvalidArgument", 400)
    noncurrent = rule(NoncurrentVersionExpiration={"NoncurrentDays": 0})
    assert refused(s3, bucket, noncurrent)[:2] == ("InvalidArgument", 400)
    newer = rule(NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 0})
    assert refused(s3, bucket, newer)[:2] == ("InvalidArgument", 400)


def test_refused_configuration_keeps_the_old_one(s3: Any, bucket: str) -> None:
    put(s3, bucket, rule())
    refused(s3, bucket, rule(Expiration={"Days": 0}))
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == [rule()]


def test_other_accounts_are_refused(s3: Any, bucket: str, make_s3: Any, server: Any) -> None:
    other = make_s3(server.new_account())
    with pytest.raises(ClientError) as caught:
        put(other, bucket, rule())
    assert code(caught)[:2] == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:
        other.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code(caught)[:2] == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_lifecycle_configuration(Bucket="lc-no-such-bucket-here")
    assert code(caught)[:2] == ("NoSuchBucket", 404)


def test_expiration_header(s3: Any, bucket: str) -> None:
    put(s3, bucket, rule(ID="thirty"))
    reply = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="logs/a")
    due = (head["LastModified"] + timedelta(days=31)).replace(hour=0, minute=0, second=0)
    expected = f'expiry-date="{due.strftime("%a, %d %b %Y %H:%M:%S GMT")}", rule-id="thirty"'
    assert reply["Expiration"] == head["Expiration"] == expected
    assert s3.get_object(Bucket=bucket, Key="logs/a")["Expiration"] == expected
    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="other")


# --- raw requests through boto 2 (it signs whatever body and headers it is given) -------------

def _raw_put(conn: S3Connection, bucket: str, body: bytes,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    reply = conn.make_request("PUT", bucket, query_args="lifecycle", data=body,
                              headers=headers or {})
    return reply.status, reply.read()


def test_malformed_xml_and_content_md5(boto2_s3: S3Connection, bucket: str) -> None:
    status, body = _raw_put(boto2_s3, bucket, b"<LifecycleConfiguration><Rule>")
    assert status == 400 and b"<Code>MalformedXML</Code>" in body
    good = (b"<LifecycleConfiguration><Rule><ID>a</ID><Prefix>p/</Prefix>"
            b"<Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"
            b"</LifecycleConfiguration>")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    status, body = _raw_put(boto2_s3, bucket, good, {"Content-MD5": wrong})
    assert status == 400 and b"<Code>BadDigest</Code>" in body
    status, body = _raw_put(boto2_s3, bucket, good, {"Content-MD5": "nope"})
    assert status == 400 and b"<Code>InvalidDigest</Code>" in body
    right = base64.b64encode(hashlib.md5(good).digest()).decode()
    assert _raw_put(boto2_s3, bucket, good, {"Content-MD5": right})[0] == 200
    mixed = good.replace(b"</LifecycleConfiguration>", b"<Rule><ID>b</ID><Filter/>"
                         b"<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"
                         b"</Rule></LifecycleConfiguration>")
    status, body = _raw_put(boto2_s3, bucket, mixed)
    assert status == 400 and b"<Code>MalformedXML</Code>" in body


def test_boto2_legacy_format(boto2_s3: S3Connection, s3: Any, bucket: str) -> None:
    lifecycle = Lifecycle()
    lifecycle.add_rule("old", prefix="logs/", status="Enabled", expiration=Expiration(days=5))
    lifecycle.append(Rule("dated", "tmp/", "Disabled",
                          Expiration(date="2031-02-03T00:00:00.000Z")))
    conn_bucket = boto2_s3.get_bucket(bucket, validate=False)
    assert conn_bucket.configure_lifecycle(lifecycle) is True
    got = conn_bucket.get_lifecycle_config()
    assert [(r.id, r.prefix, r.status) for r in got] == [
        ("old", "logs/", "Enabled"), ("dated", "tmp/", "Disabled")]
    assert got[0].expiration.days == 5
    assert got[1].expiration.date.startswith("2031-02-03T00:00:00")
    # S3 answers in the format the configuration was put in: Prefix in the rule, no Filter.
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0] == {"ID": "old", "Prefix": "logs/", "Status": "Enabled",
                        "Expiration": {"Days": 5}}
    assert conn_bucket.delete_lifecycle_configuration() is True
    with pytest.raises(S3ResponseError) as caught:
        conn_bucket.get_lifecycle_config()
    assert (caught.value.status, caught.value.error_code) == (404, "NoSuchLifecycleConfiguration")


def test_boto2_reads_a_boto3_configuration(boto2_s3: S3Connection, s3: Any, bucket: str) -> None:
    put(s3, bucket, rule(ID="new"))
    got = boto2_s3.get_bucket(bucket, validate=False).get_lifecycle_config()
    assert [(r.id, r.status, r.expiration.days) for r in got] == [("new", "Enabled", 30)]


def test_aws_cli(aws: AwsCli, bucket: str, tmp_path: Path) -> None:
    config = {"Rules": [{"ID": "cli", "Status": "Enabled", "Filter": {"Prefix": "x/"},
                         "Expiration": {"Days": 3},
                         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]}
    path = tmp_path / "lifecycle.json"
    path.write_text(json.dumps(config))
    aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
        "--lifecycle-configuration", f"file://{path}")
    assert aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)["Rules"] == (
        config["Rules"])
    bad = {"Rules": [config["Rules"][0] | {"Expiration": {"Days": 0}}]}
    path.write_text(json.dumps(bad))
    with pytest.raises(AwsCliError) as caught:
        aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
            "--lifecycle-configuration", f"file://{path}")
    assert caught.value.code == "InvalidArgument"
    aws("s3api", "delete-bucket-lifecycle", "--bucket", bucket)
    with pytest.raises(AwsCliError) as caught:
        aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert caught.value.code == "NoSuchLifecycleConfiguration"
