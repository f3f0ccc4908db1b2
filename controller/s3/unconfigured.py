"""Bucket settings Ironbark does not offer, read as S3 reads them on a bucket that never set
them: Transfer Acceleration (no status), Requester Pays (the bucket owner pays),
event notifications (none), replication (not found).
Clients that read every setting of a bucket (Terraform's ``aws_s3_bucket``, configuration
audits, ``aws s3api get-bucket-*``) then see an ordinary bucket instead of NotImplemented.
Writing any of them stays NotImplemented: nothing here would honour it."""

from __future__ import annotations

from typing import Any

from controller.s3 import errors
from controller.s3.access import owned_bucket
from controller.s3.context import S3Context, S3Reply
from controller.s3.replies import xml_reply
from controller.s3.routes import Handler, route


def _check(ctx: S3Context) -> None:
    """NoSuchBucket, or AccessDenied for a caller who may not read the setting."""
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)


def _unset(operation: str, data: dict[str, Any]) -> Handler:
    async def handler(ctx: S3Context) -> S3Reply:
        _check(ctx)
        return xml_reply(operation, data)

    return handler


route("GET", "bucket", "accelerate")(_unset("GetBucketAccelerateConfiguration", {}))
route("GET", "bucket", "requestPayment")(_unset("GetBucketRequestPayment",
                                                {"Payer": "BucketOwner"}))
route("GET", "bucket", "notification")(_unset("GetBucketNotificationConfiguration", {}))


_FEATURES = {"accelerate": "Transfer Acceleration", "requestPayment": "Requester Pays",
             "notification": "Event notifications",
             "replication": "Replication"}


def _not_offered(feature: str) -> Handler:
    async def handler(ctx: S3Context) -> S3Reply:
        raise errors.NotImplementedError_(f"{feature} is not supported.")

    return handler


for _sub, _feature in _FEATURES.items():
    route("PUT", "bucket", _sub)(_not_offered(_feature))


async def _delete_nothing(ctx: S3Context) -> S3Reply:
    """DeleteBucketReplication: there is nothing to delete."""
    _check(ctx)
    return S3Reply(204)


route("DELETE", "bucket", "replication")(_delete_nothing)


@route("GET", "bucket", "replication")
async def get_bucket_replication(ctx: S3Context) -> S3Reply:
    _check(ctx)
    raise errors.ReplicationConfigurationNotFoundError(BucketName=ctx.bucket)
