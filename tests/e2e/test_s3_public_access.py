"""Block Public Access and policy status, end to end with boto3 (owner, another account,
anonymous) and the AWS CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import AwsCli
from tests.e2e.s3_access_fixtures import anon, bucket, code, denied, other, other_account

__all__ = ["anon", "bucket", "other", "other_account"]

ALL_OFF = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
           "RestrictPublicBuckets": False}


def public_policy(bucket: str, **extra: Any) -> str:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{bucket}/*", **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def is_public(s3: Any, bucket: str) -> bool:
    return bool(s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"])


def test_configuration_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.get_public_access_block(Bucket=bucket)
    assert code(err) == "NoSuchPublicAccessBlockConfiguration"
    wanted = {**ALL_OFF, "BlockPublicAcls": True, "RestrictPublicBuckets": True}
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=wanted)
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == wanted
    s3.delete_public_access_block(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.get_public_access_block(Bucket=bucket)
    assert code(err) == "NoSuchPublicAccessBlockConfiguration"


def test_policy_status(s3: Any, bucket: str) -> None:
    assert is_public(s3, bucket) is False
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert is_public(s3, bucket) is True
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(
        bucket, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    assert is_public(s3, bucket) is False  # pinned to a network: not public
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))
    assert is_public(s3, bucket) is True


def test_block_public_acls_and_policies(s3: Any, bucket: str) -> None:
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        **ALL_OFF, "BlockPublicAcls": True, "BlockPublicPolicy": True})
    for call, kwargs in ((s3.put_bucket_acl, {"ACL": "public-read"}),
                         (s3.put_object, {"Key": "k", "Body": b"x", "ACL": "public-read"}),
                         (s3.put_bucket_policy, {"Policy": public_policy(bucket)})):
        with pytest.raises(ClientError) as err:
            call(Bucket=bucket, **kwargs)
        assert code(err) == "AccessDenied"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="private")
    with pytest.raises(ClientError) as err:
        s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read-write")
    assert code(err) == "AccessDenied"


def test_ignore_public_acls(s3: Any, anon: Any, other: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    assert anon.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        **ALL_OFF, "IgnorePublicAcls": True})
    denied(anon.get_object, Bucket=bucket, Key="k")
    denied(other.get_object, Bucket=bucket, Key="k")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_restrict_public_buckets(s3: Any, anon: Any, bucket: str, aws: AwsCli) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))
    assert anon.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    aws("s3api", "put-public-access-block", "--bucket", bucket,
        "--public-access-block-configuration", "RestrictPublicBuckets=true")
    denied(anon.get_object, Bucket=bucket, Key="k")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    got = aws("s3api", "get-public-access-block", "--bucket", bucket)
    assert got["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
