"""``ironbark admin``: credentials in three formats, accounts, users and key rotation, against a live server."""

from __future__ import annotations

import configparser
import subprocess
import sys
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import Server, _hermetic_env


def ironbark(server: Server, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "controller.cli.main", "admin", *args,
               "--data-dir", str(server.data_dir), "--database-url", server.database_url]
    done = subprocess.run(command, capture_output=True, text=True, env=_hermetic_env(),
                          stdin=subprocess.DEVNULL, timeout=60, check=False)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def parse_env(text: str) -> dict[str, str]:
    pairs = (line.removeprefix("export ").split("=", 1) for line in text.splitlines() if line)
    return {k: v for k, v in pairs}


def client(server: Server, key: str, secret: str) -> Any:
    return boto3.client("ec2", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


def works(server: Server, key: str, secret: str) -> bool:
    try:
        client(server, key, secret).describe_regions()
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AuthFailure"
        return False
    return True


def test_admin_credentials_env_aws_and_boto(server: Server) -> None:
    env = parse_env(ironbark(server, "credentials", "--format", "env").stdout)
    assert env["AWS_ACCESS_KEY_ID"] == server.admin.access_key_id
    assert env["AWS_SECRET_ACCESS_KEY"] == server.admin.secret_access_key
    assert works(server, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])

    profile = configparser.ConfigParser()
    profile.read_string(ironbark(server, "credentials", "--format", "aws").stdout)
    section = profile["profile ironbark"]
    assert section["aws_access_key_id"] == server.admin.access_key_id
    assert section["endpoint_url"].startswith("http://127.0.0.1:")

    boto_cfg = configparser.ConfigParser()
    boto_cfg.read_string(ironbark(server, "credentials", "--format", "boto").stdout)
    assert boto_cfg["Credentials"]["aws_secret_access_key"] == server.admin.secret_access_key


def test_account_create_prints_working_keys_and_refuses_duplicates(server: Server) -> None:
    env = parse_env(ironbark(server, "account", "create", "cli-acct").stdout)
    assert works(server, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    assert len(env["IRONBARK_ACCOUNT_ID"]) == 12
    groups = client(server, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    names = [g["GroupName"] for g in groups.describe_security_groups()["SecurityGroups"]]
    assert names == ["default"]
    again = ironbark(server, "account", "create", "cli-acct", ok=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert "cli-acct" in ironbark(server, "account", "list").stdout


def test_user_and_key_rotation(server: Server) -> None:
    ironbark(server, "account", "create", "rot-acct")
    first = parse_env(ironbark(server, "user", "create", "rot-acct", "deployer").stdout)
    second = parse_env(ironbark(server, "key", "create", "rot-acct", "deployer").stdout)
    third = ironbark(server, "key", "create", "rot-acct", "deployer", ok=False)
    assert third.returncode == 1 and "2 access keys" in third.stderr
    k1, s1 = first["AWS_ACCESS_KEY_ID"], first["AWS_SECRET_ACCESS_KEY"]
    k2, s2 = second["AWS_ACCESS_KEY_ID"], second["AWS_SECRET_ACCESS_KEY"]
    assert works(server, k1, s1) and works(server, k2, s2)

    ironbark(server, "key", "deactivate", "rot-acct", k1)
    assert not works(server, k1, s1) and works(server, k2, s2)
    ironbark(server, "key", "activate", "rot-acct", k1)
    assert works(server, k1, s1)
    ironbark(server, "key", "delete", "rot-acct", k1)
    assert not works(server, k1, s1)
    listing = ironbark(server, "user", "list", "rot-acct").stdout
    assert k2 in listing and k1 not in listing
    ironbark(server, "user", "delete", "rot-acct", "deployer")
    assert not works(server, k2, s2)


@pytest.mark.parametrize("args", [["key", "delete", "nobody", "AKIAAAAAAAAAAAAAAAAA"],
                                  ["user", "create", "no-such-account", "u"]])
def test_errors_are_reported_not_raised(server: Server, args: list[str]) -> None:
    done = ironbark(server, *args, ok=False)
    assert done.returncode == 1 and done.stderr.startswith("ironbark: ")
    assert "Traceback" not in done.stderr


def test_server_log_has_request_ids_and_no_secrets(server: Server) -> None:
    bad = client(server, server.admin.access_key_id, "x" * 40)
    with pytest.raises(ClientError):
        bad.describe_regions()
    log = server.log_text()
    assert "request_id=" in log
    assert server.admin.secret_access_key not in log
    assert "Signature=" not in log
