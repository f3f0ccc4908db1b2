"""Bucket policies and object ownership end to end: validation errors, Allow/Deny for other
accounts and anonymous callers, conditions (aws:SourceIp, s3:prefix, aws:Referer), the owner's
policy lifeline; boto3, the AWS CLI and boto 2."""

from __future__ import annotations

import json
import uuid
import warnings
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import AwsCli, AwsCliError, Clients, Server
from tests.e2e.s3_access_fixtures import (
    anon,
    bucket,
    canonical,
    code,
    denied,
    other,
    other_account,
    status,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from boto.exception import S3ResponseError

__all__ = ["anon", "bucket", "other", "other_account"]


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(bucket: str, principal: Any = "*", action: Any = "s3:GetObject",
          resource: str = "/*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action,
            "Resource": f"arn:aws:s3:::{bucket}{resource}", **extra}


# --- Put / Get / Delete -----------------------------------------------------------------------

def test_policy_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.get_bucket_policy(Bucket=bucket)
    assert (code(err), status(err)) == ("NoSuchBucketPolicy", 404)
    text = policy(allow(bucket))
    s3.put_bucket_policy(Bucket=bucket, Policy=text)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == text
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_policy(Bucket=bucket)
    assert code(err) == "NoSuchBucketPolicy"
    s3.delete_bucket_policy(Bucket=bucket)  # deleting none is fine, as on AWS


@pytest.mark.parametrize(("make", "message"), [
    (lambda b: "{not json", "This policy contains invalid Json"),
    (lambda b: json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
    (lambda b: policy({**allow(b), "Effect": "Perhaps"}), "Invalid effect: Perhaps"),
    (lambda b: policy({k: v for k, v in allow(b).items() if k != "Principal"}),
     "Missing required field Principal"),
    (lambda b: policy({k: v for k, v in allow(b).items() if k != "Action"}),
     "Missing required field Action"),
    (lambda b: policy({k: v for k, v in allow(b).items() if k != "Resource"}),
     "Missing required field Resource"),
    (lambda b: policy(allow(b, action="s3:Teleport")), "Policy has invalid action"),
    (lambda b: policy({**allow(b), "Resource": "arn:aws:s3:::someone-else/*"}),
     "Policy has invalid resource"),
    (lambda b: policy(allow(b, principal={"AWS": "nobody"})), "Invalid principal in policy"),
    (lambda b: policy(allow(b, Condition={"StringLikeish": {"s3:prefix": "a"}})),
     "Invalid Condition type : StringLikeish"),
])
def test_malformed_policies(s3: Any, bucket: str, make: Any, message: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_bucket_policy(Bucket=bucket, Policy=make(bucket))
    assert (code(err), status(err)) == ("MalformedPolicy", 400)
    assert err.value.response["Error"]["Message"] == message


def test_other_accounts_may_not_touch_the_policy(s3: Any, other: Any, bucket: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(bucket)))
    denied(other.get_bucket_policy, Bucket=bucket)
    denied(other.put_bucket_policy, Bucket=bucket, Policy=policy(allow(bucket)))
    denied(other.delete_bucket_policy, Bucket=bucket)


def test_policy_calls_stay_with_the_owning_account(s3: Any, other: Any, bucket: str,
                                                   other_account: Credentials) -> None:
    """Allowed by the policy, another account still gets 405, as on AWS."""
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(
        bucket, {"AWS": other_account.account_id}, "s3:GetBucketPolicy", "")))
    with pytest.raises(ClientError) as err:
        other.get_bucket_policy(Bucket=bucket)
    assert (code(err), status(err)) == ("MethodNotAllowed", 405)
    denied(other.delete_bucket_policy, Bucket=bucket)


# --- Allow ------------------------------------------------------------------------------------

def test_public_prefix_for_anonymous_readers(s3: Any, anon: Any, bucket: str,
                                             server: Server) -> None:
    s3.put_object(Bucket=bucket, Key="public/a.txt", Body=b"A")
    s3.put_object(Bucket=bucket, Key="private/b.txt", Body=b"B")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(bucket, resource="/public/*")))
    assert anon.get_object(Bucket=bucket, Key="public/a.txt")["Body"].read() == b"A"
    assert httpx.get(f"{server.endpoint}{bucket}/public/a.txt", trust_env=False).content == b"A"
    denied(anon.get_object, Bucket=bucket, Key="private/b.txt")
    denied(anon.list_objects_v2, Bucket=bucket)


def test_account_principal_gets_config_operations(s3: Any, other: Any, bucket: str,
                                                  other_account: Credentials) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(
        bucket, {"AWS": f"arn:aws:iam::{other_account.account_id}:root"},
        ["s3:GetBucketVersioning", "s3:ListBucket", "s3:PutObject"], ""), allow(
        bucket, {"AWS": other_account.account_id}, "s3:PutObject")))
    assert "Status" not in other.get_bucket_versioning(Bucket=bucket)
    denied(other.put_bucket_versioning, Bucket=bucket,
           VersioningConfiguration={"Status": "Enabled"})
    other.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert [o["Key"] for o in other.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    denied(other.get_bucket_location, Bucket=bucket)


def test_canonical_user_principal(s3: Any, other: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(
        bucket, {"CanonicalUser": canonical(other)})))
    assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_prefix_condition_on_listing(s3: Any, other: Any, bucket: str,
                                     other_account: Credentials) -> None:
    for key in ("home/alice/1", "home/bob/2", "root.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(
        bucket, {"AWS": other_account.account_id}, "s3:ListBucket", "",
        Condition={"StringLike": {"s3:prefix": "home/alice/*"}})))
    listed = other.list_objects_v2(Bucket=bucket, Prefix="home/alice/")
    assert [o["Key"] for o in listed["Contents"]] == ["home/alice/1"]
    denied(other.list_objects_v2, Bucket=bucket, Prefix="home/bob/")
    denied(other.list_objects_v2, Bucket=bucket)


# --- Deny and conditions ----------------------------------------------------------------------

def test_source_ip_deny_binds_the_owner_but_not_its_policy_calls(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy({
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}))
    denied(s3.get_object, Bucket=bucket, Key="k")
    denied(s3.put_object, Bucket=bucket, Key="k2", Body=b"y")
    denied(s3.list_objects_v2, Bucket=bucket)
    assert "127.0.0.0/8" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_not_ip_address_allow(s3: Any, anon: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(
        bucket, Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})))
    assert anon.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(
        bucket, Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1/128"]}})))
    denied(anon.get_object, Bucket=bucket, Key="k")


def test_deny_wins_over_acl_and_allow(s3: Any, anon: Any, bucket: str, server: Server) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(bucket), {
        "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringNotLike": {"aws:Referer": "https://example.com/*"}}}))
    denied(anon.get_object, Bucket=bucket, Key="k")
    url = f"{server.endpoint}{bucket}/k"
    assert httpx.get(url, trust_env=False).status_code == 403
    ok = httpx.get(url, headers={"Referer": "https://example.com/page"}, trust_env=False)
    assert (ok.status_code, ok.content) == (200, b"x")


def test_secure_transport_condition(s3: Any, bucket: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=policy({
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
    denied(s3.put_object, Bucket=bucket, Key="k", Body=b"x")  # plain HTTP here
    s3.get_bucket_acl(Bucket=bucket)  # other actions are untouched


def test_delete_objects_honours_a_deny_per_key(s3: Any, bucket: str) -> None:
    for key in ("keep/1", "tmp/2"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy({
        "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{bucket}/keep/*"}))
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "keep/1"},
                                                               {"Key": "tmp/2"}]})
    assert [d["Key"] for d in out["Deleted"]] == ["tmp/2"]
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("keep/1", "AccessDenied")]


# --- object ownership -------------------------------------------------------------------------

def test_ownership_controls_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert (code(err), status(err)) == ("OwnershipControlsNotFoundError", 404)
    for setting in ("BucketOwnerPreferred", "BucketOwnerEnforced", "ObjectWriter"):
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": setting}]})
        got = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
        assert got["Rules"] == [{"ObjectOwnership": setting}]
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "Whoever"}]})
    assert code(err) == "MalformedXML"


def test_bucket_owner_enforced_disables_acls(s3: Any, other: Any, bucket: str,
                                             other_account: Credentials) -> None:
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    for call, kwargs in ((s3.put_bucket_acl, {"ACL": "public-read"}),
                         (s3.put_object, {"Key": "k", "Body": b"x", "ACL": "public-read"})):
        with pytest.raises(ClientError) as err:
            call(Bucket=bucket, **kwargs)
        assert (code(err), status(err)) == ("AccessControlListNotSupported", 400)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(
        bucket, {"AWS": other_account.account_id}, "s3:PutObject")))
    other.put_object(Bucket=bucket, Key="theirs", Body=b"t")
    acl = s3.get_object_acl(Bucket=bucket, Key="theirs")
    assert acl["Owner"]["ID"] == canonical(s3)  # objects belong to the bucket owner
    assert s3.get_object(Bucket=bucket, Key="theirs")["Body"].read() == b"t"


def test_enforced_refuses_a_bucket_with_grants(s3: Any, bucket: str) -> None:
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    with pytest.raises(ClientError) as err:
        s3.put_bucket_ownership_controls(
            Bucket=bucket,
            OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert code(err) == "InvalidBucketAclWithObjectOwnership"
    name = f"acc-{uuid.uuid4().hex[:16]}"
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=name, ACL="public-read", ObjectOwnership="BucketOwnerEnforced")
    assert code(err) == "InvalidBucketAclWithObjectOwnership"
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerPreferred")
    got = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert got == [{"ObjectOwnership": "BucketOwnerPreferred"}]


def test_bucket_owner_preferred_takes_objects_written_with_full_control(
        s3: Any, other: Any, bucket: str) -> None:
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    s3.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{canonical(other)}"',
                      GrantFullControl=f'id="{canonical(s3)}"')
    other.put_object(Bucket=bucket, Key="given", Body=b"g", ACL="bucket-owner-full-control")
    other.put_object(Bucket=bucket, Key="kept", Body=b"k")
    owners = {o["Key"]: o["Owner"]["ID"] for o in s3.list_objects(Bucket=bucket)["Contents"]}
    assert owners == {"given": canonical(s3), "kept": canonical(other)}


# --- the AWS CLI and boto 2 -------------------------------------------------------------------

def test_aws_cli_policy(aws: AwsCli, anon: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", policy(allow(bucket)))
    got = aws("s3api", "get-bucket-policy", "--bucket", bucket)
    assert json.loads(got["Policy"])["Statement"][0]["Action"] == "s3:GetObject"
    assert anon.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    with pytest.raises(AwsCliError) as err:
        aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", "[1]")
    assert err.value.code == "MalformedPolicy"
    aws("s3api", "delete-bucket-policy", "--bucket", bucket)
    denied(anon.get_object, Bucket=bucket, Key="k")


def test_boto2_policy(clients: Clients, account: Credentials, server: Server) -> None:
    conn = clients.boto2_s3(account)
    name = f"acc-{uuid.uuid4().hex[:16]}"
    b = conn.create_bucket(name)
    b.new_key("k").set_contents_from_string("two")
    text = policy(allow(name))
    b.set_policy(text)
    assert json.loads(b.get_policy()) == json.loads(text)
    assert httpx.get(f"{server.endpoint}{name}/k", trust_env=False).content == b"two"
    b.delete_policy()
    with pytest.raises(S3ResponseError) as err:
        b.get_policy()
    assert (err.value.status, err.value.error_code) == (404, "NoSuchBucketPolicy")
    with pytest.raises(S3ResponseError) as err:
        b.set_policy(policy({**allow(name), "Resource": "arn:aws:s3:::elsewhere/*"}))
    assert err.value.error_code == "MalformedPolicy"
