"""S3 ACLs end to end: owners, canned ACLs, grant headers and documents, anonymous access, two
accounts; boto3 (signed and unsigned), raw httpx, the AWS CLI and boto 2."""

from __future__ import annotations

import uuid
import warnings
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from controller.s3.acl import ALL_USERS, AUTHENTICATED_USERS
from tests.conftest import AwsCli, AwsCliError, Clients, Server
from tests.e2e.refusals import error_code
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


def _grants(acl: dict[str, Any]) -> list[tuple[str, str]]:
    return [(g["Grantee"].get("ID") or g["Grantee"]["URI"], g["Permission"])
            for g in acl["Grants"]]


# --- owners and defaults ----------------------------------------------------------------------

def test_default_bucket_and_object_acls_are_private(s3: Any, bucket: str,
                                                    account: Credentials) -> None:
    me = canonical(s3)
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Owner"] == {"ID": me, "DisplayName": account.account_name}
    assert _grants(acl) == [(me, "FULL_CONTROL")]
    assert acl["Grants"][0]["Grantee"]["Type"] == "CanonicalUser"
    assert acl["Grants"][0]["Grantee"]["DisplayName"] == account.account_name
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert _grants(s3.get_object_acl(Bucket=bucket, Key="k")) == [(me, "FULL_CONTROL")]


def test_other_accounts_and_anonymous_are_refused_by_default(
        s3: Any, other: Any, anon: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for client in (other, anon):
        denied(client.list_objects_v2, Bucket=bucket)
        denied(client.get_object, Bucket=bucket, Key="k")
        denied(client.put_object, Bucket=bucket, Key="k2", Body=b"y")
        denied(client.get_bucket_acl, Bucket=bucket)
        denied(client.get_bucket_versioning, Bucket=bucket)
    with pytest.raises(ClientError) as err:
        anon.head_bucket(Bucket=bucket)
    assert status(err) == 403


def test_missing_bucket_is_still_no_such_bucket(anon: Any, other: Any) -> None:
    for client in (anon, other):
        with pytest.raises(ClientError) as err:
            client.list_objects_v2(Bucket=f"nope-{uuid.uuid4().hex[:12]}")
        assert (code(err), status(err)) == ("NoSuchBucket", 404)


def test_list_buckets_shows_only_the_callers_and_refuses_anonymous(
        s3: Any, other: Any, anon: Any, bucket: str) -> None:
    assert bucket not in [b["Name"] for b in other.list_buckets()["Buckets"]]
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    denied(anon.list_buckets)


# --- canned ACLs ------------------------------------------------------------------------------

def test_public_read_bucket_lists_to_anonymous_but_refuses_writes(
        s3: Any, anon: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="private.txt", Body=b"secret")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert _grants(s3.get_bucket_acl(Bucket=bucket))[:-1] == [(ALL_USERS, "READ")]
    listed = anon.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["private.txt"]
    anon.head_bucket(Bucket=bucket)
    denied(anon.get_object, Bucket=bucket, Key="private.txt")  # the object stays private
    denied(anon.put_object, Bucket=bucket, Key="new", Body=b"y")
    denied(anon.get_bucket_acl, Bucket=bucket)
    with pytest.raises(ClientError) as err:
        anon.get_object(Bucket=bucket, Key="missing")  # READ on the bucket: 404, not 403
    assert code(err) == "NoSuchKey"


def test_public_read_object_over_raw_http(s3: Any, bucket: str, server: Server) -> None:
    s3.put_object(Bucket=bucket, Key="pub.txt", Body=b"hello", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="priv.txt", Body=b"secret")
    reply = httpx.get(f"{server.endpoint}{bucket}/pub.txt", trust_env=False)
    assert (reply.status_code, reply.content) == (200, b"hello")
    reply = httpx.get(f"{server.endpoint}{bucket}/priv.txt", trust_env=False)
    assert reply.status_code == 403 and b"<Code>AccessDenied</Code>" in reply.content
    reply = httpx.get(f"{server.endpoint}{bucket}/none.txt", trust_env=False)
    assert reply.status_code == 403  # no READ on the bucket: a missing key is not revealed


def test_public_read_write_bucket_takes_anonymous_and_foreign_writes(
        s3: Any, other: Any, anon: Any, bucket: str, account: Credentials) -> None:
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    anon.put_object(Bucket=bucket, Key="from-anon", Body=b"a")
    other.put_object(Bucket=bucket, Key="from-other", Body=b"o")
    listed = s3.list_objects(Bucket=bucket)["Contents"]
    owners = {o["Key"]: o["Owner"]["ID"] for o in listed}
    assert owners == {"from-anon": canonical(s3), "from-other": canonical(other)}
    assert s3.get_object(Bucket=bucket, Key="from-anon")["Body"].read() == b"a"
    # the writer owns its object: the bucket owner may delete it but not read it
    denied(s3.get_object, Bucket=bucket, Key="from-other")
    assert other.get_object(Bucket=bucket, Key="from-other")["Body"].read() == b"o"
    other.put_object(Bucket=bucket, Key="shared", Body=b"s", ACL="bucket-owner-full-control")
    assert s3.get_object(Bucket=bucket, Key="shared")["Body"].read() == b"s"
    anon.delete_object(Bucket=bucket, Key="from-other")
    s3.delete_object(Bucket=bucket, Key="shared")
    assert sorted(o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]) == ["from-anon"]


def test_authenticated_read_covers_every_signed_caller(
        s3: Any, other: Any, anon: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="authenticated-read")
    assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    denied(anon.get_object, Bucket=bucket, Key="k")
    grants = _grants(s3.get_object_acl(Bucket=bucket, Key="k"))
    assert grants[:-1] == [(AUTHENTICATED_USERS, "READ")]


def test_create_bucket_with_canned_acl(s3: Any, anon: Any) -> None:
    name = f"acc-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name, ACL="public-read-write")
    assert [p for _, p in _grants(s3.get_bucket_acl(Bucket=name))] == [
        "READ", "WRITE", "FULL_CONTROL"]  # the owner's grant last, as S3 implementations list it
    anon.put_object(Bucket=name, Key="k", Body=b"x")


# --- grant headers and documents --------------------------------------------------------------

def test_grant_headers_name_accounts(s3: Any, other: Any, anon: Any, bucket: str) -> None:
    them = canonical(other)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", GrantRead=f'id="{them}"')
    assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    denied(anon.get_object, Bucket=bucket, Key="k")
    denied(other.get_object_acl, Bucket=bucket, Key="k")
    s3.put_bucket_acl(Bucket=bucket, GrantReadACP=f'id="{them}"',
                      GrantFullControl=f'id="{canonical(s3)}"')
    acl = other.get_bucket_acl(Bucket=bucket)
    assert (them, "READ_ACP") in _grants(acl)
    denied(other.put_bucket_acl, Bucket=bucket, ACL="public-read")
    denied(other.list_objects_v2, Bucket=bucket)


def test_write_acp_lets_another_account_change_the_acl(s3: Any, other: Any,
                                                       bucket: str) -> None:
    s3.put_bucket_acl(Bucket=bucket, GrantWriteACP=f'id="{canonical(other)}"')
    other.put_bucket_acl(Bucket=bucket, GrantRead=f'id="{canonical(other)}"')
    other.list_objects_v2(Bucket=bucket)
    # the owner's own grant is gone, yet the owning account keeps every right to its bucket
    assert _grants(s3.get_bucket_acl(Bucket=bucket)) == [(canonical(other), "READ")]
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    denied(other.list_objects_v2, Bucket=bucket)


def test_acl_document_with_display_names(s3: Any, other: Any, bucket: str,
                                         other_account: Credentials) -> None:
    me, them = canonical(s3), canonical(other)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy={
        "Owner": {"ID": me},
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": me}, "Permission": "FULL_CONTROL"},
                   {"Grantee": {"Type": "CanonicalUser", "ID": them}, "Permission": "READ"},
                   {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ_ACP"}]})
    acl = other.get_object_acl(Bucket=bucket, Key="k")  # READ_ACP through AllUsers
    assert _grants(acl) == [(me, "FULL_CONTROL"), (them, "READ"), (ALL_USERS, "READ_ACP")]
    assert acl["Grants"][1]["Grantee"]["DisplayName"] == other_account.account_name
    assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_object_acl_of_a_version(s3: Any, anon: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    s3.put_object_acl(Bucket=bucket, Key="k", VersionId=v1, ACL="public-read")
    assert len(_grants(s3.get_object_acl(Bucket=bucket, Key="k", VersionId=v1))) == 2
    assert len(_grants(s3.get_object_acl(Bucket=bucket, Key="k"))) == 1
    assert anon.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    denied(anon.get_object, Bucket=bucket, Key="k")


# --- errors -----------------------------------------------------------------------------------

def test_acl_errors(s3: Any, other: Any, bucket: str) -> None:
    me = canonical(s3)
    assert error_code(s3.put_bucket_acl, Bucket=bucket, ACL="private",
                      GrantRead=f'id="{me}"') == ("InvalidRequest", 400)
    assert error_code(s3.put_bucket_acl, Bucket=bucket, GrantRead='id="' + "0" * 64 + '"') == (
        "InvalidArgument", 400)
    assert error_code(s3.put_bucket_acl, Bucket=bucket,
                      GrantRead='emailAddress="someone@example.com"') == (
        "UnresolvableGrantByEmailAddress", 400)
    assert error_code(s3.put_bucket_acl, Bucket=bucket, ACL="everyone-welcome") == (
        "InvalidArgument", 400)
    assert error_code(s3.put_object, Bucket=bucket, Key="k", Body=b"x",
                      ACL="public-read", GrantRead=f'id="{me}"') == ("InvalidRequest", 400)
    foreign = {"Owner": {"ID": canonical(other)}, "Grants": []}
    assert error_code(s3.put_bucket_acl, Bucket=bucket, AccessControlPolicy=foreign) == (
        "AccessDenied", 403)
    bad = {"Owner": {"ID": me}, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": me}, "Permission": "EVERYTHING"}]}
    assert error_code(s3.put_bucket_acl, Bucket=bucket, AccessControlPolicy=bad) == (
        "MalformedACLError", 400)


def test_malformed_acl_body_over_raw_http(s3: Any, bucket: str, server: Server) -> None:
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")  # WRITE is not WRITE_ACP
    reply = httpx.put(f"{server.endpoint}{bucket}?acl", content=b"<AccessControlPolicy>",
                      trust_env=False)
    assert reply.status_code == 403  # anonymous callers may not change ACLs
    s3.put_bucket_acl(Bucket=bucket, GrantWriteACP=f'uri="{ALL_USERS}"',
                      GrantFullControl=f'id="{canonical(s3)}"')
    reply = httpx.put(f"{server.endpoint}{bucket}?acl", content=b"<AccessControlPolicy>",
                      trust_env=False)
    assert reply.status_code == 400 and b"<Code>MalformedACLError</Code>" in reply.content
    reply = httpx.put(f"{server.endpoint}{bucket}?acl", trust_env=False)
    assert reply.status_code == 400 and b"<Code>MissingSecurityHeader</Code>" in reply.content


# --- copy and multipart -----------------------------------------------------------------------

def test_copy_needs_read_on_the_source_and_does_not_copy_the_acl(
        s3: Any, other: Any, anon: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"data", ACL="public-read")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert len(_grants(s3.get_object_acl(Bucket=bucket, Key="copy"))) == 1
    denied(anon.get_object, Bucket=bucket, Key="copy")
    s3.copy_object(Bucket=bucket, Key="copy2", CopySource={"Bucket": bucket, "Key": "src"},
                   ACL="public-read")
    assert anon.get_object(Bucket=bucket, Key="copy2")["Body"].read() == b"data"
    mine = f"acc-{uuid.uuid4().hex[:16]}"
    other.create_bucket(Bucket=mine)
    other.copy_object(Bucket=mine, Key="k", CopySource={"Bucket": bucket, "Key": "src"})
    s3.put_object(Bucket=bucket, Key="private", Body=b"p")
    denied(other.copy_object, Bucket=mine, Key="k2",
           CopySource={"Bucket": bucket, "Key": "private"})


def test_multipart_upload_applies_its_acl_to_the_object(s3: Any, anon: Any,
                                                        bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ACL="public-read")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                          Body=b"part")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert anon.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"part"


def test_anonymous_multipart_into_a_public_bucket(s3: Any, anon: Any, bucket: str) -> None:
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    upload = anon.create_multipart_upload(Bucket=bucket, Key="mp")
    part = anon.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                            Body=b"p")
    assert [u["Key"] for u in anon.list_multipart_uploads(Bucket=bucket)["Uploads"]] == ["mp"]
    anon.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"p"


def test_delete_objects_reports_access_denied_per_key(s3: Any, other: Any,
                                                       bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    out = other.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("k", "AccessDenied")]
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 1


# --- the AWS CLI and boto 2 -------------------------------------------------------------------

def test_aws_cli_acls(aws: AwsCli, s3: Any, bucket: str, server: Server) -> None:
    aws("s3api", "put-bucket-acl", "--bucket", bucket, "--acl", "public-read")
    acl = aws("s3api", "get-bucket-acl", "--bucket", bucket)
    assert [g["Permission"] for g in acl["Grants"]] == ["READ", "FULL_CONTROL"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    aws("s3api", "put-object-acl", "--bucket", bucket, "--key", "k", "--grant-read",
        f"uri={ALL_USERS}")
    acl = aws("s3api", "get-object-acl", "--bucket", bucket, "--key", "k")
    assert acl["Grants"] == [{"Grantee": {"Type": "Group", "URI": ALL_USERS},
                              "Permission": "READ"}]
    assert httpx.get(f"{server.endpoint}{bucket}/k", trust_env=False).content == b"x"
    with pytest.raises(AwsCliError) as err:
        aws("s3api", "put-bucket-acl", "--bucket", bucket, "--acl", "bogus")
    assert err.value.code == "InvalidArgument"


def test_boto2_acls(clients: Clients, account: Credentials, other_account: Credentials,
                    s3: Any, server: Server) -> None:
    conn = clients.boto2_s3(account)
    name = f"acc-{uuid.uuid4().hex[:16]}"
    b = conn.create_bucket(name)
    b.set_acl("public-read")
    policy = b.get_acl()
    assert [g.permission for g in policy.acl.grants] == ["READ", "FULL_CONTROL"]
    assert policy.owner.id == canonical(s3)
    key = b.new_key("k")
    key.set_contents_from_string("boto2")
    assert [g.permission for g in key.get_acl().acl.grants] == ["FULL_CONTROL"]
    assert httpx.get(f"{server.endpoint}{name}/k", trust_env=False).status_code == 403
    key.set_acl("public-read")
    assert httpx.get(f"{server.endpoint}{name}/k", trust_env=False).content == b"boto2"
    stranger = clients.boto2_s3(other_account).get_bucket(name, validate=False)
    with pytest.raises(S3ResponseError) as err:
        stranger.get_acl()
    assert (err.value.status, err.value.error_code) == (403, "AccessDenied")
    assert stranger.get_key("k").get_contents_as_string() == b"boto2"


def test_policy_documents_stay_json(s3: Any, bucket: str) -> None:
    """(Sanity: ACL calls leave the bucket policy untouched.)"""
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    with pytest.raises(ClientError) as err:
        s3.get_bucket_policy(Bucket=bucket)
    assert code(err) == "NoSuchBucketPolicy"


def test_expected_bucket_owner(s3: Any, bucket: str, account: Credentials) -> None:
    s3.list_objects_v2(Bucket=bucket, ExpectedBucketOwner=account.account_id)
    denied(s3.list_objects_v2, Bucket=bucket, ExpectedBucketOwner="000000000000")
    denied(s3.get_bucket_acl, Bucket=bucket, ExpectedBucketOwner="000000000000")
