"""Server-side encryption with customer-provided keys (SSE-C) end to end, with boto3, the AWS
CLI and boto 2: blocked by default as in S3 since April 2026 and unblocked by the bucket's
default encryption (``BlockedEncryptionTypes``); objects written with a key are stored
encrypted and read back (whole, by range, HEAD) only with that key; copies and multipart
uploads take the source's and the destination's keys; S3's errors for missing, wrong and
malformed keys."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AwsCliError, Server
from tests.e2e.refusals import error_code
from tests.e2e.test_s3_encryption import _stored

MIB = 1024 * 1024
AES = "AES256"
KEY = os.urandom(32)
OTHER = os.urandom(32)
UNBLOCKED = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": AES},
                        "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]}


def ssec(key: bytes = KEY) -> dict[str, Any]:
    return {"SSECustomerAlgorithm": AES, "SSECustomerKey": key}


def source_ssec(key: bytes = KEY) -> dict[str, Any]:
    return {"CopySourceSSECustomerAlgorithm": AES, "CopySourceSSECustomerKey": key}


def _md5_b64(key: bytes) -> str:
    return base64.b64encode(hashlib.md5(key).digest()).decode()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"ssec-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=UNBLOCKED)
    return name


def test_blocked_by_default_and_unblocked_by_the_buckets_configuration(s3: Any) -> None:
    name = f"ssec-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    put = s3.put_object
    assert error_code(put, Bucket=name, Key="k", Body=b"x", **ssec()) == ("AccessDenied", 403)
    assert error_code(s3.create_multipart_upload, Bucket=name, Key="k", **ssec()) == (
        "AccessDenied", 403)
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=UNBLOCKED)
    got = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
    assert got["Rules"][0]["BlockedEncryptionTypes"] == {"EncryptionType": ["NONE"]}
    put(Bucket=name, Key="k", Body=b"x", **ssec())
    blocked = {"Rules": [{**UNBLOCKED["Rules"][0],
                          "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]}}]}
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=blocked)
    assert error_code(put, Bucket=name, Key="k2", Body=b"x", **ssec()) == ("AccessDenied", 403)
    # Objects already written stay readable with their key.
    assert s3.get_object(Bucket=name, Key="k", **ssec())["Body"].read() == b"x"
    bad = {"Rules": [{**UNBLOCKED["Rules"][0],
                      "BlockedEncryptionTypes": {"EncryptionType": ["ROT13"]}}]}
    assert error_code(s3.put_bucket_encryption, Bucket=name,
                      ServerSideEncryptionConfiguration=bad) == ("MalformedXML", 400)


@pytest.mark.parametrize("size", [1000, 3 * MIB + 7])
def test_round_trip_only_with_the_key(s3: Any, bucket: str, server: Server, size: int) -> None:
    body = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key="obj", Body=body, **ssec())
    assert put["SSECustomerAlgorithm"] == AES and put["SSECustomerKeyMD5"] == _md5_b64(KEY)
    assert "ServerSideEncryption" not in put
    assert put["ETag"].strip('"') != hashlib.md5(body).hexdigest()  # S3: not the MD5
    stored = _stored(server, bucket, "obj")
    assert len(stored) == size and stored != body  # encrypted at rest
    got = s3.get_object(Bucket=bucket, Key="obj", **ssec())
    assert got["Body"].read() == body and got["ETag"] == put["ETag"]
    assert got["SSECustomerKeyMD5"] == _md5_b64(KEY) and "ServerSideEncryption" not in got
    part = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=17-200", **ssec())
    assert part["Body"].read() == body[17:201]
    assert s3.head_object(Bucket=bucket, Key="obj", **ssec())["ContentLength"] == size
    assert error_code(s3.get_object, Bucket=bucket, Key="obj") == ("InvalidRequest", 400)
    assert error_code(s3.head_object, Bucket=bucket, Key="obj") == ("400", 400)  # HEAD: no body
    assert error_code(s3.get_object, Bucket=bucket, Key="obj", **ssec(OTHER)) == (
        "AccessDenied", 403)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["ETag"], o["Size"]) for o in listed] == [("obj", put["ETag"], size)]


def test_malformed_keys_are_s3s_errors(s3: Any, bucket: str) -> None:
    put = s3.put_object
    md5 = _md5_b64(KEY)

    def header_put(headers: dict[str, str]) -> tuple[str | None, int | None]:
        def add(params: Any, **_: Any) -> None:
            params["headers"].update(headers)
        s3.meta.events.register_first("before-call.s3.PutObject", add)
        try:
            return error_code(put, Bucket=bucket, Key="bad", Body=b"x")
        finally:
            s3.meta.events.unregister("before-call.s3.PutObject", add)

    key64 = base64.b64encode(KEY).decode()
    alg, key_h, md5_h = ("x-amz-server-side-encryption-customer-algorithm",
                         "x-amz-server-side-encryption-customer-key",
                         "x-amz-server-side-encryption-customer-key-MD5")
    assert header_put({alg: AES, key_h: key64}) == ("InvalidArgument", 400)  # no MD5
    assert header_put({key_h: key64, md5_h: md5}) == ("InvalidArgument", 400)  # no algorithm
    assert header_put({alg: AES, md5_h: md5}) == ("InvalidArgument", 400)  # no key
    assert header_put({alg: AES, key_h: key64, md5_h: "AAAAAAAAAAAAAAAAAAAAAA=="}) == (
        "InvalidArgument", 400)
    short = base64.b64encode(b"sixteen byte key").decode()
    assert header_put({alg: AES, key_h: short, md5_h: _md5_b64(b"sixteen byte key")}) == (
        "InvalidArgument", 400)
    assert header_put({alg: "AES128", key_h: key64, md5_h: md5}) == (
        "InvalidEncryptionAlgorithmError", 400)
    assert error_code(put, Bucket=bucket, Key="both", Body=b"x", ServerSideEncryption=AES,
                      **ssec()) == ("InvalidArgument", 400)
    put(Bucket=bucket, Key="plain", Body=b"plain")
    assert error_code(s3.get_object, Bucket=bucket, Key="plain", **ssec()) == (
        "InvalidRequest", 400)
    assert "bad" not in {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}


def test_copies_take_the_sources_and_the_destinations_keys(s3: Any, bucket: str) -> None:
    body = os.urandom(70 * 1024)  # above the inline limit: a blob
    s3.put_object(Bucket=bucket, Key="src", Body=body, **ssec())
    copy = s3.copy_object
    source = {"Bucket": bucket, "Key": "src"}
    assert error_code(copy, Bucket=bucket, Key="dst", CopySource=source) == ("InvalidRequest", 400)
    assert error_code(copy, Bucket=bucket, Key="dst", CopySource=source, **source_ssec(OTHER)) == (
        "AccessDenied", 403)
    made = copy(Bucket=bucket, Key="plain", CopySource=source, **source_ssec())
    assert "SSECustomerAlgorithm" not in made
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == body
    made = copy(Bucket=bucket, Key="rekeyed", CopySource=source, **source_ssec(), **ssec(OTHER))
    assert made["SSECustomerKeyMD5"] == _md5_b64(OTHER)
    assert s3.get_object(Bucket=bucket, Key="rekeyed", **ssec(OTHER))["Body"].read() == body
    # In place: a new key for the same object.
    copy(Bucket=bucket, Key="src", CopySource=source, **source_ssec(), **ssec(OTHER))
    assert s3.get_object(Bucket=bucket, Key="src", **ssec(OTHER))["Body"].read() == body
    assert error_code(s3.get_object, Bucket=bucket, Key="src", **ssec()) == ("AccessDenied", 403)


def test_multipart_uploads_need_the_key_for_every_part(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", **ssec())
    assert upload["SSECustomerAlgorithm"] == AES and upload["SSECustomerKeyMD5"] == _md5_b64(KEY)
    uid = upload["UploadId"]
    first = os.urandom(5 * MIB)
    part = s3.upload_part
    assert error_code(part, Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=first) == (
        "InvalidRequest", 400)
    assert error_code(part, Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=first,
                      **ssec(OTHER)) == ("InvalidRequest", 400)
    one = part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=first, **ssec())
    assert one["SSECustomerKeyMD5"] == _md5_b64(KEY)
    assert one["ETag"].strip('"') != hashlib.md5(first).hexdigest()
    second = os.urandom(1000)
    s3.put_object(Bucket=bucket, Key="piece", Body=second, **ssec(OTHER))
    two = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2,
                              CopySource={"Bucket": bucket, "Key": "piece"},
                              **source_ssec(OTHER), **ssec())
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": one["ETag"]},
            {"PartNumber": 2, "ETag": two["CopyPartResult"]["ETag"]}]})
    assert done["ETag"].endswith('-2"') and "ServerSideEncryption" not in done
    whole = first + second
    assert s3.get_object(Bucket=bucket, Key="mp", **ssec())["Body"].read() == whole
    edge = f"bytes={len(first) - 10}-{len(first) + 9}"
    got = s3.get_object(Bucket=bucket, Key="mp", Range=edge, **ssec())["Body"].read()
    assert got == whole[len(first) - 10:len(first) + 10]
    assert error_code(s3.get_object, Bucket=bucket, Key="mp") == ("InvalidRequest", 400)


def test_the_aws_cli_and_boto2(aws: Any, boto2_s3: Any, s3: Any, bucket: str,
                               tmp_path: Path) -> None:
    key_file = tmp_path / "key.bin"
    key_file.write_bytes(KEY)
    source = tmp_path / "file.bin"
    body = os.urandom(9 * MIB)  # the CLI uploads this in parts, each with the key
    source.write_bytes(body)
    sse = ["--sse-c", AES, "--sse-c-key", f"fileb://{key_file}"]
    aws("s3", "cp", str(source), f"s3://{bucket}/cli", *sse, "--only-show-errors")
    head = aws("s3api", "head-object", "--bucket", bucket, "--key", "cli",
               "--sse-customer-algorithm", AES, "--sse-customer-key", f"fileb://{key_file}")
    assert head["SSECustomerAlgorithm"] == AES and head["ContentLength"] == len(body)
    aws("s3", "cp", f"s3://{bucket}/cli", str(tmp_path / "back"), *sse, "--only-show-errors")
    assert (tmp_path / "back").read_bytes() == body
    with pytest.raises(AwsCliError):
        aws("s3", "cp", f"s3://{bucket}/cli", str(tmp_path / "nokey"), "--only-show-errors")
    # boto 2 has no SSE-C parameters: the headers, signed with Signature V2.
    headers = {"x-amz-server-side-encryption-customer-algorithm": AES,
               "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
               "x-amz-server-side-encryption-customer-key-MD5": _md5_b64(KEY)}
    legacy = boto2_s3.get_bucket(bucket)
    legacy.new_key("boto2").set_contents_from_string(b"legacy bytes", headers=headers)
    assert legacy.get_key("boto2", headers=headers).get_contents_as_string(
        headers=headers) == b"legacy bytes"
    assert s3.get_object(Bucket=bucket, Key="boto2", **ssec())["Body"].read() == b"legacy bytes"


def test_browser_post_forms_carry_the_key_as_fields(s3: Any, bucket: str, server: Server) -> None:
    fields = {"x-amz-server-side-encryption-customer-algorithm": AES,
              "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
              "x-amz-server-side-encryption-customer-key-MD5": _md5_b64(KEY)}
    form = s3.generate_presigned_post(bucket, "posted", Fields=fields,
                                      Conditions=[{k: v} for k, v in fields.items()])
    reply = httpx.post(f"{server.endpoint}{bucket}", data=form["fields"],
                       files={"file": ("f.txt", b"posted secret")}, trust_env=False)
    assert reply.status_code == 204, reply.text
    assert reply.headers["etag"].strip('"') != hashlib.md5(b"posted secret").hexdigest()
    assert s3.get_object(Bucket=bucket, Key="posted", **ssec())["Body"].read() == b"posted secret"
    assert error_code(s3.get_object, Bucket=bucket, Key="posted") == ("InvalidRequest", 400)


def test_object_attributes_need_the_key_too(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="attrs", Body=b"attributes", **ssec())
    wanted = ["ObjectSize", "ETag"]

    def given(key: bytes) -> dict[str, str]:  # botocore encodes keys for GET and HEAD only
        return {"SSECustomerAlgorithm": AES, "SSECustomerKey": base64.b64encode(key).decode(),
                "SSECustomerKeyMD5": _md5_b64(key)}

    assert error_code(s3.get_object_attributes, Bucket=bucket, Key="attrs",
                      ObjectAttributes=wanted) == ("InvalidRequest", 400)
    assert error_code(s3.get_object_attributes, Bucket=bucket, Key="attrs", ObjectAttributes=wanted,
                      **given(OTHER)) == ("AccessDenied", 403)
    got = s3.get_object_attributes(Bucket=bucket, Key="attrs", ObjectAttributes=wanted,
                                   **given(KEY))
    assert got["ObjectSize"] == len(b"attributes")


def test_bucket_policies_see_the_algorithm_before_the_key_is_checked(s3: Any, bucket: str
                                                                     ) -> None:
    statements = [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "true"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"StringNotEquals": {
             "s3:x-amz-server-side-encryption-customer-algorithm": AES}}}]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    s3.put_object(Bucket=bucket, Key="ok", Body=b"x" * 100, **ssec())  # inline
    s3.put_object(Bucket=bucket, Key="ok-large", Body=b"x" * (70 * 1024), **ssec())  # a blob
    assert error_code(s3.put_object, Bucket=bucket, Key="plain", Body=b"x") == ("AccessDenied", 403)
    # An algorithm the policy denies is AccessDenied, before the headers are checked.
    assert error_code(s3.put_object, Bucket=bucket, Key="aes192", Body=b"x",
                      SSECustomerAlgorithm="AES192", SSECustomerKey=KEY) == ("AccessDenied", 403)
    assert error_code(s3.copy_object, Bucket=bucket, Key="aes192", CopySource={
        "Bucket": bucket, "Key": "ok"}, **source_ssec(), SSECustomerAlgorithm="AES192",
        SSECustomerKey=KEY) == ("AccessDenied", 403)
    assert error_code(s3.create_multipart_upload, Bucket=bucket, Key="aes192",
                      SSECustomerAlgorithm="AES192", SSECustomerKey=KEY) == ("AccessDenied", 403)


def test_a_missing_part_is_invalid_part_before_the_key_is_asked_for(s3: Any,
                                                                    bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="one", Body=b"x" * 1000, **ssec())
    assert error_code(s3.get_object, Bucket=bucket, Key="one", PartNumber=5) == ("InvalidPart", 400)
    got = s3.get_object(Bucket=bucket, Key="one", PartNumber=1, **ssec())
    assert got["Body"].read() == b"x" * 1000
