"""Smoke tests of the harness: a real server on each database, driven by boto3, the AWS CLI, boto 2."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from boto.exception import EC2ResponseError
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import AwsCli, AwsCliError, Clients, Server

BOGUS_KEY = "AKIAIOSFODNN7EXAMPLE"
BOGUS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _bogus(creds: Credentials) -> Credentials:
    return replace(creds, access_key_id=BOGUS_KEY, secret_access_key=BOGUS_SECRET)


def test_health(server: Server) -> None:
    reply = httpx.get(server.endpoint + "_ironbark/health", trust_env=False)
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok"}


def test_server_bootstrapped_admin_and_logs(server: Server) -> None:
    assert len(server.admin.account_id) == 12 and server.admin.account_id.isdigit()
    assert "admin.bootstrapped" in server.log_text()
    assert server.admin.secret_access_key not in server.log_text()
    banner = server.banner_text()
    assert f"Ironbark is up at {server.endpoint}" in banner
    assert f"export AWS_SECRET_ACCESS_KEY={server.admin.secret_access_key}" in banner


def test_new_accounts_are_distinct(server: Server, account: Credentials) -> None:
    other = server.new_account()
    assert other.account_id != account.account_id
    assert other.access_key_id != account.access_key_id
    assert account.account_id != server.admin.account_id


def test_unknown_access_key_is_auth_failure_boto3(
    account: Credentials, make_ec2: Callable[[Credentials], Any]
) -> None:
    with pytest.raises(ClientError) as caught:
        make_ec2(_bogus(account)).describe_regions()
    assert caught.value.response["Error"]["Code"] == "AuthFailure"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] in (401, 403)


def test_unknown_access_key_is_auth_failure_cli(account: Credentials, clients: Clients) -> None:
    with pytest.raises(AwsCliError) as caught:
        clients.aws(_bogus(account))("ec2", "describe-regions")
    assert caught.value.code == "AuthFailure"
    assert caught.value.returncode != 0
    assert "An error occurred (AuthFailure)" in caught.value.stderr


def test_unknown_access_key_is_auth_failure_boto2(
    account: Credentials, make_boto2: Callable[[Credentials], Any]
) -> None:
    with pytest.raises(EC2ResponseError) as caught:
        make_boto2(_bogus(account)).get_all_regions()
    assert caught.value.error_code == "AuthFailure"
    assert caught.value.status in (401, 403)


def test_describe_regions_boto3(ec2: Any) -> None:
    regions = ec2.describe_regions()["Regions"]
    assert "us-east-1" in [region["RegionName"] for region in regions]


def test_describe_regions_aws_cli(aws: AwsCli) -> None:
    regions = aws("ec2", "describe-regions")["Regions"]
    assert "us-east-1" in [region["RegionName"] for region in regions]


def test_describe_regions_boto2(boto2: Any) -> None:
    regions = boto2.get_all_regions()
    assert "us-east-1" in [region.name for region in regions]


def test_admin_credentials_work(server: Server, make_ec2: Callable[[Credentials], Any]) -> None:
    assert make_ec2(server.admin).describe_regions()["Regions"]
