"""RestoreObject (``POST /bucket/key?restore``): a readable copy of an archived version.

S3 takes minutes to hours to bring a GLACIER or DEEP_ARCHIVE version back; Ironbark keeps
every class on the same disks, so a restore completes as it is accepted: the first request
answers 202 Accepted, one made while the copy is live answers 200 OK and sets its new expiry.
The copy expires ``Days`` after the request, rounded up to the next midnight UTC as S3 does
(``IRONBARK_S3_LIFECYCLE_DAY_SECONDS`` shortens the day for tests, with no rounding then)."""

from __future__ import annotations

from typing import Any

from controller.db.engine import transaction
from controller.db.models import utcnow
from controller.s3 import errors, storage_classes
from controller.s3.bodies import read_config
from controller.s3.context import S3Context, S3Reply
from controller.s3.object_tagging import tagged_version
from controller.s3.routes import route

TIERS = ("Standard", "Bulk", "Expedited")


def _days(request: dict[str, Any]) -> int:
    if "SelectParameters" in request or request.get("Type") == "SELECT":
        raise errors.NotImplementedError_("Restores of type SELECT are not supported.")
    if "OutputLocation" in request:
        raise errors.NotImplementedError_("Restores to an output location are not supported.")
    tier = request.get("Tier") or (request.get("GlacierJobParameters") or {}).get("Tier")
    if tier is not None and tier not in TIERS:
        raise errors.MalformedXML()
    days = request.get("Days")
    if not isinstance(days, int):
        raise errors.MalformedXML()
    if days < 1:
        raise errors.InvalidArgument("Days must be a positive integer", ArgumentName="Days",
                                     ArgumentValue=str(days))
    return days


@route("POST", "object", "restore")
async def restore_object(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        tagged_version(session, ctx)  # NoSuchKey / AccessDenied before the body is read
    request = await read_config(ctx, "RestoreObject", "RestoreRequest")
    days = _days(request)
    with transaction(ctx.sessions) as session:
        row = tagged_version(session, ctx)
        if not storage_classes.archived(row.storage_class):
            raise errors.InvalidObjectState(
                "Restore is not allowed for the object's current storage class",
                StorageClass=storage_classes.name(row.storage_class))
        now = utcnow()
        live = storage_classes.readable(row.storage_class, row.restored_until, now)
        row.restored_until = storage_classes.restore_expiry(
            now, days, ctx.settings.s3_lifecycle_day_seconds)
    return S3Reply(200 if live else 202, [])
