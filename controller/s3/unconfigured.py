"""Bucket settings Ironbark does not offer, read as S3 reads them on a bucket that never set
them: Transfer Acceleration (no status), Requester Pays (the bucket owner pays),
event notifications (none), replication (not found).
Clients that read every setting of a bucket (Terraform's ``aws_s3_bucket``, configuration
audits, ``aws s3api get-bucket-*``) then see an ordinary bucket instead of NotImplemented.
Writing one of them is accepted when it asks for that same state (no notifications, the bucket
owner pays: AWS CLI scripts and Terraform write the defaults) and NotImplemented otherwise:
nothing here would honour it."""

from __future__ import annotations

from typing import Any

from controller.s3 import errors
from controller.s3.access import owned_bucket
from controller.s3.bodies import read_config
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


_FEATURES = {"accelerate": "Transfer Acceleration", "replication": "Replication"}


def _not_offered(feature: str) -> Handler:
    async def handler(ctx: S3Context) -> S3Reply:
        raise errors.NotImplementedError_(f"{feature} is not supported.")

    return handler


for _sub, _feature in _FEATURES.items():
    route("PUT", "bucket", _sub)(_not_offered(_feature))


@route("PUT", "bucket", "notification")
async def put_bucket_notification(ctx: S3Context) -> S3Reply:
    """An empty configuration turns notifications off, which they are; any destination is
    NotImplemented."""
    _check(ctx)
    config = await read_config(ctx, "PutBucketNotificationConfiguration",
                               "NotificationConfiguration")
    if config:  # a destination, or EventBridge (an empty element that turns it on)
        raise errors.NotImplementedError_("Event notifications are not supported.")
    return S3Reply(200)


@route("PUT", "bucket", "requestPayment")
async def put_bucket_request_payment(ctx: S3Context) -> S3Reply:
    """``BucketOwner`` is how every bucket here is paid for; ``Requester`` is NotImplemented."""
    _check(ctx)
    config = await read_config(ctx, "PutBucketRequestPayment", "RequestPaymentConfiguration")
    payer = config.get("Payer")
    if payer == "Requester":
        raise errors.NotImplementedError_("Requester Pays is not supported.")
    if payer != "BucketOwner":
        raise errors.MalformedXML()
    return S3Reply(200)


async def _delete_nothing(ctx: S3Context) -> S3Reply:
    """DeleteBucketReplication: there is nothing to delete."""
    _check(ctx)
    return S3Reply(204)


route("DELETE", "bucket", "replication")(_delete_nothing)


@route("GET", "bucket", "replication")
async def get_bucket_replication(ctx: S3Context) -> S3Reply:
    _check(ctx)
    raise errors.ReplicationConfigurationNotFoundError(BucketName=ctx.bucket)
