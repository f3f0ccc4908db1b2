"""CreateBucket, ListBuckets, HeadBucket, GetBucketLocation and DeleteBucket end to end:
boto3, the AWS CLI (``s3api`` and ``s3 mb``/``rb``) and boto 2 (SigV2, path style)."""

from __future__ import annotations

import subprocess
import sys
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import (
    REGION,
    AwsCli,
    AwsCliError,
    Server,
    _hermetic_env,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from boto.exception import S3ResponseError


def _name(tag: str = "b") -> str:
    return f"{tag}-{uuid.uuid4().hex[:16]}"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


# --- create ---------------------------------------------------------------------------------

def test_create_list_head_location_delete(s3: Any) -> None:
    name = _name()
    reply = s3.create_bucket(Bucket=name)
    assert reply["Location"] == f"/{name}"
    listed = s3.list_buckets()
    assert [b["Name"] for b in listed["Buckets"]] == [name]
    assert listed["Buckets"][0]["CreationDate"].tzinfo is not None
    assert listed["Owner"]["ID"]
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == REGION
    assert s3.get_bucket_location(Bucket=name).get("LocationConstraint") is None
    s3.delete_bucket(Bucket=name)
    assert s3.list_buckets()["Buckets"] == []
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=name)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_buckets_sorted_and_per_account(s3: Any, make_s3: Callable[[Credentials], Any],
                                             server: Server) -> None:
    names = sorted(_name(t) for t in ("zz", "aa", "mm"))
    for name in reversed(names):
        s3.create_bucket(Bucket=name)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == names
    other = make_s3(server.new_account())
    assert other.list_buckets()["Buckets"] == []


def test_list_buckets_paged_and_filtered(s3: Any) -> None:
    """ListBuckets' newer parameters: max-buckets/continuation-token, prefix, bucket-region."""
    tag = uuid.uuid4().hex[:8]
    names = [f"pg{tag}-{n}" for n in range(3)]
    for name in names:
        s3.create_bucket(Bucket=name)
    s3.create_bucket(Bucket=f"other{tag}")
    seen, token = [], None
    while True:
        page = s3.list_buckets(MaxBuckets=2, Prefix=f"pg{tag}",
                               **({"ContinuationToken": token} if token else {}))
        assert page["Prefix"] == f"pg{tag}" and len(page["Buckets"]) <= 2
        seen += [b["Name"] for b in page["Buckets"]]
        token = page.get("ContinuationToken")
        if token is None:
            break
    assert seen == names
    assert len(s3.list_buckets()["Buckets"]) == 4 and "ContinuationToken" not in s3.list_buckets()
    assert [b["Name"] for b in s3.list_buckets(BucketRegion="eu-west-1")["Buckets"]] == []
    assert len(s3.list_buckets(BucketRegion=REGION)["Buckets"]) == 4
    with pytest.raises(ClientError) as err:
        s3.list_buckets(ContinuationToken="not-a-token")
    assert _code(err) == "InvalidArgument"


@pytest.mark.parametrize("name", [
    "ab", "a" * 64, "Upper-case", "under_score", "-leading", "trailing-", ".dot", "dot.",
    "two..dots", "dash-.dot", "dot.-dash", "192.168.1.1", "xn--punycode", "sthree-x",
    "name-s3alias", "name--ol-s3", "sp ace",
])
def test_invalid_bucket_names(s3: Any, server: Server, account: Credentials,
                              name: str) -> None:
    import httpx
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    # Raw SigV4 requests: boto3 validates some names itself before sending.
    request = AWSRequest("PUT", f"{server.endpoint}{name.replace(' ', '%20')}")
    S3SigV4Auth(BotoCredentials(account.access_key_id, account.secret_access_key), "s3",
                REGION).add_auth(request)
    prepared = request.prepare()
    reply = httpx.put(prepared.url, headers=dict(prepared.headers), trust_env=False)
    assert reply.status_code == 400, reply.text
    assert "<Code>InvalidBucketName</Code>" in reply.text


@pytest.mark.parametrize("name", ["abc", "a" * 63, "with.dots.ok", "dash-ok-1", "0numeric"])
def test_valid_bucket_names(s3: Any, name: str) -> None:
    unique = name if len(name) == 63 else f"{name}-{uuid.uuid4().hex[:8]}"
    if len(name) == 63:
        unique = uuid.uuid4().hex[:8] + name[8:]
    s3.create_bucket(Bucket=unique)
    s3.head_bucket(Bucket=unique)
    s3.delete_bucket(Bucket=unique)


def test_duplicate_own_bucket_and_another_accounts(s3: Any, server: Server,
                                                   make_s3: Callable[[Credentials], Any]) -> None:
    name = _name()
    s3.create_bucket(Bucket=name, ACL="public-read")
    s3.put_object(Bucket=name, Key="kept", Body=b"x")
    # us-east-1 keeps S3's legacy answer to the owner: 200 OK, the ACL reset, objects kept
    again = s3.create_bucket(Bucket=name)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket=name)["Grants"]] == ["FULL_CONTROL"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == ["kept"]
    other = make_s3(server.new_account())
    with pytest.raises(ClientError) as err:
        other.create_bucket(Bucket=name)
    assert _code(err) == "BucketAlreadyExists"


def test_location_constraints(s3: Any) -> None:
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=_name(),
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert _code(err) == "IllegalLocationConstraintException"
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=_name(),
                         CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert _code(err) == "InvalidLocationConstraint"


# --- delete ---------------------------------------------------------------------------------

def test_delete_non_empty_bucket(s3: Any) -> None:
    name = _name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket=name)
    assert _code(err) == "BucketNotEmpty"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)


def test_delete_missing_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket=_name())
    assert _code(err) == "NoSuchBucket"


# --- other accounts ---------------------------------------------------------------------------

def test_another_account_is_denied(s3: Any, server: Server,
                                   make_s3: Callable[[Credentials], Any]) -> None:
    name = _name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"secret")
    other = make_s3(server.new_account())
    calls: list[Callable[[], Any]] = [
        lambda: other.get_bucket_location(Bucket=name),
        lambda: other.delete_bucket(Bucket=name),
        lambda: other.list_objects_v2(Bucket=name),
        lambda: other.get_object(Bucket=name, Key="k"),
        lambda: other.put_object(Bucket=name, Key="k", Body=b"overwrite"),
        lambda: other.delete_object(Bucket=name, Key="k"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == "AccessDenied"
    with pytest.raises(ClientError) as err:
        other.head_bucket(Bucket=name)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"secret"


def test_anonymous_is_denied(server: Server, s3: Any) -> None:
    import httpx

    name = _name()
    s3.create_bucket(Bucket=name)
    for url in (server.endpoint, f"{server.endpoint}{name}", f"{server.endpoint}{name}/k"):
        reply = httpx.get(url, trust_env=False)
        assert reply.status_code == 403 and "<Code>AccessDenied</Code>" in reply.text


# --- the AWS CLI and boto 2 ------------------------------------------------------------------

def test_cli_s3api_bucket_lifecycle(aws: AwsCli) -> None:
    name = _name()
    assert aws("s3api", "create-bucket", "--bucket", name) == {"Location": f"/{name}"}
    assert name in [b["Name"] for b in aws("s3api", "list-buckets")["Buckets"]]
    assert aws("s3api", "head-bucket", "--bucket", name)["BucketRegion"] == REGION
    assert aws("s3api", "get-bucket-location", "--bucket", name)["LocationConstraint"] is None
    assert aws("s3api", "create-bucket", "--bucket", name) == {"Location": f"/{name}"}
    with pytest.raises(AwsCliError) as err:
        aws("s3api", "create-bucket", "--bucket", "Bad_Name")
    assert err.value.code in {"InvalidBucketName", None}  # the CLI may refuse it itself
    assert aws("s3api", "delete-bucket", "--bucket", name) is None


def _cli_text(server: Server, creds: Credentials, *args: str) -> subprocess.CompletedProcess[str]:
    """The AWS CLI's text output (``s3 mb``/``rb`` print no JSON)."""
    env = {k: v for k, v in _hermetic_env().items() if not k.startswith("AWS_")}
    env |= {"AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_MAX_ATTEMPTS": "1",
            "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    command = [str(Path(sys.executable).parent / "aws"), "--endpoint-url", server.endpoint,
               "--region", REGION, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)


def test_cli_s3_mb_and_rb(server: Server, account: Credentials, s3: Any) -> None:
    name = _name()
    made = _cli_text(server, account, "s3", "mb", f"s3://{name}")
    assert made.returncode == 0 and f"make_bucket: {name}" in made.stdout, made.stderr
    s3.head_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="x", Body=b"x")
    refused = _cli_text(server, account, "s3", "rb", f"s3://{name}")
    assert refused.returncode != 0 and "BucketNotEmpty" in refused.stderr
    removed = _cli_text(server, account, "s3", "rb", f"s3://{name}", "--force")
    assert removed.returncode == 0, removed.stderr
    assert s3.list_buckets()["Buckets"] == []


def test_boto2_bucket_lifecycle(boto2_s3: Any, server: Server) -> None:
    name = _name()
    bucket = boto2_s3.create_bucket(name)
    assert bucket.name == name
    assert [b.name for b in boto2_s3.get_all_buckets()] == [name]
    assert boto2_s3.get_bucket(name).get_location() == ""
    assert boto2_s3.lookup(_name()) is None
    assert boto2_s3.create_bucket(name).name == name  # us-east-1: the owner's re-create is OK
    key = bucket.new_key("k")
    key.set_contents_from_string("x")
    with pytest.raises(S3ResponseError) as err2:
        boto2_s3.delete_bucket(name)
    assert err2.value.error_code == "BucketNotEmpty"
    bucket.delete_key("k")
    boto2_s3.delete_bucket(name)
    assert boto2_s3.get_all_buckets() == []
