"""SSE-KMS (``aws:kms``, ``aws:kms:dsse``) with the one KMS key that exists here: each
account's AWS managed key for S3 (``aws/s3``).

Ironbark has no KMS API, so no customer managed key can exist. What S3 does with the AWS
managed key is offered: a write that asks for ``aws:kms`` (explicitly or through its bucket's
default encryption) and names no key, or names that key (its id, its ARN, ``alias/aws/s3`` or
the alias's ARN), is encrypted and answered as S3 answers, with the key's ARN in
``x-amz-server-side-encryption-aws-kms-key-id``; any other key is ``KMS.NotFoundException``
(400), as S3 answers for a key that does not exist. The key's id is derived from the account
and the region, so it needs no storage and is the same on every controller.

The bytes are encrypted as SSE-S3's are (``controller.s3.encryption``: an object key derived
from the controller's master key, AES-256-CTR): the managed key is, like S3's, a key the
service holds. What differs is what S3 requires of requests: SSE-KMS objects are written and
read only with Signature Version 4 (anonymous and SigV2 requests are ``InvalidArgument``).
S3 Bucket Keys save KMS calls, which do not exist here; whether a write asked for one is kept
with the object and answered (``x-amz-server-side-encryption-bucket-key-enabled``).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass

from controller.identity.authenticate import Principal
from controller.s3 import errors

ALGORITHMS = ("aws:kms", "aws:kms:dsse")
KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
CONTEXT = "x-amz-server-side-encryption-context"
BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
ALIAS = "alias/aws/s3"
_NAMESPACE = uuid.UUID("5b0b7e52-6c4e-4f0e-9d55-8f3f2a8f6d21")


def managed_key_id(account: str, region: str) -> str:
    """The id of ``account``'s AWS managed key for S3 in ``region``."""
    return str(uuid.uuid5(_NAMESPACE, f"aws/s3/{account}/{region}"))


def managed_key_arn(account: str, region: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{managed_key_id(account, region)}"


def check_key(key_id: str | None, account: str, region: str) -> None:
    """KMS.NotFoundException unless ``key_id`` (None or empty: the default) names
    ``account``'s AWS managed key for S3."""
    if not key_id:
        return
    arn_prefix = f"arn:aws:kms:{region}:{account}:"
    own = managed_key_id(account, region)
    if key_id in (own, ALIAS, arn_prefix + "key/" + own, arn_prefix + ALIAS):
        return
    if key_id.startswith("arn:"):
        missing = key_id
    elif key_id.startswith("alias/"):
        raise errors.KMSNotFoundException(f"Alias '{arn_prefix}{key_id[:256]}' is not found.")
    else:
        missing = f"{arn_prefix}key/{key_id}"
    raise errors.KMSNotFoundException(f"Key '{missing[:512]}' does not exist")


def check_context(value: str | None) -> None:
    """``x-amz-server-side-encryption-context``: base64 of a JSON object of strings."""
    if value is None:
        return
    try:
        parsed = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        parsed = None
    if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()):
        raise errors.InvalidArgument("Invalid encryption context", ArgumentName=CONTEXT,
                                     ArgumentValue=value[:64])


def require_sigv4(principal: Principal | None) -> None:
    """S3 serves SSE-KMS objects, and takes SSE-KMS writes, only with Signature Version 4."""
    if principal is None or principal.service is None:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS "
            "Signature Version 4.", ArgumentName="Authorization", ArgumentValue="null")


def bucket_key_flag(value: str | None) -> bool | None:
    """``x-amz-server-side-encryption-bucket-key-enabled``: None when not sent."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise errors.InvalidArgument("Invalid value for bucket key enabled", ArgumentName=BUCKET_KEY,
                                     ArgumentValue=value[:64])
    return lowered == "true"


@dataclass(frozen=True)
class KeyRef:
    """What replies about an SSE-KMS object (or upload) say of its key."""

    arn: str
    bucket_key: bool

    def headers(self) -> list[tuple[str, str]]:
        return [(KEY_ID, self.arn), *([(BUCKET_KEY, "true")] if self.bucket_key else [])]

    def members(self) -> dict[str, object]:
        return {"SSEKMSKeyId": self.arn, **({"BucketKeyEnabled": True} if self.bucket_key
                                           else {})}


def key_ref(sse: str | None, bucket_key: bool, account: str, region: str) -> KeyRef | None:
    """The key of an object encrypted with ``sse`` by ``account``; None unless SSE-KMS."""
    if sse not in ALGORITHMS:
        return None
    return KeyRef(managed_key_arn(account, region), bucket_key)
