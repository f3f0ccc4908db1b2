"""S3 Object Lock end to end (boto3, the AWS CLI): the bucket configuration, retention and legal
hold per version, and deletes refused while a version is locked."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.s3_access_fixtures import other, other_account

__all__ = ["other", "other_account"]

FAR = datetime(2030, 1, 1, tzinfo=UTC)
GOVERNANCE_DAY = {"ObjectLockEnabled": "Enabled",
                  "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}


def error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def new_name() -> str:
    return f"lock-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def locked(s3: Any) -> str:
    name = new_name()
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


@pytest.fixture
def plain(s3: Any) -> str:
    name = new_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="file1", Body=b"abc")
    return name


def test_bucket_created_with_lock_is_versioned_for_good(s3: Any, locked: str) -> None:
    assert s3.get_bucket_versioning(Bucket=locked)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"}
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Suspended"})
    assert error(caught) == ("InvalidBucketState", 409)
    assert s3.get_bucket_versioning(Bucket=locked)["Status"] == "Enabled"


def test_configuration_round_trip(s3: Any, locked: str) -> None:
    s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=GOVERNANCE_DAY)
    got = s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]
    assert got == GOVERNANCE_DAY
    years = {"ObjectLockEnabled": "Enabled",
             "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}}}
    s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=years)
    assert s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"] == years


@pytest.mark.parametrize(("retention", "expected"), [
    ({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, ("MalformedXML", 400)),
    ({"Mode": "GOVERNANCE"}, ("MalformedXML", 400)),
    ({"Mode": "abc", "Years": 1}, ("MalformedXML", 400)),
    ({"Mode": "governance", "Years": 1}, ("MalformedXML", 400)),
    ({"Mode": "GOVERNANCE", "Days": 0}, ("InvalidArgument", 400)),
    ({"Mode": "GOVERNANCE", "Years": -1}, ("InvalidArgument", 400)),
    ({"Mode": "GOVERNANCE", "Days": 36501}, ("InvalidArgument", 400)),
])
def test_bad_configuration(s3: Any, locked: str, retention: dict[str, Any],
                           expected: tuple[str, int]) -> None:
    conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}}
    with pytest.raises(ClientError) as caught:
        s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=conf)
    assert error(caught) == expected


def test_disabled_status_is_malformed(s3: Any, locked: str) -> None:
    conf = {**GOVERNANCE_DAY, "ObjectLockEnabled": "Disabled"}
    with pytest.raises(ClientError) as caught:
        s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=conf)
    assert error(caught) == ("MalformedXML", 400)


def test_bucket_without_lock(s3: Any, plain: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_object_lock_configuration(Bucket=plain)
    assert error(caught) == ("ObjectLockConfigurationNotFoundError", 404)
    with pytest.raises(ClientError) as caught:
        s3.put_object_lock_configuration(Bucket=plain, ObjectLockConfiguration=GOVERNANCE_DAY)
    assert error(caught) == ("InvalidBucketState", 409)
    calls = [
        lambda: s3.put_object_retention(Bucket=plain, Key="file1",
                                        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR}),
        lambda: s3.get_object_retention(Bucket=plain, Key="file1"),
        lambda: s3.put_object_legal_hold(Bucket=plain, Key="file1", LegalHold={"Status": "ON"}),
        lambda: s3.get_object_legal_hold(Bucket=plain, Key="file1"),
        lambda: s3.put_object(Bucket=plain, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                              ObjectLockRetainUntilDate=FAR),
        lambda: s3.put_object(Bucket=plain, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as caught:
            call()
        assert error(caught) == ("InvalidRequest", 400)
        assert caught.value.response["Error"]["Message"] == (
            "Bucket is missing Object Lock Configuration")


def test_enable_on_existing_versioned_bucket(s3: Any, plain: str) -> None:
    s3.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": "Suspended"})
    with pytest.raises(ClientError) as caught:
        s3.put_object_lock_configuration(Bucket=plain, ObjectLockConfiguration=GOVERNANCE_DAY)
    assert error(caught) == ("InvalidBucketState", 409)
    s3.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=plain, ObjectLockConfiguration=GOVERNANCE_DAY)
    assert s3.get_object_lock_configuration(Bucket=plain)["ObjectLockConfiguration"] == (
        GOVERNANCE_DAY)
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": "Suspended"})
    assert error(caught) == ("InvalidBucketState", 409)


def test_retention_round_trip_and_delete(s3: Any, locked: str) -> None:
    version = s3.put_object(Bucket=locked, Key="file1", Body=b"abc")["VersionId"]
    with pytest.raises(ClientError) as caught:
        s3.get_object_retention(Bucket=locked, Key="file1")
    assert error(caught) == ("NoSuchObjectLockConfiguration", 404)
    retention = {"Mode": "GOVERNANCE", "RetainUntilDate": FAR}
    s3.put_object_retention(Bucket=locked, Key="file1", Retention=retention)
    assert s3.get_object_retention(Bucket=locked, Key="file1")["Retention"] == retention
    assert s3.get_object_retention(Bucket=locked, Key="file1",
                                   VersionId=version)["Retention"] == retention
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=locked, Key="file1", VersionId=version)
    assert error(caught) == ("AccessDenied", 403)
    assert s3.head_object(Bucket=locked, Key="file1", VersionId=version)["ContentLength"] == 3
    marker = s3.delete_object(Bucket=locked, Key="file1")  # a delete marker is allowed
    assert marker["DeleteMarker"] is True
    s3.delete_object(Bucket=locked, Key="file1", VersionId=marker["VersionId"])
    deleted = s3.delete_object(Bucket=locked, Key="file1", VersionId=version,
                               BypassGovernanceRetention=True)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "Versions" not in s3.list_object_versions(Bucket=locked)


def test_retention_changes(s3: Any, locked: str) -> None:
    version = s3.put_object(Bucket=locked, Key="file1", Body=b"abc")["VersionId"]
    later = {"Mode": "GOVERNANCE", "RetainUntilDate": datetime(2030, 1, 3, tzinfo=UTC)}
    s3.put_object_retention(Bucket=locked, Key="file1", VersionId=version, Retention=later)
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": FAR}
    with pytest.raises(ClientError) as caught:
        s3.put_object_retention(Bucket=locked, Key="file1", Retention=shorter)
    assert error(caught) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:  # to COMPLIANCE: a change of mode needs bypass
        s3.put_object_retention(Bucket=locked, Key="file1",
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": FAR})
    assert error(caught) == ("AccessDenied", 403)
    s3.put_object_retention(Bucket=locked, Key="file1", Retention=shorter,
                            BypassGovernanceRetention=True)
    assert s3.get_object_retention(Bucket=locked, Key="file1")["Retention"] == shorter
    compliance = {"Mode": "COMPLIANCE", "RetainUntilDate": FAR}
    s3.put_object_retention(Bucket=locked, Key="file1", Retention=compliance,
                            BypassGovernanceRetention=True)
    for retention in ({"Mode": "GOVERNANCE", "RetainUntilDate": datetime(2031, 1, 1,
                                                                         tzinfo=UTC)},
                      {"Mode": "COMPLIANCE", "RetainUntilDate": datetime(2029, 1, 1,
                                                                         tzinfo=UTC)}):
        with pytest.raises(ClientError) as caught:
            s3.put_object_retention(Bucket=locked, Key="file1", Retention=retention,
                                    BypassGovernanceRetention=True)
        assert error(caught) == ("AccessDenied", 403)
    extended = {"Mode": "COMPLIANCE", "RetainUntilDate": datetime(2031, 1, 1, tzinfo=UTC)}
    s3.put_object_retention(Bucket=locked, Key="file1", Retention=extended)
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=locked, Key="file1", VersionId=version,
                         BypassGovernanceRetention=True)
    assert error(caught) == ("AccessDenied", 403)


def test_bad_retention(s3: Any, locked: str) -> None:
    s3.put_object(Bucket=locked, Key="file1", Body=b"abc")
    for mode in ("governance", "abc"):
        with pytest.raises(ClientError) as caught:
            s3.put_object_retention(Bucket=locked, Key="file1",
                                    Retention={"Mode": mode, "RetainUntilDate": FAR})
        assert error(caught) == ("MalformedXML", 400)
    past = datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(ClientError) as caught:
        s3.put_object_retention(Bucket=locked, Key="file1",
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": past})
    assert error(caught) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as caught:
        s3.put_object_retention(Bucket=locked, Key="missing",
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR})
    assert error(caught) == ("NoSuchKey", 404)


def test_legal_hold(s3: Any, locked: str) -> None:
    version = s3.put_object(Bucket=locked, Key="file1", Body=b"abc")["VersionId"]
    with pytest.raises(ClientError) as caught:
        s3.get_object_legal_hold(Bucket=locked, Key="file1")
    assert error(caught) == ("NoSuchObjectLockConfiguration", 404)
    with pytest.raises(ClientError) as caught:
        s3.put_object_legal_hold(Bucket=locked, Key="file1", LegalHold={"Status": "abc"})
    assert error(caught) == ("MalformedXML", 400)
    s3.put_object_legal_hold(Bucket=locked, Key="file1", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=locked, Key="file1")["LegalHold"] == {"Status": "ON"}
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=locked, Key="file1", VersionId=version,
                         BypassGovernanceRetention=True)
    assert error(caught) == ("AccessDenied", 403)
    s3.put_object_legal_hold(Bucket=locked, Key="file1", VersionId=version,
                             LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=locked, Key="file1")["LegalHold"] == {
        "Status": "OFF"}
    assert s3.delete_object(Bucket=locked, Key="file1", VersionId=version)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204


def test_lock_headers_on_upload(s3: Any, locked: str) -> None:
    put = s3.put_object(Bucket=locked, Key="file1", Body=b"abc", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=FAR, ObjectLockLegalHoldStatus="ON")
    for read in (s3.head_object, s3.get_object):
        got = read(Bucket=locked, Key="file1")
        assert (got["ObjectLockMode"], got["ObjectLockRetainUntilDate"],
                got["ObjectLockLegalHoldStatus"]) == ("GOVERNANCE", FAR, "ON")
        assert got["VersionId"] == put["VersionId"]
    s3.put_object_legal_hold(Bucket=locked, Key="file1", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=locked, Key="file1", VersionId=put["VersionId"],
                     BypassGovernanceRetention=True)


@pytest.mark.parametrize("headers", [
    {"ObjectLockMode": "GOVERNANCE"},
    {"ObjectLockRetainUntilDate": FAR},
])
def test_mode_and_date_go_together(s3: Any, locked: str, headers: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=locked, Key="file1", Body=b"abc", **headers)
    assert error(caught) == ("InvalidArgument", 400)


def test_past_date_on_upload(s3: Any, locked: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=locked, Key="file1", Body=b"abc", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=datetime(2020, 1, 1, tzinfo=UTC))
    assert error(caught) == ("InvalidArgument", 400)


def test_default_retention_applies_to_new_versions(s3: Any, locked: str) -> None:
    before = s3.put_object(Bucket=locked, Key="old", Body=b"x")["VersionId"]
    s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=GOVERNANCE_DAY)
    start = datetime.now(UTC)
    version = s3.put_object(Bucket=locked, Key="file1", Body=b"abc")["VersionId"]
    head = s3.head_object(Bucket=locked, Key="file1")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert start + timedelta(days=1) - timedelta(seconds=5) < until
    assert until < start + timedelta(days=1, seconds=5)
    explicit = s3.put_object(Bucket=locked, Key="file2", Body=b"abc",
                             ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR)
    assert s3.get_object_retention(Bucket=locked, Key="file2")["Retention"] == {
        "Mode": "COMPLIANCE", "RetainUntilDate": FAR}
    assert "ObjectLockMode" not in s3.head_object(Bucket=locked, Key="old")
    s3.delete_object(Bucket=locked, Key="old", VersionId=before)
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=locked, Key="file1", VersionId=version)
    assert error(caught) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=locked, Key="file2", VersionId=explicit["VersionId"],
                         BypassGovernanceRetention=True)
    assert error(caught) == ("AccessDenied", 403)
    s3.delete_object(Bucket=locked, Key="file1", VersionId=version,
                     BypassGovernanceRetention=True)


def test_delete_objects_reports_locked_versions(s3: Any, locked: str) -> None:
    v1 = s3.put_object(Bucket=locked, Key="file1", Body=b"abc")["VersionId"]
    v2 = s3.put_object(Bucket=locked, Key="file2", Body=b"abc")["VersionId"]
    s3.put_object_retention(Bucket=locked, Key="file1",
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR})
    both = {"Objects": [{"Key": "file1", "VersionId": v1}, {"Key": "file2", "VersionId": v2}]}
    result = s3.delete_objects(Bucket=locked, Delete=both)
    assert [(e["Key"], e["VersionId"], e["Code"]) for e in result["Errors"]] == [
        ("file1", v1, "AccessDenied")]
    assert [(d["Key"], d["VersionId"]) for d in result["Deleted"]] == [("file2", v2)]
    result = s3.delete_objects(Bucket=locked, Delete={"Objects": [{"Key": "file1",
                                                                   "VersionId": v1}]},
                               BypassGovernanceRetention=True)
    assert "Errors" not in result
    assert [(d["Key"], d["VersionId"]) for d in result["Deleted"]] == [("file1", v1)]


def test_multipart_and_copy_carry_their_own_lock(s3: Any, locked: str) -> None:
    upload = s3.create_multipart_upload(Bucket=locked, Key="mp", ObjectLockMode="GOVERNANCE",
                                        ObjectLockRetainUntilDate=FAR,
                                        ObjectLockLegalHoldStatus="ON")
    part = s3.upload_part(Bucket=locked, Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                          Body=b"abc")
    done = s3.complete_multipart_upload(
        Bucket=locked, Key="mp", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    head = s3.head_object(Bucket=locked, Key="mp")
    assert (head["ObjectLockMode"], head["ObjectLockLegalHoldStatus"]) == ("GOVERNANCE", "ON")
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=locked, Key="mp", VersionId=done["VersionId"],
                         BypassGovernanceRetention=True)
    assert error(caught) == ("AccessDenied", 403)
    copied = s3.copy_object(Bucket=locked, Key="copy", CopySource={"Bucket": locked, "Key": "mp"})
    assert "ObjectLockMode" not in s3.head_object(Bucket=locked, Key="copy")
    s3.delete_object(Bucket=locked, Key="copy", VersionId=copied["VersionId"])
    s3.copy_object(Bucket=locked, Key="copy2", CopySource={"Bucket": locked, "Key": "mp"},
                   ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR)
    assert s3.head_object(Bucket=locked, Key="copy2")["ObjectLockMode"] == "COMPLIANCE"
    s3.put_object_legal_hold(Bucket=locked, Key="mp", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=locked, Key="mp", VersionId=done["VersionId"],
                     BypassGovernanceRetention=True)


def test_bypass_needs_the_permission(s3: Any, other: Any, other_account: Any,
                                     locked: str) -> None:
    version = s3.put_object(Bucket=locked, Key="file1", Body=b"abc", ObjectLockMode="GOVERNANCE",
                            ObjectLockRetainUntilDate=FAR)["VersionId"]
    arn = f"arn:aws:iam::{other_account.account_id}:root"
    statement = {"Effect": "Allow", "Principal": {"AWS": arn},
                 "Action": ["s3:DeleteObjectVersion", "s3:DeleteObject"],
                 "Resource": f"arn:aws:s3:::{locked}/*"}
    s3.put_bucket_policy(Bucket=locked, Policy=json.dumps({"Version": "2012-10-17",
                                                           "Statement": [statement]}))
    with pytest.raises(ClientError) as caught:
        other.delete_object(Bucket=locked, Key="file1", VersionId=version,
                            BypassGovernanceRetention=True)
    assert error(caught) == ("AccessDenied", 403)
    statement["Action"] = [*statement["Action"], "s3:BypassGovernanceRetention"]
    s3.put_bucket_policy(Bucket=locked, Policy=json.dumps({"Version": "2012-10-17",
                                                           "Statement": [statement]}))
    other.delete_object(Bucket=locked, Key="file1", VersionId=version,
                        BypassGovernanceRetention=True)


def test_aws_cli(aws: Any, s3: Any) -> None:
    name = new_name()
    aws("s3api", "create-bucket", "--bucket", name, "--object-lock-enabled-for-bucket")
    aws("s3api", "put-object-lock-configuration", "--bucket", name,
        "--object-lock-configuration", json.dumps(GOVERNANCE_DAY))
    got = aws("s3api", "get-object-lock-configuration", "--bucket", name)
    assert got["ObjectLockConfiguration"] == GOVERNANCE_DAY
    version = s3.put_object(Bucket=name, Key="k", Body=b"x")["VersionId"]
    aws("s3api", "put-object-legal-hold", "--bucket", name, "--key", "k",
        "--legal-hold", "Status=ON")
    assert aws("s3api", "get-object-legal-hold", "--bucket", name, "--key", "k")[
        "LegalHold"] == {"Status": "ON"}
    retention = aws("s3api", "get-object-retention", "--bucket", name, "--key", "k")
    assert retention["Retention"]["Mode"] == "GOVERNANCE"
    with pytest.raises(Exception, match="AccessDenied"):
        aws("s3api", "delete-object", "--bucket", name, "--key", "k", "--version-id", version,
            "--bypass-governance-retention")
