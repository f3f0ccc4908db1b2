"""Render credentials as environment exports, an AWS CLI profile, or a boto config."""

from __future__ import annotations

from controller.identity.service import Credentials


def render(creds: Credentials, fmt: str, endpoint: str, region: str, profile: str = "ironbark") -> str:
    if fmt == "env":
        return "\n".join(
            [
                f"export AWS_ACCESS_KEY_ID={creds.access_key_id}",
                f"export AWS_SECRET_ACCESS_KEY={creds.secret_access_key}",
                f"export AWS_DEFAULT_REGION={region}",
                f"export AWS_ENDPOINT_URL={endpoint}",
                f"export EC2_URL={endpoint}",
                f"export S3_URL={endpoint}",
                f"export IRONBARK_ACCOUNT_ID={creds.account_id}",
            ]
        )
    if fmt == "aws":
        return "\n".join(
            [
                f"[profile {profile}]",
                f"aws_access_key_id = {creds.access_key_id}",
                f"aws_secret_access_key = {creds.secret_access_key}",
                f"region = {region}",
                f"endpoint_url = {endpoint}",
            ]
        )
    if fmt == "boto":
        host, _, port = endpoint.split("://", 1)[1].rstrip("/").partition(":")
        return "\n".join(
            [
                "[Credentials]",
                f"aws_access_key_id = {creds.access_key_id}",
                f"aws_secret_access_key = {creds.secret_access_key}",
                "",
                "[Boto]",
                "is_secure = False",
                f"ec2_region_name = {region}",
                f"ec2_region_endpoint = {host}",
                f"ec2_port = {port or 80}",
                "ec2_path = /",
            ]
        )
    raise ValueError(f"unknown format {fmt!r}")
