"""Server access logging's pure parts: operation names, S3's record format, log object keys,
the configuration checks, and the log of pending entries."""

from __future__ import annotations

import dataclasses
import re
import shlex
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from controller.db.models import Bucket
from controller.s3 import errors
from controller.s3.access_log import (
    AccessLog,
    Entry,
    lifecycle_entry,
    lifecycle_operation,
    object_size,
    operation,
    record,
    signature_of,
)
from controller.s3.access_log_delivery import log_key
from controller.s3.bucket_logging import _check_target, _checked

WHEN = datetime(2026, 2, 6, 0, 0, 38, tzinfo=UTC)


def _entry(**changes: Any) -> Entry:
    entry = Entry(
        bucket="logged", time=WHEN, remote_ip="192.0.2.3", requester_account="111122223333",
        request_id="3E57427F3EXAMPLE", operation="REST.GET.OBJECT", key="dir/a b.txt",
        request_uri="GET /logged/dir/a%20b.txt?versionId=v1 HTTP/1.1", status=200,
        error_code=None, bytes_sent=113, object_size=113, total_ms=7, turnaround_ms=7,
        referer=None, user_agent='curl/8.0 "quoted"', version_id="v1",
        signature_version="SigV4", auth_type="AuthHeader", host="s3.example", secure=False)
    return dataclasses.replace(entry, **changes)


@pytest.mark.parametrize(("method", "level", "sub", "copy", "name"), [
    ("GET", "bucket", "", False, "REST.GET.BUCKET"),
    ("HEAD", "bucket", "", False, "REST.HEAD.BUCKET"),
    ("GET", "object", "", False, "REST.GET.OBJECT"),
    ("PUT", "object", "", False, "REST.PUT.OBJECT"),
    ("PUT", "object", "", True, "REST.COPY.OBJECT"),
    ("PUT", "object", "uploadId", True, "REST.COPY.PART"),
    ("PUT", "object", "uploadId", False, "REST.PUT.PART"),
    ("POST", "object", "uploads", False, "REST.POST.UPLOADS"),
    ("POST", "object", "uploadId", False, "REST.POST.UPLOAD"),
    ("DELETE", "object", "uploadId", False, "REST.DELETE.UPLOAD"),
    ("POST", "bucket", "delete", False, "REST.POST.MULTI_OBJECT_DELETE"),
    ("GET", "bucket", "logging", False, "REST.GET.LOGGING_STATUS"),
    ("PUT", "bucket", "policy", False, "REST.PUT.BUCKETPOLICY"),
    ("GET", "bucket", "versioning", False, "REST.GET.VERSIONING"),
    ("GET", "bucket", "versions", False, "REST.GET.BUCKETVERSIONS"),
    ("PUT", "object", "tagging", False, "REST.PUT.OBJECT_TAGGING"),
    ("GET", "bucket", "acl", False, "REST.GET.ACL"),
    ("POST", "bucket", "", False, "REST.POST.OBJECT"),
])
def test_operation_names(method: str, level: str, sub: str, copy: bool, name: str) -> None:
    assert operation(method, level, sub, copy) == name


def test_a_record_has_s3s_26_fields_in_order() -> None:
    line = record(_entry(), "owner-canonical", "requester-canonical")
    assert line.startswith("owner-canonical logged [06/Feb/2026:00:00:38 +0000] 192.0.2.3 "
                           "requester-canonical 3E57427F3EXAMPLE REST.GET.OBJECT "
                           'dir/a%20b.txt "GET /logged/dir/a%20b.txt?versionId=v1 HTTP/1.1" '
                           "200 - 113 113 7 7 - ")
    # The way log readers (and ceph/s3-tests) split a record: brackets as quotes, then shlex.
    chunks = shlex.split(line.replace("[", '"').replace("]", '"'))
    assert len(chunks) == 26
    assert chunks[16] == 'curl/8.0 "quoted"'
    assert chunks[17:20] == ["v1", "3E57427F3EXAMPLE", "SigV4"]
    assert chunks[21:23] == ["AuthHeader", "s3.example"]


def test_absent_values_are_dashes() -> None:
    line = record(_entry(requester_account=None, key=None, bytes_sent=0, object_size=None,
                         user_agent=None, version_id=None, signature_version=None,
                         auth_type=None, error_code="AccessDenied", status=403), "o", None)
    chunks = shlex.split(line.replace("[", '"').replace("]", '"'))
    assert chunks[4] == "-" and chunks[7] == "-" and chunks[10] == "AccessDenied"
    assert chunks[11:13] == ["-", "-"] and chunks[16:18] == ["-", "-"]
    assert chunks[19] == "-" and chunks[21] == "-"


@pytest.mark.parametrize(("action", "name"), [
    ({"action": "expired", "delete_marker": None}, "S3.EXPIRE.OBJECT"),
    ({"action": "expired", "delete_marker": "v2"}, "S3.CREATE.DELETEMARKER"),
    ({"action": "noncurrent_expired"}, "S3.EXPIRE.OBJECT"),
    ({"action": "delete_marker_expired"}, "S3.EXPIRE.OBJECT"),
    ({"action": "transitioned", "now": "STANDARD_IA"}, "S3.TRANSITION_SIA.OBJECT"),
    ({"action": "noncurrent_transitioned", "now": "ONEZONE_IA"}, "S3.TRANSITION_ZIA.OBJECT"),
    ({"action": "transitioned", "now": "INTELLIGENT_TIERING"}, "S3.TRANSITION_INT.OBJECT"),
    ({"action": "transitioned", "now": "GLACIER_IR"}, "S3.TRANSITION_GIR.OBJECT"),
    ({"action": "transitioned", "now": "GLACIER"}, "S3.TRANSITION.OBJECT"),
    ({"action": "transitioned", "now": "DEEP_ARCHIVE"}, "S3.TRANSITION_GDA.OBJECT"),
    ({"action": "upload_aborted"}, "S3.DELETE.UPLOAD"),
    ({"action": "something_else"}, None),
])
def test_lifecycle_operation_names(action: dict[str, Any], name: str | None) -> None:
    assert lifecycle_operation(action) == name


def test_a_lifecycle_record_has_no_request_behind_it() -> None:
    entry = lifecycle_entry({"action": "expired", "bucket": "b", "key": "k", "rule": "r",
                             "version": "null", "delete_marker": None}, "REQ")
    assert entry is not None
    chunks = shlex.split(record(entry, "owner", None).replace("[", '"').replace("]", '"'))
    assert len(chunks) == 26
    assert chunks[3:10] == ["-", "AmazonS3", "REQ", "S3.EXPIRE.OBJECT", "k", "-", "-"]
    assert chunks[13:15] == ["-", "-"] and chunks[17] == "-"
    assert lifecycle_entry({"action": "unknown", "bucket": "b"}, "R") is None


def test_signature_and_object_size() -> None:
    assert signature_of({"authorization": "AWS4-HMAC-SHA256 Credential=..."}, {}) == (
        "SigV4", "AuthHeader")
    assert signature_of({"authorization": "AWS AKID:sig"}, {}) == ("SigV2", "AuthHeader")
    assert signature_of({}, {"X-Amz-Algorithm": "AWS4-HMAC-SHA256"}) == ("SigV4", "QueryString")
    assert signature_of({}, {"Signature": "s", "AWSAccessKeyId": "a"}) == (
        "SigV2", "QueryString")
    assert signature_of({}, {}) == (None, None)
    assert object_size("PUT", {"content-length": "99",
                               "x-amz-decoded-content-length": "42"}, {}) == 42
    assert object_size("GET", {}, {"content-range": "bytes 0-9/1234",
                                   "content-length": "10"}) == 1234
    assert object_size("HEAD", {}, {"content-length": "77"}) == 77
    assert object_size("GET", {}, {}) is None


def test_log_keys() -> None:
    now = datetime(2026, 11, 21, 20, 31, 5, tzinfo=UTC)
    simple = log_key({"TargetPrefix": "logs/"}, "b", "111122223333", "us-east-1", [], now)
    assert re.fullmatch(r"logs/2026-11-21-20-31-05-[0-9A-F]{16}", simple)
    delivery = log_key({"TargetPrefix": "", "TargetObjectKeyFormat": {"PartitionedPrefix": {
        "PartitionDateSource": "DeliveryTime"}}}, "b", "111122223333", "us-east-1", [], now)
    assert re.fullmatch(r"111122223333/us-east-1/b/2026/11/21/2026-11-21-20-31-05-[0-9A-F]{16}",
                        delivery)
    event = log_key({"TargetPrefix": "p/", "TargetObjectKeyFormat": {"PartitionedPrefix": {
        "PartitionDateSource": "EventTime"}}}, "b", "111122223333", "us-east-1", [_entry()], now)
    assert re.fullmatch(r"p/111122223333/us-east-1/b/2026/02/06/2026-02-06-00-00-00-[0-9A-F]{16}",
                        event)


def test_configuration_checks() -> None:
    assert _checked({"TargetBucket": "t", "TargetPrefix": ""}) == {
        "TargetBucket": "t", "TargetPrefix": ""}
    assert _checked({"TargetBucket": "t", "TargetPrefix": "x/", "TargetObjectKeyFormat": {
        "PartitionedPrefix": {}}})["TargetObjectKeyFormat"] == {
        "PartitionedPrefix": {"PartitionDateSource": "DeliveryTime"}}
    for bad in ({"TargetPrefix": "x"}, {"TargetBucket": "t"},
                {"TargetBucket": "t", "TargetPrefix": "", "TargetObjectKeyFormat": {
                    "PartitionedPrefix": {"PartitionDateSource": "kaboom"}}},
                {"TargetBucket": "t", "TargetPrefix": "", "TargetObjectKeyFormat": {
                    "PartitionedPrefix": {}, "SimplePrefix": {}}},
                {"TargetBucket": "t", "TargetPrefix": "", "TargetGrants": [
                    {"Grantee": {"Type": "Group", "URI": "u"}, "Permission": "WRITE_ACP"}]}):
        with pytest.raises(errors.MalformedXML):
            _checked(bad)


def test_a_prefix_must_leave_room_for_the_log_object_names() -> None:
    assert _checked({"TargetBucket": "t", "TargetPrefix": "p" * 900})["TargetPrefix"]
    with pytest.raises(errors.InvalidArgument):
        _checked({"TargetBucket": "t", "TargetPrefix": "p" * 901})


def test_the_target_must_have_the_same_owner_and_region() -> None:
    source = Bucket(name="s", account_id="111122223333", region="us-east-1")
    config = {"TargetBucket": "t", "TargetPrefix": ""}
    with pytest.raises(errors.InvalidTargetBucketForLogging):
        _check_target(Session(), source, Bucket(name="t", account_id="999988887777",
                                                region="us-east-1"), config)
    with pytest.raises(errors.CrossLocationLoggingProhibited) as caught:
        _check_target(Session(), source, Bucket(name="t", account_id="111122223333",
                                                region="eu-west-1"), config)
    assert caught.value.http_status == 403
    _check_target(Session(), source, Bucket(name="t", account_id="111122223333",
                                            region="us-east-1"), config)


def test_the_log_keeps_entries_until_taken_and_failed_ones_first() -> None:
    logs = AccessLog()
    assert logs.config("b") is None
    logs.configure("b", {"TargetBucket": "t", "TargetPrefix": ""})
    assert logs.config("b") == {"TargetBucket": "t", "TargetPrefix": ""}
    first, second, third = (_entry(bucket="b", request_id=str(n)) for n in range(3))
    logs.add(first)
    logs.add(second)
    assert logs.pending() == 2
    taken = logs.take()
    assert taken == {"b": [first, second]} and logs.take() == {} and logs.pending() == 0
    logs.add(third)
    logs.give_back("b", taken["b"])
    assert logs.pending() == 3
    assert logs.take() == {"b": [first, second, third]}
    logs.replace({})
    assert logs.config("b") is None
