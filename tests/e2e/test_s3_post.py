"""PostObject (browser-based uploads) end to end: forms from boto3's ``generate_presigned_post``
(SigV4) and boto 2's ``build_post_form_args`` (SigV2), hand-signed policies for the edge cases,
posted as multipart/form-data with httpx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from lxml import etree

from controller.identity.service import Credentials
from tests.conftest import REGION, Server

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from boto.s3.connection import S3Connection


@pytest.fixture
def s3(clients: Any, account: Credentials) -> Any:
    """A boto3 client whose ``generate_presigned_post`` signs with SigV4 (the default is V2)."""
    client = boto3.client(
        "s3", region_name=REGION, endpoint_url=clients.server.endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}),
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key)
    clients.stack.callback(client.close)
    return client


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"post-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def _post(server: Server, bucket: str, fields: dict[str, str] | list[tuple[str, str]],
          body: Any = b"hello", filename: str = "hello.txt") -> httpx.Response:
    return httpx.post(f"{server.endpoint}{bucket}", data=dict(fields) if isinstance(
        fields, list) else fields, files={"file": (filename, body)}, timeout=120,
        trust_env=False)


def _error(reply: httpx.Response) -> tuple[int, str, str]:
    assert reply.content, (reply.status_code, reply.headers)
    root = etree.fromstring(reply.content)
    return reply.status_code, str(root.findtext("Code")), str(root.findtext("Message"))


def _v4_form(creds: Credentials, conditions: list[Any], fields: dict[str, str],
             expires_in: int = 600) -> dict[str, str]:
    """A SigV4-signed form, signed here (not by the code under test)."""
    now = datetime.now(UTC)
    date = now.strftime("%Y%m%d")
    credential = f"{creds.access_key_id}/{date}/{REGION}/s3/aws4_request"
    auth = {"x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": credential,
            "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ")}
    expiration = (now + timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    document = {"expiration": expiration,
                "conditions": [*conditions, *({k: v} for k, v in auth.items())]}
    policy = base64.b64encode(json.dumps(document).encode()).decode()
    key = f"AWS4{creds.secret_access_key}".encode()
    for part in (date, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    return {**fields, **auth, "policy": policy, "x-amz-signature": signature}


def test_presigned_post_v4_default_204(server: Server, s3: Any, bucket: str) -> None:
    form = s3.generate_presigned_post(bucket, "docs/a.txt")
    assert form["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    reply = _post(server, bucket, form["fields"], b"first upload")
    assert reply.status_code == 204, reply.text
    assert reply.content == b""
    etag = '"' + hashlib.md5(b"first upload").hexdigest() + '"'
    assert reply.headers["etag"] == etag
    assert reply.headers["location"].endswith(f"/{bucket}/docs/a.txt")
    got = s3.get_object(Bucket=bucket, Key="docs/a.txt")
    assert got["Body"].read() == b"first upload"
    assert got["ETag"] == etag
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["docs/a.txt"]


def test_status_201_xml_and_200(server: Server, s3: Any, bucket: str) -> None:
    form = s3.generate_presigned_post(
        bucket, "k201", Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}])
    reply = _post(server, bucket, form["fields"], b"x" * 10)
    assert reply.status_code == 201, reply.text
    assert reply.content, (reply.status_code, reply.headers)
    root = etree.fromstring(reply.content)
    assert root.tag == "PostResponse"
    assert root.findtext("Bucket") == bucket and root.findtext("Key") == "k201"
    assert root.findtext("ETag") == '"' + hashlib.md5(b"x" * 10).hexdigest() + '"'
    assert str(root.findtext("Location")).endswith(f"/{bucket}/k201")
    form = s3.generate_presigned_post(bucket, "k200", Fields={"success_action_status": "200"},
                                      Conditions=[{"success_action_status": "200"}])
    reply = _post(server, bucket, form["fields"])
    assert (reply.status_code, reply.content) == (200, b"")
    form = s3.generate_presigned_post(bucket, "k999", Fields={"success_action_status": "999"},
                                      Conditions=[{"success_action_status": "999"}])
    assert _post(server, bucket, form["fields"]).status_code == 204


def test_redirect_303(server: Server, s3: Any, bucket: str) -> None:
    target = "https://example.com/done?from=form"
    form = s3.generate_presigned_post(
        bucket, "red", Fields={"success_action_redirect": target},
        Conditions=[{"success_action_redirect": target}])
    reply = _post(server, bucket, form["fields"], b"redirected")
    assert reply.status_code == 303, reply.text
    location = urlsplit(reply.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "example.com", "/done")
    query = parse_qs(location.query)
    assert query["from"] == ["form"] and query["bucket"] == [bucket] and query["key"] == ["red"]
    assert query["etag"] == ['"' + hashlib.md5(b"redirected").hexdigest() + '"']


def test_metadata_headers_filename_and_tagging(server: Server, s3: Any, bucket: str) -> None:
    tagging = ("<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag></TagSet>"
               "</Tagging>")
    fields = {"Content-Type": "text/plain", "Cache-Control": "max-age=60",
              "Content-Disposition": "attachment", "x-amz-meta-Color": "Red Value",
              "tagging": tagging, "x-ignore-anything": "free"}
    form = s3.generate_presigned_post(
        bucket, "up/${filename}", Fields=fields,
        Conditions=[["starts-with", "$key", "up/"], ["starts-with", "$Content-Type", "text/"],
                    {"cache-control": "max-age=60"}, {"content-disposition": "attachment"},
                    ["eq", "$x-amz-meta-color", "Red Value"], ["starts-with", "$tagging", ""]])
    reply = _post(server, bucket, form["fields"], b"named", filename="report.csv")
    assert reply.status_code == 204, reply.text
    head = s3.head_object(Bucket=bucket, Key="up/report.csv")
    assert head["ContentType"] == "text/plain"
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == "attachment"
    assert head["Metadata"] == {"color": "Red Value"}
    rows = _object_tags(server, bucket, "up/report.csv")
    assert rows == {"team": "blue"}


def _object_tags(server: Server, bucket: str, key: str) -> Any:
    from sqlalchemy import select

    from controller.db.models import S3Object

    server.new_account()  # opens the harness's database access
    with server._db[1]() as session:
        tags = session.scalar(select(S3Object.tags).where(S3Object.bucket == bucket,
                                                          S3Object.key == key))
    return json.loads(tags) if tags else None


def test_checksum_field(server: Server, s3: Any, bucket: str, account: Credentials) -> None:
    data = b"checksummed"
    good = base64.b64encode(hashlib.sha256(data).digest()).decode()
    form = _v4_form(account, [{"bucket": bucket}, {"key": "c"},
                              ["starts-with", "$x-amz-checksum-sha256", ""]],
                    {"key": "c", "x-amz-checksum-sha256": good})
    assert _post(server, bucket, form, data).status_code == 204
    got = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == good
    form["key"] = "c"
    reply = _post(server, bucket, form, b"other bytes")
    assert _error(reply)[:2] == (400, "BadDigest")


def test_content_length_range(server: Server, s3: Any, bucket: str) -> None:
    form = s3.generate_presigned_post(bucket, "sized",
                                      Conditions=[["content-length-range", 5, 10]])
    assert _post(server, bucket, form["fields"], b"x" * 10).status_code == 204
    assert _error(_post(server, bucket, form["fields"], b"x" * 11))[:2] == (400, "EntityTooLarge")
    assert _error(_post(server, bucket, form["fields"], b"x" * 4))[:2] == (400, "EntityTooSmall")
    assert s3.get_object(Bucket=bucket, Key="sized")["Body"].read() == b"x" * 10


def test_expired_policy(server: Server, s3: Any, bucket: str) -> None:
    form = s3.generate_presigned_post(bucket, "late", ExpiresIn=-10)
    status, code, message = _error(_post(server, bucket, form["fields"]))
    assert (status, code) == (403, "AccessDenied")
    assert message == "Invalid according to Policy: Policy expired."


def test_condition_failed_and_extra_field(server: Server, s3: Any, bucket: str) -> None:
    form = s3.generate_presigned_post(bucket, "fixed")
    fields = dict(form["fields"], key="other")
    status, code, message = _error(_post(server, bucket, fields))
    assert (status, code) == (403, "AccessDenied")
    assert message == ('Invalid according to Policy: Policy Condition failed: '
                       '["eq", "$key", "fixed"]')
    fields = dict(form["fields"], **{"x-amz-meta-sneaky": "1"})
    status, code, message = _error(_post(server, bucket, fields))
    assert (status, code) == (403, "AccessDenied")
    assert message == "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky"
    other = s3.generate_presigned_post(bucket, "fixed")["fields"]
    assert _error(_post(server, f"{bucket}-nope", other))[:2] == (403, "AccessDenied")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_bad_signature_and_unknown_key(server: Server, s3: Any, bucket: str,
                                       account: Credentials) -> None:
    fields = dict(s3.generate_presigned_post(bucket, "k")["fields"])
    fields["x-amz-signature"] = "0" * 64
    assert _error(_post(server, bucket, fields))[:2] == (403, "SignatureDoesNotMatch")
    stranger = Credentials(account.account_id, "x", "x", "AKIAUNKNOWNUNKNOWN00", "secret")
    form = _v4_form(stranger, [{"bucket": bucket}, {"key": "k"}], {"key": "k"})
    assert _error(_post(server, bucket, form))[:2] == (403, "InvalidAccessKeyId")


def test_malformed_requests(server: Server, s3: Any, bucket: str, account: Credentials) -> None:
    fields = dict(s3.generate_presigned_post(bucket, "k")["fields"])
    del fields["key"]
    status, code, message = _error(_post(server, bucket, fields))
    assert (status, code) == (400, "InvalidArgument")
    assert message.startswith("Bucket POST must contain a field named 'key'.")
    fields = dict(s3.generate_presigned_post(bucket, "k")["fields"], policy="not base64!")
    assert _error(_post(server, bucket, fields))[:2] == (400, "InvalidPolicyDocument")
    no_file = httpx.post(f"{server.endpoint}{bucket}", files={"key": (None, "k")},
                         trust_env=False)
    assert _error(no_file)[:2] == (400, "IncorrectNumberOfFilesInPostRequest")
    not_form = httpx.post(f"{server.endpoint}{bucket}", content=b"key=k",
                          headers={"content-type": "text/plain"},
                          trust_env=False)
    assert _error(not_form)[:2] == (412, "PreconditionFailed")
    missing = _v4_form(account, [{"bucket": bucket}, {"key": "k"}], {"key": "k"})
    del missing["x-amz-signature"]
    assert _error(_post(server, bucket, missing))[:2] == (400, "InvalidArgument")
    no_expiry = base64.b64encode(json.dumps({"conditions": []}).encode()).decode()
    bad = dict(s3.generate_presigned_post(bucket, "k")["fields"], policy=no_expiry)
    assert _error(_post(server, bucket, bad))[:2] == (400, "InvalidPolicyDocument")


def test_anonymous_post_refused(server: Server, bucket: str) -> None:
    assert _error(_post(server, bucket, {"key": "anon"}))[:2] == (403, "AccessDenied")


def test_case_insensitive_field_names(server: Server, bucket: str, account: Credentials,
                                      s3: Any) -> None:
    form = _v4_form(account, [{"bUcKeT": bucket}, ["starts-with", "$kEy", "ca"],
                              {"CONTENT-TYPE": "text/x"}],
                    {"KEY": "case", "content-type": "text/x"})
    form = {name.upper() if name == "policy" else name: value for name, value in form.items()}
    assert _post(server, bucket, form).status_code == 204
    assert s3.head_object(Bucket=bucket, Key="case")["ContentType"] == "text/x"


class _Py3Base64:
    """boto 2.49 base64-encodes the policy *str* (a Python 2 leftover that raises on Python 3);
    this stands in for its ``base64`` module and encodes the text, returning text."""

    @staticmethod
    def b64encode(value: str | bytes) -> str:
        raw = value.encode() if isinstance(value, str) else value
        return base64.b64encode(raw).decode()


def test_boto2_post_form_v2(server: Server, boto2_s3: S3Connection, s3: Any,
                            bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto.s3.connection

    monkeypatch.setattr(boto.s3.connection, "base64", _Py3Base64)
    args = boto2_s3.build_post_form_args(bucket, "v2/${filename}", expires_in=600,
                                         acl="private", max_content_length=1024)
    fields = [(f["name"], f["value"]) for f in args["fields"]]
    reply = _post(server, bucket, fields, b"boto2 bytes", filename="b.bin")
    assert reply.status_code == 204, reply.text
    assert s3.get_object(Bucket=bucket, Key="v2/b.bin")["Body"].read() == b"boto2 bytes"
    bad = [(n, v if n != "signature" else base64.b64encode(b"x" * 20).decode())
           for n, v in fields]
    assert _error(_post(server, bucket, bad))[:2] == (403, "SignatureDoesNotMatch")
    big = _post(server, bucket, fields, b"x" * 1025, filename="big.bin")
    assert _error(big)[:2] == (400, "EntityTooLarge")


def _rss_peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_big_file_streams(server: Server, s3: Any, bucket: str, tmp_path: Path) -> None:
    size = 64 * 1024 * 1024
    path = tmp_path / "big.bin"
    digest = hashlib.md5()
    with path.open("wb") as out:
        for _ in range(size // (1024 * 1024)):
            block = os.urandom(1024 * 1024)
            digest.update(block)
            out.write(block)
    form = s3.generate_presigned_post(bucket, "big")
    before = _rss_peak(server.process.pid)
    with path.open("rb") as body:
        reply = _post(server, bucket, form["fields"], body, filename="big.bin")
    assert reply.status_code == 204, reply.text
    grown = _rss_peak(server.process.pid) - before
    assert grown < 32 * 1024 * 1024, f"server peak RSS grew by {grown} bytes"
    head = s3.head_object(Bucket=bucket, Key="big")
    assert head["ContentLength"] == size
    assert head["ETag"] == f'"{digest.hexdigest()}"'


def test_policy_sees_the_expanded_key_and_must_name_the_bucket(
        server: Server, s3: Any, bucket: str, account: Credentials) -> None:
    form = _v4_form(account, [{"bucket": bucket}, ["starts-with", "$key", "foo"]],
                    {"key": "${filename}"})
    reply = _post(server, bucket, form, b"bar", filename="foo.txt")
    assert reply.status_code == 204, reply.text
    assert s3.get_object(Bucket=bucket, Key="foo.txt")["Body"].read() == b"bar"
    no_bucket = _v4_form(account, [["starts-with", "$key", ""]], {"key": "k"})
    status, code, message = _error(_post(server, bucket, no_bucket))
    assert (status, code) == (403, "AccessDenied")
    assert message == "Invalid according to Policy: Extra input fields: bucket"
