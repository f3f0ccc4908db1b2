"""Raw S3 requests signed with SigV4: exactly the body and headers a test chooses (bad XML,
wrong Content-MD5), which boto3 would refuse to send or would fix up."""

from __future__ import annotations

import hashlib

import httpx
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from controller.identity.service import Credentials
from tests.conftest import REGION


def signed(creds: Credentials, method: str, url: str, body: bytes = b"",
           headers: dict[str, str] | None = None) -> httpx.Response:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(BotoCredentials(creds.access_key_id, creds.secret_access_key), "s3",
                REGION).add_auth(request)
    return httpx.request(method, url, content=body, headers=dict(request.headers.items()),
                         trust_env=False)
