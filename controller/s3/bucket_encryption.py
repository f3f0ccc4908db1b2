"""PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption (``Bucket.encryption``):
a bucket's default encryption. With SSE-S3 (``AES256``) or SSE-KMS (``aws:kms``, with the
account's AWS managed key: ``controller.s3.kms``) as default, every write to the bucket that
names no encryption of its own is encrypted (``controller.s3.encryption``). A rule's
``BlockedEncryptionTypes`` blocks (``SSE-C``) or allows (``NONE``) writes with customer-provided
keys; a bucket without one blocks them unless the operator changed that default
(``s3_sse_c_blocked_by_default``), as S3 does for buckets made since April 2026."""

from __future__ import annotations

import json
from typing import Any

from controller.db.engine import transaction
from controller.s3 import encryption, errors, kms
from controller.s3.access import owned_bucket
from controller.s3.bodies import read_config
from controller.s3.context import S3Context, S3Reply
from controller.s3.replies import xml_reply
from controller.s3.routes import route

_BLOCKABLE = ("NONE", "SSE-C")


def _checked(config: dict[str, Any]) -> dict[str, Any]:
    rules = config.get("Rules") or []
    if len(rules) != 1:
        raise errors.MalformedXML()
    default = rules[0].get("ApplyServerSideEncryptionByDefault")
    if not default or "SSEAlgorithm" not in default:
        raise errors.MalformedXML()
    algorithm = default["SSEAlgorithm"]
    if algorithm != encryption.AES256 and algorithm not in kms.ALGORITHMS:
        raise errors.MalformedXML()
    applied: dict[str, Any] = {"SSEAlgorithm": algorithm}
    if "KMSMasterKeyID" in default:
        if algorithm not in kms.ALGORITHMS:
            raise errors.InvalidArgument(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms "
                "or aws:kms:dsse", ArgumentName="ApplyServerSideEncryptionByDefault")
        # Kept as given: as in S3, a key that does not exist fails the writes that use it
        # (KMS.NotFoundException), not this request.
        applied["KMSMasterKeyID"] = str(default["KMSMasterKeyID"])
    kept: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": applied}
    if "BucketKeyEnabled" in rules[0]:
        kept["BucketKeyEnabled"] = bool(rules[0]["BucketKeyEnabled"])
    blocked = rules[0].get("BlockedEncryptionTypes")
    if blocked is not None:
        types = blocked.get("EncryptionType") or []
        if not types or any(t not in _BLOCKABLE for t in types) or (
                "NONE" in types and len(types) > 1):
            raise errors.MalformedXML()
        kept["BlockedEncryptionTypes"] = {"EncryptionType": list(types)}
    return {"Rules": [kept]}


@route("PUT", "bucket", "encryption")
async def put_bucket_encryption(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
    parsed = await read_config(ctx, "PutBucketEncryption", "ServerSideEncryptionConfiguration")
    config = _checked(parsed)
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.encryption = json.dumps(config)
    return S3Reply(200)


@route("GET", "bucket", "encryption")
async def get_bucket_encryption(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    if not bucket.encryption:
        raise errors.ServerSideEncryptionConfigurationNotFoundError(BucketName=ctx.bucket)
    return xml_reply("GetBucketEncryption",
                     {"ServerSideEncryptionConfiguration": json.loads(bucket.encryption)})


@route("DELETE", "bucket", "encryption")
async def delete_bucket_encryption(ctx: S3Context) -> S3Reply:
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.encryption = None
    return S3Reply(204)
