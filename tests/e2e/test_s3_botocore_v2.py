"""boto3 with botocore's S3 Signature V2 signer (``signature_version="s3"``, as conformance
suites' "v2 client" uses): every level of the API, including bucket-root requests, which
botocore signs as ``/bucket/`` even when it sends ``/bucket``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import REGION, Server


@pytest.fixture
def v2(server: Server, account: Credentials) -> Iterator[Any]:
    import boto3

    client = boto3.client(
        "s3", region_name=REGION, endpoint_url=server.endpoint,
        config=Config(signature_version="s3", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}),
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key)
    yield client
    client.close()


def test_botocore_v2_signer_end_to_end(v2: Any) -> None:
    bucket = f"v2-{uuid.uuid4().hex[:16]}"
    v2.create_bucket(Bucket=bucket)
    v2.head_bucket(Bucket=bucket)
    v2.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert v2.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v2.put_object(Bucket=bucket, Key="dir/a b+c", Body=b"hello", ContentType="text/plain")
    assert v2.get_object(Bucket=bucket, Key="dir/a b+c")["Body"].read() == b"hello"
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket)["Contents"]] == ["dir/a b+c"]
    listed = v2.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert listed["KeyCount"] == 1
    versions = v2.list_object_versions(Bucket=bucket)["Versions"]
    v2.delete_object(Bucket=bucket, Key="dir/a b+c", VersionId=versions[0]["VersionId"])
    v2.delete_bucket(Bucket=bucket)


def test_botocore_v2_wrong_secret_is_refused(server: Server, account: Credentials) -> None:
    import boto3

    client = boto3.client(
        "s3", region_name=REGION, endpoint_url=server.endpoint,
        config=Config(signature_version="s3", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}),
        aws_access_key_id=account.access_key_id, aws_secret_access_key="x" * 40)
    with pytest.raises(ClientError) as caught:
        client.list_buckets()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as caught:
        client.create_bucket(Bucket=f"v2-{uuid.uuid4().hex[:16]}")
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    client.close()
