"""GetObjectAttributes (``GET /b/k?attributes``): an object version's ETag, checksum, parts,
storage class and size in one request, the attributes named by ``x-amz-object-attributes``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from controller.db.models import S3Object
from controller.s3 import errors, storage_classes, stored_bytes
from controller.s3 import objects_store as store
from controller.s3.context import S3Context, S3Reply
from controller.s3.encryption import SSE_C
from controller.s3.headers import checksum_type
from controller.s3.objects import find_object
from controller.s3.replies import xml_reply
from controller.s3.routes import route

ATTRIBUTES = frozenset({"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"})
MAX_PARTS = 1000


def _wanted(headers: Mapping[str, str]) -> set[str]:
    names = {n.strip() for n in headers.get("x-amz-object-attributes", "").split(",")}
    names.discard("")
    if not names:
        raise errors.InvalidRequest("The x-amz-object-attributes header specifying the "
                                    "attributes to be retrieved is either missing or empty")
    unknown = sorted(names - ATTRIBUTES)
    if unknown:
        raise errors.InvalidArgument("Invalid attribute name specified.",
                                     ArgumentName="x-amz-object-attributes",
                                     ArgumentValue=unknown[0][:64])
    return names


def _count(headers: Mapping[str, str], name: str, default: int) -> int:
    value = headers.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):
        raise errors.InvalidArgument(f"Provided {name} not an integer or within integer range",
                                     ArgumentName=name, ArgumentValue=value[:32])
    return int(value)


def checksum_of(row: S3Object) -> dict[str, str] | None:
    """The stored checksum as the botocore ``Checksum`` shape (multipart composites carry
    their ``-N`` part count, as S3 shows them)."""
    if not row.checksum_algorithm or not row.checksum_value:
        return None
    return {f"Checksum{row.checksum_algorithm.upper()}": row.checksum_value,
            "ChecksumType": checksum_type(row.checksum_value)}


def _parts(row: S3Object, max_parts: int, marker: int) -> dict[str, Any] | None:
    """``ObjectParts`` of a multipart object (an ordinary upload has none), paged."""
    if row.parts is None:
        return None
    parts: list[list[Any]] = json.loads(row.parts)
    numbers = [n for n in range(1, len(parts) + 1) if n > marker]
    page = numbers[:max_parts]
    out: dict[str, Any] = {"TotalPartsCount": len(parts), "PartNumberMarker": marker,
                           "MaxParts": max_parts, "IsTruncated": len(numbers) > len(page),
                           "Parts": [_part(row, n, parts[n - 1]) for n in page]}
    if page:
        out["NextPartNumberMarker"] = page[-1]
    return out


def _part(row: S3Object, number: int, part: list[Any]) -> dict[str, Any]:
    """One ``ObjectPart``: number, size and (a COMPOSITE object's) part checksum."""
    out: dict[str, Any] = {"PartNumber": number, "Size": int(part[0])}
    checksum = part[2] if len(part) > 2 else None
    if checksum and row.checksum_algorithm and checksum_type(row.checksum_value or "") == (
            "COMPOSITE"):
        out[f"Checksum{row.checksum_algorithm.upper()}"] = checksum
    return out


@route("GET", "object", "attributes")
async def get_object_attributes(ctx: S3Context) -> S3Reply:
    wanted = _wanted(ctx.headers)
    max_parts = min(_count(ctx.headers, "x-amz-max-parts", MAX_PARTS), MAX_PARTS)
    marker = _count(ctx.headers, "x-amz-part-number-marker", 0)
    row, _ = find_object(ctx, "s3:GetObjectAttributes")
    customer = ctx.customer_key()
    if row.sse == SSE_C or customer is not None:  # as for GetObject: the key, or InvalidRequest
        stored_bytes.unlock(ctx.keys, row.sse, row.sse_key, customer)
    data: dict[str, Any] = {"LastModified": row.last_modified}
    if row.version_id != store.NULL_VERSION:
        data["VersionId"] = row.version_id
    if "ETag" in wanted:
        data["ETag"] = row.etag.strip('"')
    if "Checksum" in wanted:
        data["Checksum"] = checksum_of(row)
    if "ObjectParts" in wanted:
        data["ObjectParts"] = _parts(row, max_parts, marker)
    if "StorageClass" in wanted:
        data["StorageClass"] = storage_classes.name(row.storage_class)
    if "ObjectSize" in wanted:
        data["ObjectSize"] = row.size
    return xml_reply("GetObjectAttributes", {k: v for k, v in data.items() if v is not None})
