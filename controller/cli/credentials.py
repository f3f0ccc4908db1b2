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
        # boto 2 reads no port from its config: connect with boto.connect_ec2_endpoint(URL).
        return "\n".join(
            [
                f"# ~/.boto for boto 2; connect with: boto.connect_ec2_endpoint('{endpoint}')",
                "[Credentials]",
                f"aws_access_key_id = {creds.access_key_id}",
                f"aws_secret_access_key = {creds.secret_access_key}",
                "",
                "[Boto]",
                f"ec2_region_name = {region}",
            ]
        )
    raise ValueError(f"unknown format {fmt!r}")
