"""Presigned S3 URLs for the parts of an image, as a node agent fetches them.

Whose credentials sign: the image owner's first active access key. The node never sees a key,
only URLs for the exact objects (GET, one key each), and the request passes the object store's
ordinary access checks as the owner, who could read the objects at RegisterImage time. An
owner without an active key cannot have their images launched (the launch fails with
``Server.InternalError`` and a log line saying why).

The signing date is the instance's launch time, so the URLs — and therefore the spec sent to
the node — are the same on every pass of the reconciler (the node refuses a changed spec for a
known instance id).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials


class _FixedDateAuth(S3SigV4QueryAuth):  # type: ignore[misc]  # botocore is untyped
    def __init__(self, credentials: BotoCredentials, region: str, expires: int,
                 when: datetime) -> None:
        super().__init__(credentials, "s3", region, expires=expires)
        self._when = when

    def _modify_request_before_signing(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._when.strftime("%Y%m%dT%H%M%SZ")
        super()._modify_request_before_signing(request)


def presign_get(endpoint: str, region: str, access_key: str, secret_key: str, bucket: str,
                key: str, when: datetime, expires: int) -> str:
    """A SigV4 presigned GET of ``bucket/key`` (path style), signed as at ``when``."""
    url = f"{endpoint.rstrip('/')}/{quote(bucket)}/{quote(key, safe='/~')}"
    request = AWSRequest(method="GET", url=url)
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    auth = _FixedDateAuth(BotoCredentials(access_key, secret_key), region, expires, when)
    auth.add_auth(request)
    return str(request.url)
