"""DeleteObjects: up to 1,000 keys in one request, each deleted as DeleteObject would."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import parse_s3_input_xml
from controller.s3 import errors
from controller.s3 import objects_store as store
from controller.s3.access import existing_bucket
from controller.s3.context import S3Context, S3Reply
from controller.s3.headers import content_md5, declared_checksum
from controller.s3.objects import MAX_KEY_BYTES, remove_key
from controller.s3.replies import xml_reply
from controller.s3.routes import route
from storage.objects.checksums import new_hasher

MAX_KEYS = 1000
MAX_BODY = 2 * 1024 * 1024


def check_integrity(ctx: S3Context, body: bytes, required: bool = True) -> None:
    """Content-MD5 and ``x-amz-checksum-*`` must match the body; AWS requires one of them
    on DeleteObjects (``required``)."""
    md5 = content_md5(ctx.headers)
    checksum = declared_checksum(ctx.headers)
    if required and md5 is None and checksum is None:
        raise errors.InvalidRequest(
            "Missing required header for this request: Content-MD5 OR x-amz-checksum-*")
    if ctx.payload_sha256 is not None and hashlib.sha256(body).hexdigest() != ctx.payload_sha256:
        raise errors.XAmzContentSHA256Mismatch(
            ClientComputedContentSHA256=ctx.payload_sha256,
            S3ComputedContentSHA256=hashlib.sha256(body).hexdigest())
    if md5 is not None and hashlib.md5(body).hexdigest() != md5:
        raise errors.BadDigest()
    if checksum is not None:
        hasher = new_hasher(checksum[0])
        hasher.update(body)
        if base64.b64encode(hasher.digest()).decode("ascii") != checksum[1]:
            raise errors.BadChecksum(f"The {checksum[0]} you specified did not match the "
                                     "calculated checksum.")


def _objects(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    shape = s3_operation("DeleteObjects").input_shape.members["Delete"]
    try:
        parsed = parse_s3_input_xml(shape, body)
    except MalformedXML:
        raise errors.MalformedXML() from None
    objects: list[dict[str, Any]] = parsed.get("Objects") or []
    if not objects or len(objects) > MAX_KEYS:
        raise errors.MalformedXML()
    return objects, bool(parsed.get("Quiet", False))


def _delete_one(session: Any, ctx: S3Context,
                item: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(Deleted or Error entry, freed blobs) for one ``ObjectIdentifier``."""
    key = str(item["Key"])
    version = item.get("VersionId")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return {"Key": key, "Code": "KeyTooLongError", "Message": "Your key is too long"}, []
    try:
        removal = remove_key(session, ctx, key, version)
    except (errors.NoSuchVersion, errors.AccessDenied) as exc:
        return {"Key": key, "VersionId": version, "Code": exc.code, "Message": exc.message}, []
    entry: dict[str, Any] = {"Key": key}
    if version is not None:
        entry["VersionId"] = version
        if removal.delete_marker:
            entry["DeleteMarker"] = True
            entry["DeleteMarkerVersionId"] = version
    elif removal.delete_marker:
        entry["DeleteMarker"] = True
        entry["DeleteMarkerVersionId"] = removal.version_id
    return entry, removal.freed


@route("POST", "bucket", "delete")
async def delete_objects(ctx: S3Context) -> S3Reply:
    with ctx.sessions() as session:
        existing_bucket(session, ctx.bucket)
    body = await ctx.read_body(MAX_BODY)
    check_integrity(ctx, body)
    objects, quiet = _objects(body)

    def work(session: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        existing_bucket(session, ctx.bucket)
        deleted: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        freed: list[str] = []
        for item in objects:
            entry, blobs = _delete_one(session, ctx, item)
            (failed if "Code" in entry else deleted).append(entry)
            freed += blobs
        session.flush()
        return deleted, failed, freed

    deleted, failed, freed = store.with_retry(ctx.sessions, work)
    for blob in freed:
        ctx.blobs.delete(blob)
    reply = xml_reply("DeleteObjects", {"Deleted": None if quiet else deleted or None,
                                        "Errors": failed or None})
    reply.batch_deleted = [(e["Key"], e.get("VersionId")) for e in deleted]
    return reply
