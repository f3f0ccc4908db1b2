"""PutBucketLogging and GetBucketLogging (``Bucket.logging``): server access logging of a bucket
into a target bucket of the same owner and region (``controller.s3.access_log``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from controller.db.engine import transaction
from controller.db.models import Bucket
from controller.s3 import acl, errors
from controller.s3.access import ENFORCED, canonical_of, known_ids, owned_bucket
from controller.s3.acl_requests import s3_error
from controller.s3.bodies import read_config
from controller.s3.context import S3Context, S3Reply
from controller.s3.replies import xml_reply
from controller.s3.routes import route

_DATE_SOURCES = ("EventTime", "DeliveryTime")
_LOG_PERMISSIONS = ("FULL_CONTROL", "READ", "WRITE")
MAX_PREFIX_BYTES = 900


def _checked(enabled: dict[str, Any]) -> dict[str, Any]:
    """The LoggingEnabled to keep; MalformedXML for what the schema does not allow."""
    if "TargetBucket" not in enabled or "TargetPrefix" not in enabled:
        raise errors.MalformedXML()
    if len(str(enabled["TargetPrefix"]).encode("utf-8", "surrogatepass")) > MAX_PREFIX_BYTES:
        # A log object's key is the prefix and up to 110 bytes more (partitioned), and a key
        # has at most 1,024 bytes.
        raise errors.InvalidArgument("The TargetPrefix is too long.",
                                     ArgumentName="TargetPrefix")
    kept: dict[str, Any] = {"TargetBucket": enabled["TargetBucket"],
                            "TargetPrefix": enabled["TargetPrefix"]}
    if enabled.get("TargetGrants"):
        if any(g.get("Permission") not in _LOG_PERMISSIONS for g in enabled["TargetGrants"]):
            raise errors.MalformedXML()
        kept["TargetGrants"] = enabled["TargetGrants"]
    key_format = enabled.get("TargetObjectKeyFormat")
    if key_format is not None:
        simple, partitioned = "SimplePrefix" in key_format, "PartitionedPrefix" in key_format
        if simple == partitioned:
            raise errors.MalformedXML()
        if partitioned:
            source = (key_format["PartitionedPrefix"] or {}).get("PartitionDateSource")
            if source is not None and source not in _DATE_SOURCES:
                raise errors.MalformedXML()
            kept["TargetObjectKeyFormat"] = {"PartitionedPrefix": {
                "PartitionDateSource": source or "DeliveryTime"}}
        else:
            kept["TargetObjectKeyFormat"] = {"SimplePrefix": {}}
    return kept


def _check_target(session: Session, source: Bucket, target: Bucket,
                  config: dict[str, Any]) -> None:
    """S3's checks of the target bucket: same owner, same region, and no grants for log
    objects where ACLs are disabled; the grants must name grantees that exist."""
    if target.account_id != source.account_id:
        raise errors.InvalidTargetBucketForLogging(
            "The owner for the bucket to be logged and the target bucket must be the same.",
            TargetBucket=target.name)
    if target.region != source.region:
        raise errors.CrossLocationLoggingProhibited(
            SourceBucketLocation=source.region, TargetBucketLocation=target.region)
    if config.get("TargetGrants"):
        if target.ownership == ENFORCED:
            raise errors.AccessControlListNotSupported(
                "Target grants not allowed for bucket owner enforced buckets")
        log_object_grants(session, target, config)


def log_object_grants(session: Session, target: Bucket, config: dict[str, Any]) -> str | None:
    """The stored ACL of the log objects: the target bucket owner's FULL_CONTROL and the
    configuration's ``TargetGrants`` (None: the owner's alone, the default)."""
    wanted = config.get("TargetGrants")
    if not wanted:
        return None
    owner = canonical_of(session, target.account_id)
    try:
        grants = acl.from_policy_document({"Owner": {"ID": owner}, "Grants": wanted}, owner,
                                          known_ids(session))
    except acl.AclError as exc:
        raise s3_error(exc) from None
    return acl.dump([acl.user(owner, "FULL_CONTROL"), *grants])


@route("PUT", "bucket", "logging")
async def put_bucket_logging(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
    status = await read_config(ctx, "PutBucketLogging", "BucketLoggingStatus")
    enabled = status.get("LoggingEnabled")
    config = None if enabled is None else _checked(enabled)
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        if config is not None:
            target = session.get(Bucket, config["TargetBucket"])
            if target is None:
                raise errors.InvalidTargetBucketForLogging(
                    "The target bucket for logging does not exist",
                    TargetBucket=config["TargetBucket"])
            _check_target(session, bucket, target, config)
        bucket.logging = None if config is None else json.dumps(config)
    if ctx.logs is not None:
        ctx.logs.configure(ctx.bucket, config)
    return S3Reply(200)


@route("GET", "bucket", "logging")
async def get_bucket_logging(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    data = {} if not bucket.logging else {"LoggingEnabled": json.loads(bucket.logging)}
    return xml_reply("GetBucketLogging", data)
