"""Presigned URLs whose X-Amz-Expires never lived (0, negative) or would outlive a week are
refused with 403 AccessDenied, as S3 does; one inside the window works."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from controller.identity.service import Credentials
from tests.conftest import REGION, Server


@pytest.mark.parametrize("expires", ["0", "-7", "604801"])
def test_out_of_range_expiry_is_forbidden(s3: Any, server: Server, account: Credentials,
                                          expires: str) -> None:
    signer = boto3.client("s3", region_name=REGION, endpoint_url=server.endpoint,
                          config=Config(signature_version="s3v4",
                                        s3={"addressing_style": "path"}),
                          aws_access_key_id=account.access_key_id,
                          aws_secret_access_key=account.secret_access_key)
    bucket = f"exp-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                    ExpiresIn=600)
    assert httpx.get(url, trust_env=False).content == b"data"
    reply = httpx.get(url.replace("X-Amz-Expires=600", f"X-Amz-Expires={expires}"),
                      trust_env=False)
    assert reply.status_code == 403
    assert b"<Code>AccessDenied</Code>" in reply.content


def test_v2_presigned_url_valid_for_more_than_a_week_is_forbidden(s3: Any) -> None:
    bucket = f"exp-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    week = 7 * 24 * 3600
    for expires, status in ((week - 60, 200), (week + 60, 403)):
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                        ExpiresIn=expires)
        assert "Signature=" in url and "X-Amz-Signature" not in url  # Signature V2
        assert httpx.get(url, trust_env=False).status_code == status
