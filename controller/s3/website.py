"""PutBucketWebsite, GetBucketWebsite, DeleteBucketWebsite: the configuration, checked as S3 does.

The configuration is kept as JSON (the botocore-shaped dict) in ``Bucket.website``; the website
endpoint that serves it is ``controller/s3/website_endpoint.py``.
"""

from __future__ import annotations

import json
from typing import Any

from controller.db.engine import transaction
from controller.s3 import errors
from controller.s3.access import owned_bucket
from controller.s3.bodies import read_config
from controller.s3.context import S3Context, S3Reply
from controller.s3.replies import xml_reply
from controller.s3.routes import route

MAX_BODY = 128 * 1024
MAX_RULES = 50
PROTOCOLS = ("http", "https")


def _redirect_code(value: Any) -> None:
    if value is None:
        return
    text = str(value)
    if not (text.isdigit() and 300 <= int(text) <= 399):
        raise errors.InvalidRequest(
            f"The provided HTTP redirect code ({text[:16]}) is not valid. Valid codes are 3XX "
            "except 300.")
    if int(text) == 300:
        raise errors.InvalidRequest(
            "The provided HTTP redirect code (300) is not valid. Valid codes are 3XX except 300.")


def _protocol(value: Any) -> None:
    if value is not None and value not in PROTOCOLS:
        raise errors.InvalidRequest(
            f"Invalid protocol, protocol can be http or https. Provided value: {str(value)[:16]}")


def _check_rule(rule: dict[str, Any]) -> None:
    redirect = rule.get("Redirect")
    if not isinstance(redirect, dict) or not redirect:
        raise errors.InvalidRequest("A Redirect must be specified in a RoutingRule.")
    if "ReplaceKeyWith" in redirect and "ReplaceKeyPrefixWith" in redirect:
        raise errors.InvalidRequest(
            "You can only define ReplaceKeyPrefix or ReplaceKey but not both.")
    _protocol(redirect.get("Protocol"))
    _redirect_code(redirect.get("HttpRedirectCode"))
    condition = rule.get("Condition") or {}
    code = condition.get("HttpErrorCodeReturnedEquals")
    if code is not None and not (str(code).isdigit() and 400 <= int(str(code)) <= 599):
        raise errors.InvalidRequest(
            f"The provided HTTP error code ({str(code)[:16]}) is not valid. Valid codes are 4XX "
            "or 5XX.")


def check_website(config: dict[str, Any]) -> None:
    """Refuse what S3 refuses: RedirectAllRequestsTo alone, or an IndexDocument with optional
    ErrorDocument and routing rules."""
    redirect_all = config.get("RedirectAllRequestsTo")
    if redirect_all is not None:
        if any(config.get(k) is not None for k in ("IndexDocument", "ErrorDocument",
                                                   "RoutingRules")):
            raise errors.InvalidArgument(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing "
                "Rules.", ArgumentName="RedirectAllRequestsTo")
        if not redirect_all.get("HostName"):
            raise errors.MalformedXML()
        _protocol(redirect_all.get("Protocol"))
        return
    index = config.get("IndexDocument")
    if index is None:
        raise errors.InvalidArgument(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
            ArgumentName="IndexDocument")
    suffix = index.get("Suffix")
    if not suffix or "/" in suffix:
        raise errors.InvalidArgument("The IndexDocument Suffix is not well formed",
                                     ArgumentName="IndexDocument", ArgumentValue=suffix or "")
    error_doc = config.get("ErrorDocument")
    if error_doc is not None and not error_doc.get("Key"):
        raise errors.InvalidArgument("The ErrorDocument Key is not well formed",
                                     ArgumentName="ErrorDocument")
    rules = config.get("RoutingRules") or []
    if len(rules) > MAX_RULES:
        raise errors.InvalidRequest(f"The number of routing rules must not exceed {MAX_RULES}.")
    for rule in rules:
        _check_rule(rule)


@route("PUT", "bucket", "website")
async def put_bucket_website(ctx: S3Context) -> S3Reply:
    config = await read_config(ctx, "PutBucketWebsite", "WebsiteConfiguration", MAX_BODY)
    check_website(config)
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.website = json.dumps(config)
    return S3Reply(200)


@route("GET", "bucket", "website")
async def get_bucket_website(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
    if bucket.website is None:
        raise errors.NoSuchWebsiteConfiguration(BucketName=ctx.bucket)
    return xml_reply("GetBucketWebsite", json.loads(bucket.website))


@route("DELETE", "bucket", "website")
async def delete_bucket_website(ctx: S3Context) -> S3Reply:
    with transaction(ctx.sessions) as session:
        bucket = owned_bucket(session, ctx.bucket, ctx.principal)
        bucket.website = None
    return S3Reply(204)
