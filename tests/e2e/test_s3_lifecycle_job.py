"""The lifecycle job end to end, on a server where a day lasts one second and the job runs
every second: matching objects really go, the others stay.

Each test creates the objects a rule must spare *before* the ones it must remove, so once the
latter are gone the job has already looked at the older, spared ones and left them alone.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, running_server

DEADLINE = 30.0


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"IRONBARK_S3_LIFECYCLE_DAY_SECONDS": "1", "IRONBARK_S3_LIFECYCLE_INTERVAL_SECONDS": "1",
           "IRONBARK_S3_ACCESS_LOG_INTERVAL_SECONDS": "1"}
    with running_server(db_backend, tmp_path_factory, env) as srv:
        yield srv


def wait_for(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"after {DEADLINE:.0f} s still not: {what}")
        time.sleep(0.2)


def new_bucket(s3: Any, versioned: bool = False) -> str:
    name = f"lcj-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def configure(s3: Any, bucket: str, *rules: dict[str, Any]) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                          LifecycleConfiguration={"Rules": list(rules)})


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def versions(s3: Any, bucket: str, key: str) -> list[tuple[str, bool, bool]]:
    """(version id, is latest, is delete marker) of every version of ``key``: the latest
    first, then versions newest first, then delete markers."""
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    found = [(v["VersionId"], v["IsLatest"], False)
             for v in listed.get("Versions", []) if v["Key"] == key]
    found += [(m["VersionId"], m["IsLatest"], True)
              for m in listed.get("DeleteMarkers", []) if m["Key"] == key]
    return sorted(found, key=lambda v: not v[1])


def test_lifecycle_actions_are_records_of_the_server_access_log(s3: Any) -> None:
    """As S3 logs them: S3.EXPIRE.OBJECT, S3.CREATE.DELETEMARKER and the transitions, by the
    requester AmazonS3, with no request behind them."""
    plain, versioned, logs = new_bucket(s3), new_bucket(s3, versioned=True), new_bucket(s3)
    for bucket in (plain, versioned):
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {
            "TargetBucket": logs, "TargetPrefix": f"{bucket}/"}})
        s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
        s3.put_object(Bucket=bucket, Key="cold", Body=b"y")
        configure(s3, bucket,
                  {"ID": "x", "Status": "Enabled", "Filter": {"Prefix": "gone"},
                   "Expiration": {"Days": 1}},
                  {"ID": "t", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 100},
                   "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]})

    def operations(bucket: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for item in s3.list_objects_v2(Bucket=logs, Prefix=f"{bucket}/").get("Contents", []):
            text = s3.get_object(Bucket=logs, Key=item["Key"])["Body"].read().decode()
            for line in text.splitlines():
                fields = line.split(" ")
                if fields[7].startswith("S3."):
                    found.setdefault(fields[7], []).append(line)
        return found

    wait_for("the lifecycle records", lambda: {
        "S3.EXPIRE.OBJECT", "S3.TRANSITION.OBJECT"} <= set(operations(plain)) and {
        "S3.CREATE.DELETEMARKER", "S3.TRANSITION.OBJECT"} <= set(operations(versioned)))
    expire = operations(plain)["S3.EXPIRE.OBJECT"][0].split(" ")
    # owner bucket [time +0000] ip requester id operation key uri status ...
    assert expire[1] == plain and expire[4] == "-" and expire[5] == "AmazonS3"
    assert expire[8] == "gone" and expire[9] == "-" and expire[10] == "-"
    moved = operations(versioned)["S3.TRANSITION.OBJECT"][0].split(" ")
    assert moved[8] == "cold" and moved[18] not in ("-", "null")  # the version it moved


def test_unversioned_objects_expire(s3: Any) -> None:
    bucket = new_bucket(s3)
    for key, body in [("keep/old", b"x"), ("off/old", b"x"), ("size/small", b"12345")]:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    configure(s3, bucket,
              {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
               "Expiration": {"Days": 1}},
              {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "off/"},
               "Expiration": {"Days": 1}},
              {"ID": "big", "Status": "Enabled",
               "Filter": {"And": {"Prefix": "size/", "ObjectSizeGreaterThan": 10}},
               "Expiration": {"Days": 1}})
    for key, body in [("tmp/a", b"a"), ("tmp/b/c", b"b"), ("size/big", b"x" * 20)]:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    wait_for("tmp/ and size/big expired", lambda: keys(s3, bucket) == [
        "keep/old", "off/old", "size/small"])
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="tmp/a")
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"
    assert s3.get_object(Bucket=bucket, Key="size/small")["Body"].read() == b"12345"
    # A bucket whose objects all expired can be deleted: nothing was left behind.
    configure(s3, bucket, {"ID": "all", "Status": "Enabled", "Filter": {},
                           "Expiration": {"Date": datetime(2020, 1, 1, tzinfo=UTC)}})
    wait_for("everything expired by date", lambda: keys(s3, bucket) == [])
    s3.delete_bucket(Bucket=bucket)


def test_versioned_current_versions_get_delete_markers(s3: Any) -> None:
    bucket = new_bucket(s3, versioned=True)
    kept = s3.put_object(Bucket=bucket, Key="other/k", Body=b"o")["VersionId"]
    configure(s3, bucket, {"ID": "exp", "Status": "Enabled", "Filter": {"Prefix": "exp/"},
                           "Expiration": {"Days": 2}})
    original = s3.put_object(Bucket=bucket, Key="exp/k", Body=b"e")["VersionId"]
    wait_for("exp/k hidden by a delete marker", lambda: keys(s3, bucket) == ["other/k"])
    found = versions(s3, bucket, "exp/k")
    assert len(found) == 2 and found[0][1:] == (True, True)
    assert found[1] == (original, False, False)
    assert s3.get_object(Bucket=bucket, Key="exp/k", VersionId=original)["Body"].read() == b"e"
    assert versions(s3, bucket, "other/k") == [(kept, True, False)]
    s3.put_object(Bucket=bucket, Key="exp/later", Body=b"l")
    wait_for("exp/later expired too", lambda: keys(s3, bucket) == ["other/k"])
    # Passes went over exp/k meanwhile: its marker is not alone, so it stays, and only one.
    assert versions(s3, bucket, "exp/k") == found


def test_noncurrent_versions_expire_keeping_the_newer_ones(s3: Any) -> None:
    bucket = new_bucket(s3, versioned=True)
    other = [s3.put_object(Bucket=bucket, Key="keep/k", Body=b"%d" % n)["VersionId"]
             for n in range(3)]
    configure(s3, bucket, {"ID": "nc", "Status": "Enabled", "Filter": {"Prefix": "nc/"},
                           "NoncurrentVersionExpiration": {"NoncurrentDays": 1,
                                                           "NewerNoncurrentVersions": 1}})
    ids = [s3.put_object(Bucket=bucket, Key="nc/k", Body=b"%d" % n)["VersionId"]
           for n in range(4)]
    wait_for("the two oldest versions of nc/k deleted",
             lambda: [v[0] for v in versions(s3, bucket, "nc/k")] == [ids[3], ids[2]])
    assert s3.get_object(Bucket=bucket, Key="nc/k")["Body"].read() == b"3"
    assert sorted(v[0] for v in versions(s3, bucket, "keep/k")) == sorted(other)


def test_expired_delete_markers_are_removed(s3: Any) -> None:
    bucket = new_bucket(s3, versioned=True)
    s3.put_object(Bucket=bucket, Key="keep/k", Body=b"k")
    s3.delete_object(Bucket=bucket, Key="keep/k")
    configure(s3, bucket,
              {"ID": "nc", "Status": "Enabled", "Filter": {"Prefix": "dm/"},
               "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
              {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "dm/"},
               "Expiration": {"ExpiredObjectDeleteMarker": True}})
    s3.put_object(Bucket=bucket, Key="dm/k", Body=b"d")
    s3.delete_object(Bucket=bucket, Key="dm/k")
    wait_for("dm/k has no versions left", lambda: versions(s3, bucket, "dm/k") == [])
    assert [v[1:] for v in versions(s3, bucket, "keep/k")] == [(True, True), (False, False)]


def test_incomplete_multipart_uploads_are_aborted(s3: Any) -> None:
    bucket = new_bucket(s3)
    kept = s3.create_multipart_upload(Bucket=bucket, Key="keep/u")["UploadId"]
    configure(s3, bucket, {"ID": "mpu", "Status": "Enabled", "Filter": {"Prefix": "mp/"},
                           "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    doomed = s3.create_multipart_upload(Bucket=bucket, Key="mp/u")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp/u", UploadId=doomed, PartNumber=1, Body=b"p" * 100)

    def uploads() -> list[str]:
        return [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)
                .get("Uploads", [])]

    wait_for("mp/u aborted", lambda: uploads() == [kept])
    with pytest.raises(ClientError) as caught:
        s3.list_parts(Bucket=bucket, Key="mp/u", UploadId=doomed)
    assert caught.value.response["Error"]["Code"] == "NoSuchUpload"


def test_locked_versions_are_not_expired(s3: Any) -> None:
    bucket = f"lcj-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    held = s3.put_object(Bucket=bucket, Key="nc/a-held", Body=b"h",
                         ObjectLockLegalHoldStatus="ON")["VersionId"]
    retained = s3.put_object(Bucket=bucket, Key="nc/a-retained", Body=b"r",
                             ObjectLockMode="GOVERNANCE",
                             ObjectLockRetainUntilDate=datetime(2030, 1, 1, tzinfo=UTC))
    for key in ("nc/a-held", "nc/a-retained"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"new")
    configure(s3, bucket, {"ID": "nc", "Status": "Enabled", "Filter": {"Prefix": "nc/"},
                           "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
    free = s3.put_object(Bucket=bucket, Key="nc/b-free", Body=b"f")["VersionId"]
    current = s3.put_object(Bucket=bucket, Key="nc/b-free", Body=b"new")["VersionId"]
    wait_for("the unlocked noncurrent version expired",
             lambda: [v[0] for v in versions(s3, bucket, "nc/b-free")] == [current])
    assert free != current
    assert held in [v[0] for v in versions(s3, bucket, "nc/a-held")]
    assert retained["VersionId"] in [v[0] for v in versions(s3, bucket, "nc/a-retained")]


def storage_class(s3: Any, bucket: str, key: str, **version: str) -> str:
    return str(s3.head_object(Bucket=bucket, Key=key, **version).get("StorageClass", "STANDARD"))


def test_transitions_move_objects_and_archived_ones_need_a_restore(s3: Any) -> None:
    bucket = new_bucket(s3)
    big = b"b" * (128 * 1024)
    s3.put_object(Bucket=bucket, Key="cold/small", Body=b"under 128 KiB")
    s3.put_object(Bucket=bucket, Key="warm/big", Body=big)
    configure(s3, bucket, {"ID": "freeze", "Status": "Enabled", "Filter": {"Prefix": "cold/"},
                           "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]})
    s3.put_object(Bucket=bucket, Key="cold/big", Body=big)
    wait_for("cold/big in GLACIER", lambda: storage_class(s3, bucket, "cold/big") == "GLACIER")
    assert storage_class(s3, bucket, "cold/small") == "STANDARD"  # S3's 128 KiB floor
    assert storage_class(s3, bucket, "warm/big") == "STANDARD"
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"]: o["StorageClass"] for o in listed} == {
        "cold/big": "GLACIER", "cold/small": "STANDARD", "warm/big": "STANDARD"}
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="cold/big")
    assert caught.value.response["Error"]["Code"] == "InvalidObjectState"
    # Restored for two (one-second) days: readable, then archived again.
    assert s3.restore_object(Bucket=bucket, Key="cold/big", RestoreRequest={"Days": 2})[
        "ResponseMetadata"]["HTTPStatusCode"] == 202
    assert s3.get_object(Bucket=bucket, Key="cold/big")["Body"].read() == big
    assert "Restore" in s3.head_object(Bucket=bucket, Key="cold/big")

    def archived_again() -> bool:
        try:
            s3.get_object(Bucket=bucket, Key="cold/big")
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "InvalidObjectState"
        return False

    wait_for("the restored copy expired", archived_again)
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="cold/big")


def test_noncurrent_versions_transition(s3: Any) -> None:
    bucket = new_bucket(s3, versioned=True)
    configure(s3, bucket, {"ID": "deep", "Status": "Enabled",
                           "Filter": {"ObjectSizeGreaterThan": 0},
                           "NoncurrentVersionTransitions": [
                               {"NoncurrentDays": 1, "StorageClass": "DEEP_ARCHIVE"}]})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="k", Body=b"new")["VersionId"]
    wait_for("the old version in DEEP_ARCHIVE",
             lambda: storage_class(s3, bucket, "k", VersionId=old) == "DEEP_ARCHIVE")
    assert storage_class(s3, bucket, "k", VersionId=new) == "STANDARD"
    listed = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert {v["VersionId"]: v["StorageClass"] for v in listed} == {
        old: "DEEP_ARCHIVE", new: "STANDARD"}
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"
