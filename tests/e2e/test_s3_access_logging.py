"""Server access logging end to end: PutBucketLogging / GetBucketLogging with boto3, the AWS CLI
and boto 2, the records of a bucket's requests delivered as log objects into its target bucket
in S3's record format and key layout, and the configuration errors S3 answers."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.conftest import REGION, Credentials, RestartableServer, Server, running_server
from tests.e2e.refusals import error_code

DEADLINE = 30.0
# S3's record: owner bucket [time] ip requester request-id operation key "uri" status error
# bytes-sent object-size total turnaround "referer" "user-agent" version host-id sigv cipher
# auth host tls access-point acl-required
RECORD = re.compile(
    r'(?P<owner>\S+) (?P<bucket>\S+) \[(?P<time>[^\]]+)\] (?P<ip>\S+) (?P<requester>\S+) '
    r'(?P<request_id>\S+) (?P<operation>\S+) (?P<key>\S+) (?P<uri>"[^"]*"|-) (?P<status>\d{3}) '
    r'(?P<error>\S+) (?P<sent>\S+) (?P<size>\S+) (?P<total>\d+) (?P<turnaround>\d+) '
    r'(?P<referer>"[^"]*"|-) (?P<agent>"[^"]*"|-) (?P<version>\S+) (?P<host_id>\S+) '
    r'(?P<sig>\S+) (?P<cipher>\S+) (?P<auth>\S+) (?P<host>\S+) (?P<tls>\S+) (?P<ap>\S+) '
    r'(?P<acl>\S+)$')


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"IRONBARK_S3_ACCESS_LOG_INTERVAL_SECONDS": "1"}
    with running_server(db_backend, tmp_path_factory, env) as srv:
        yield srv


def _names() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:10]
    return f"logged-{tag}", f"logs-{tag}"


def _records(s3: Any, bucket: str, prefix: str, wanted: Callable[[list[dict[str, str]]], bool]
             ) -> tuple[list[str], list[dict[str, str]]]:
    """The log objects under ``prefix`` and their parsed records, once ``wanted`` holds."""
    deadline = time.monotonic() + DEADLINE
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
                .get("Contents", [])]
        records = []
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            for line in body.splitlines():
                match = RECORD.match(line)
                assert match is not None, f"not an S3 access log record: {line!r}"
                records.append(match.groupdict())
        if wanted(records):
            return keys, records
        if time.monotonic() > deadline:
            pytest.fail(f"after {DEADLINE:.0f} s the records are {records}")
        time.sleep(0.5)


def test_records_of_a_buckets_requests_reach_its_target(s3: Any, account: Credentials,
                                                         server: Server) -> None:
    source, target = _names()
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": target, "TargetPrefix": "access/"}})
    assert s3.get_bucket_logging(Bucket=source)["LoggingEnabled"] == {
        "TargetBucket": target, "TargetPrefix": "access/"}

    s3.put_object(Bucket=source, Key="dir/hello world.txt", Body=b"x" * 1234)
    s3.get_object(Bucket=source, Key="dir/hello world.txt", Range="bytes=0-99")["Body"].read()
    assert error_code(s3.get_object, Bucket=source, Key="missing") == ("NoSuchKey", 404)
    s3.list_objects_v2(Bucket=source)
    s3.delete_object(Bucket=source, Key="dir/hello world.txt")
    for name in ("batch/1", "batch/2"):
        s3.put_object(Bucket=source, Key=name, Body=b"b")
    s3.delete_objects(Bucket=source, Delete={"Objects": [{"Key": "batch/1"},
                                                         {"Key": "batch/2"}]})

    def complete(records: list[dict[str, str]]) -> bool:
        return {"REST.PUT.OBJECT", "REST.GET.OBJECT", "REST.GET.BUCKET", "REST.DELETE.OBJECT",
                "REST.POST.MULTI_OBJECT_DELETE", "BATCH.DELETE.OBJECT"} <= {
                    r["operation"] for r in records}

    keys, records = _records(s3, target, "access/", complete)
    assert all(re.fullmatch(r"access/\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}", k)
               for k in keys)
    owner = s3.list_buckets()["Owner"]["ID"]
    by_op: dict[str, list[dict[str, str]]] = {}
    for rec in records:
        by_op.setdefault(rec["operation"], []).append(rec)
        assert rec["owner"] == owner and rec["bucket"] == source
        assert rec["requester"] == owner
        assert rec["sig"] == "SigV4" and rec["auth"] == "AuthHeader"
        assert rec["ip"] == "127.0.0.1"
        assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", rec["time"])
    put = by_op["REST.PUT.OBJECT"][0]
    assert put["key"] == "dir/hello%20world.txt"
    assert put["status"] == "200" and put["error"] == "-" and put["size"] == "1234"
    assert put["uri"].startswith('"PUT /' + source + "/dir/hello%20world.txt")
    assert put["uri"].endswith(' HTTP/1.1"')
    assert put["agent"].startswith('"Boto3/')
    gets = {r["status"]: r for r in by_op["REST.GET.OBJECT"]}
    assert gets["206"]["sent"] == "100" and gets["206"]["size"] == "1234"
    assert gets["404"]["error"] == "NoSuchKey" and gets["404"]["key"] == "missing"
    assert by_op["REST.DELETE.OBJECT"][0]["status"] == "204"
    # A DeleteObjects: its own record, and one per deleted key under the same request id.
    batch = by_op["REST.POST.MULTI_OBJECT_DELETE"][0]
    assert sorted(r["key"] for r in by_op["BATCH.DELETE.OBJECT"]) == ["batch/1", "batch/2"]
    assert {r["request_id"] for r in by_op["BATCH.DELETE.OBJECT"]} == {batch["request_id"]}
    singles = [r for r in records if r["operation"] != "BATCH.DELETE.OBJECT"]
    assert len({r["request_id"] for r in singles}) == len(singles)  # one record per request

    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)


def test_partitioned_keys_and_anonymous_and_presigned_requests(
        s3: Any, clients: Any, account: Credentials) -> None:
    source, target = _names()
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": target, "TargetPrefix": "p/",
        "TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": "EventTime"}}}})
    got = s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]
    assert got["TargetObjectKeyFormat"] == {
        "PartitionedPrefix": {"PartitionDateSource": "EventTime"}}
    s3.put_object(Bucket=source, Key="k", Body=b"data")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": source, "Key": "k"})
    assert httpx.get(url).content == b"data"
    assert httpx.get(url.split("?")[0]).status_code == 403  # anonymous

    def complete(records: list[dict[str, str]]) -> bool:
        return len([r for r in records if r["operation"] == "REST.GET.OBJECT"]) >= 2

    account_id = account.account_id
    keys, records = _records(s3, target, "p/", complete)
    assert all(re.fullmatch(rf"p/{account_id}/us-east-1/{source}/\d{{4}}/\d\d/\d\d/"
                            r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}", k) for k in keys)
    gets = {r["status"]: r for r in records if r["operation"] == "REST.GET.OBJECT"}
    assert gets["200"]["auth"] == "QueryString"
    assert gets["200"]["sig"] == ("SigV4" if "X-Amz-Algorithm=" in url else "SigV2")
    assert gets["403"]["requester"] == "-" and gets["403"]["error"] == "AccessDenied"
    assert gets["403"]["auth"] == "-"


def test_copy_sources_and_website_requests_are_logged(s3: Any, server: Server) -> None:
    source, target = _names()
    other = f"plain-{uuid.uuid4().hex[:10]}"
    for name in (source, target, other):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": target, "TargetPrefix": "w/"}})
    s3.put_object(Bucket=source, Key="page.html", Body=b"<p>hi</p>", ContentType="text/html")
    # A copy out of the logged bucket is logged there too (the copy's own record goes to the
    # destination's log, which has none here).
    s3.copy_object(Bucket=other, Key="copied", CopySource={"Bucket": source, "Key": "page.html"})
    s3.put_bucket_website(Bucket=source, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}})
    s3.put_bucket_policy(Bucket=source, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{source}/*"}]}))
    page = httpx.get(f"http://127.0.0.1:{server.port}/page.html", trust_env=False,
                     headers={"Host": f"{source}.s3-website.localhost:{server.port}"})
    assert page.content == b"<p>hi</p>"

    def complete(records: list[dict[str, str]]) -> bool:
        return {"REST.COPY.OBJECT_GET", "WEBSITE.GET.OBJECT"} <= {r["operation"] for r in records}

    _, records = _records(s3, target, "w/", complete)
    copied = next(r for r in records if r["operation"] == "REST.COPY.OBJECT_GET")
    assert copied["bucket"] == source and copied["key"] == "page.html"
    assert copied["uri"].startswith(f'"PUT /{other}/copied')
    site = next(r for r in records if r["operation"] == "WEBSITE.GET.OBJECT")
    assert site["key"] == "page.html" and site["status"] == "200" and site["requester"] == "-"
    assert site["sent"] == "9" and site["auth"] == "-"


def test_configuration_errors(s3: Any, make_s3: Callable[[Credentials], Any],
                              server: Server) -> None:
    source, target = _names()
    s3.create_bucket(Bucket=source)
    assert error_code(s3.put_bucket_logging, Bucket=source, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": f"nope-{uuid.uuid4().hex[:8]}", "TargetPrefix": ""}}) == (
        "InvalidTargetBucketForLogging", 400)
    other = make_s3(server.new_account())
    other.create_bucket(Bucket=target)
    assert error_code(s3.put_bucket_logging, Bucket=source, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": target, "TargetPrefix": ""}}) == ("InvalidTargetBucketForLogging", 400)
    enforced = f"enforced-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=enforced)
    s3.put_bucket_ownership_controls(Bucket=enforced, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    grants = [{"Grantee": {"Type": "Group",
                           "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
               "Permission": "READ"}]
    assert error_code(s3.put_bucket_logging, Bucket=source, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": enforced, "TargetPrefix": "", "TargetGrants": grants}}) == (
        "AccessControlListNotSupported", 400)
    bad = [{"Grantee": {"Type": "CanonicalUser", "ID": "f" * 64}, "Permission": "READ"}]
    assert error_code(s3.put_bucket_logging, Bucket=source, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": source, "TargetPrefix": "", "TargetGrants": bad}})[0] == "InvalidArgument"
    # Only the bucket's owner may read or change its logging.
    assert error_code(other.get_bucket_logging, Bucket=source) == ("AccessDenied", 403)
    assert error_code(other.put_bucket_logging, Bucket=source, BucketLoggingStatus={}) == (
        "AccessDenied", 403)
    assert error_code(s3.get_bucket_logging, Bucket=f"nope-{uuid.uuid4().hex[:8]}") == (
        "NoSuchBucket", 404)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)


def test_target_grants_apply_to_the_log_objects(s3: Any, make_s3: Callable[[Credentials], Any],
                                                server: Server) -> None:
    source, target = _names()
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    reader_creds = server.new_account()
    reader = make_s3(reader_creds)
    reader_id = reader.list_buckets()["Owner"]["ID"]
    grants = [{"Grantee": {"Type": "CanonicalUser", "ID": reader_id}, "Permission": "READ"}]
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": target, "TargetPrefix": "g/", "TargetGrants": grants}})
    shown = s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]["TargetGrants"]
    assert shown[0]["Grantee"]["ID"] == reader_id and shown[0]["Permission"] == "READ"
    s3.put_object(Bucket=source, Key="k", Body=b"1")
    keys, _ = _records(s3, target, "g/", lambda records: bool(records))
    # The target bucket's owner owns the log object; the grantee may read it, nothing more.
    object_acl = s3.get_object_acl(Bucket=target, Key=keys[0])
    assert {(g["Grantee"].get("ID"), g["Permission"]) for g in object_acl["Grants"]} == {
        (object_acl["Owner"]["ID"], "FULL_CONTROL"), (reader_id, "READ")}
    assert b"REST.PUT.OBJECT" in reader.get_object(Bucket=target, Key=keys[0])["Body"].read()
    assert error_code(reader.get_object, Bucket=target, Key="anything-else")[1] == 403


def test_aws_cli_and_boto2(aws: Any, boto2_s3: Any) -> None:
    source, target = _names()
    aws("s3api", "create-bucket", "--bucket", source)
    aws("s3api", "create-bucket", "--bucket", target)
    status = json.dumps({"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "cli/"}})
    aws("s3api", "put-bucket-logging", "--bucket", source, "--bucket-logging-status", status)
    shown = aws("s3api", "get-bucket-logging", "--bucket", source)
    assert shown["LoggingEnabled"] == {"TargetBucket": target, "TargetPrefix": "cli/"}
    bucket = boto2_s3.get_bucket(source)
    logging_status = bucket.get_logging_status()
    assert logging_status.target == target and logging_status.prefix == "cli/"
    bucket.disable_logging()
    assert "LoggingEnabled" not in (aws("s3api", "get-bucket-logging", "--bucket", source) or {})


def _admin_s3(server: Server) -> Any:
    return boto3.client(
        "s3", region_name=REGION, endpoint_url=server.endpoint,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        aws_access_key_id=server.admin.access_key_id,
        aws_secret_access_key=server.admin.secret_access_key)


def test_a_clean_stop_delivers_and_a_restart_keeps_logging(
        restartable_server: RestartableServer) -> None:
    """With the default delivery interval (a minute), a SIGTERM delivers what was gathered, and
    the restarted controller logs the bucket again from the configuration it reads at start."""
    handle = restartable_server
    source, target = _names()
    assert handle.server is not None
    s3 = _admin_s3(handle.server)
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": target, "TargetPrefix": "r/"}})
    s3.put_object(Bucket=source, Key="before-stop", Body=b"1")
    handle.stop()
    s3 = _admin_s3(handle.start())
    _, records = _records(s3, target, "r/", lambda records: bool(records))
    assert [r["key"] for r in records if r["operation"] == "REST.PUT.OBJECT"] == ["before-stop"]
    s3.put_object(Bucket=source, Key="after-restart", Body=b"2")
    handle.stop()
    s3 = _admin_s3(handle.start())
    _, records = _records(s3, target, "r/", lambda records: len(records) >= 2)
    assert {r["key"] for r in records if r["operation"] == "REST.PUT.OBJECT"} == {
        "before-stop", "after-restart"}
