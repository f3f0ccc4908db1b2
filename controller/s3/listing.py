"""ListObjects (v1), ListObjectsV2 and ListObjectVersions: one page of keys, filtered in SQL.

Keys come in UTF-8 byte order (SQLite's binary collation, PostgreSQL's "C"), which is also
Python's code point order for ``str``. A prefix is a key range ``prefix <= key < successor``;
with a delimiter, each common prefix found makes the next query jump past its whole group.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.orm import Session

from controller.db.models import S3Object, utcnow
from controller.s3 import errors
from controller.s3.access import owned_bucket, owner_of
from controller.s3.context import S3Context, S3Reply
from controller.s3.headers import checksum_type
from controller.s3.object_lock_rules import as_utc
from controller.s3.objects_store import is_version_id
from controller.s3.replies import xml_reply
from controller.s3.routes import route
from controller.s3.storage_classes import STANDARD

MAX_KEYS = 1000
_TOKEN_MAGIC = b"ib1\x00"
_MAX_CHAR = 0x10FFFF


def successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix`` (None: none)."""
    chars = list(prefix)
    while chars and ord(chars[-1]) == _MAX_CHAR:
        chars.pop()
    if not chars:
        return None
    code = ord(chars[-1]) + 1
    chars[-1] = chr(0xE000 if 0xD800 <= code <= 0xDFFF else code)
    return "".join(chars)


@dataclass
class Page:
    """One page: latest object rows and common prefixes, in key order, at most max-keys."""

    contents: list[Row[Any]] = field(default_factory=list)  # the columns of _COLUMNS
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or common prefix returned


@dataclass(frozen=True)
class _Cursor:
    bound: str | None  # where the next query starts
    inclusive: bool


def _group(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix ``key`` rolls up into, or None."""
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def _start(prefix: str, delimiter: str, after: str) -> _Cursor:
    """Start past ``after``; past its whole group when it sits inside a common prefix."""
    if after and after.startswith(prefix):
        group = _group(after, prefix, delimiter)
        if group is not None:
            return _Cursor(successor(group), True)
    if after and after >= prefix:
        return _Cursor(after, False)
    return _Cursor(prefix or None, True)


_COLUMNS = (S3Object.key, S3Object.last_modified, S3Object.etag, S3Object.size,
            S3Object.checksum_algorithm, S3Object.checksum_value, S3Object.owner_account_id,
            S3Object.storage_class, S3Object.restored_until)


def _query(session: Session, bucket: str, prefix: str, cursor: _Cursor,
           limit: int) -> list[Row[Any]]:
    where = [S3Object.bucket == bucket, S3Object.is_latest.is_(True),
             S3Object.delete_marker.is_(False)]
    if cursor.bound is not None:
        where.append(S3Object.key >= cursor.bound if cursor.inclusive
                     else S3Object.key > cursor.bound)
    end = successor(prefix) if prefix else None
    if end is not None:
        where.append(S3Object.key < end)
    statement = select(*_COLUMNS).where(*where).order_by(S3Object.key).limit(limit)
    return list(session.execute(statement))


def list_page(session: Session, bucket: str, prefix: str, delimiter: str, after: str,
              max_keys: int) -> Page:
    """Up to ``max_keys`` keys and common prefixes under ``prefix``, strictly after ``after``."""
    cursor = _start(prefix, delimiter, after)
    if max_keys == 0 or (prefix and cursor.bound is None):
        return Page()  # max-keys=0 lists nothing and is not truncated, as S3 answers
    return _fill(cursor, lambda c, n: _query(session, bucket, prefix, c, n),
                 lambda row: _Cursor(row.key, False), lambda jumped: jumped,
                 prefix, delimiter, max_keys)


C = TypeVar("C")


def _fill(cursor: C, fetch: Callable[[C, int], list[Row[Any]]],
          after_row: Callable[[Row[Any]], C], past_group: Callable[[_Cursor], C],
          prefix: str, delimiter: str, max_keys: int) -> Page:
    """Query from ``cursor`` until the page is full or the keys run out: each query asks for
    what is still missing plus one (to know about truncation); a common prefix makes the next
    query jump past its whole group."""
    page = Page()
    while True:
        wanted = max_keys - len(page.contents) - len(page.prefixes) + 1
        rows = fetch(cursor, wanted)
        jumped = _consume(page, rows, prefix, delimiter, max_keys)
        if page.truncated or (jumped is None and len(rows) < wanted):
            return page
        if jumped is not None:
            if jumped.bound is None:
                return page
            cursor = past_group(jumped)
        else:
            cursor = after_row(rows[-1])


def _consume(page: Page, rows: list[Row[Any]], prefix: str, delimiter: str,
             max_keys: int) -> _Cursor | None:
    """Add ``rows`` to the page; a cursor past a group that may run beyond ``rows``."""
    skip: str | None = None
    for row in rows:
        if skip is not None and row.key.startswith(skip):
            continue
        skip = None
        if len(page.contents) + len(page.prefixes) >= max_keys:
            page.truncated = True
            return None
        group = _group(row.key, prefix, delimiter)
        if group is None:
            page.contents.append(row)
            page.last = row.key
        else:
            page.prefixes.append(group)
            page.last = skip = group
    if skip is not None:
        return _Cursor(successor(skip), True)
    return None


# --- request parameters ---------------------------------------------------------------------

def _max_keys(query: Mapping[str, str]) -> int:
    raw = query.get("max-keys", str(MAX_KEYS))
    if not raw.strip().isdigit():
        raise errors.InvalidArgument("Provided max-keys not an integer or within integer range",
                                     ArgumentName="max-keys", ArgumentValue=raw)
    return min(int(raw), MAX_KEYS)


def _encoding(query: Mapping[str, str]) -> str | None:
    value = query.get("encoding-type")
    if value is None or value == "":
        return None
    if value.lower() != "url":
        raise errors.InvalidArgument("Invalid Encoding Method specified in Request",
                                     ArgumentName="encoding-type", ArgumentValue=value)
    return "url"


def _encoder(encoding: str | None) -> Any:
    if encoding is None:
        return lambda text: text
    return lambda text: quote(text, safe="/~") if text is not None else None


def encode_token(position: str) -> str:
    return base64.urlsafe_b64encode(_TOKEN_MAGIC + position.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        if raw.startswith(_TOKEN_MAGIC):
            return raw[len(_TOKEN_MAGIC):].decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        pass
    raise errors.InvalidArgument("The continuation token provided is incorrect",
                                 ArgumentName="continuation-token", ArgumentValue=token)


# --- responses ------------------------------------------------------------------------------

_OPTIONAL_ATTRIBUTES = ("RestoreStatus",)


def _wants_restore_status(headers: Mapping[str, str]) -> bool:
    """``x-amz-optional-object-attributes`` (its one value, ``RestoreStatus``, asks for the
    restore state of archived versions); InvalidArgument for a name S3 does not know."""
    asked = [name.strip() for name in headers.get("x-amz-optional-object-attributes", "")
             .split(",") if name.strip()]
    for name in asked:
        if name not in _OPTIONAL_ATTRIBUTES:
            raise errors.InvalidArgument("Invalid attribute name specified.",
                                         ArgumentName="x-amz-optional-object-attributes",
                                         ArgumentValue=name)
    return bool(asked)


def _restore_status(row: Row[Any], now: datetime) -> dict[str, Any] | None:
    """An archived version's live restored copy: ``RestoreStatus`` (restores here are instant,
    so never in progress); None for every other version, as S3 leaves it out."""
    until = row.restored_until
    if until is None or as_utc(until) <= now:
        return None
    return {"IsRestoreInProgress": False, "RestoreExpiryDate": until}


def _contents(session: Session, page: Page, with_owner: bool, enc: Any,
              restore: bool = False) -> list[dict[str, Any]]:
    owners: dict[str, dict[str, str]] = {}
    out = []
    now = utcnow()
    for row in page.contents:
        item: dict[str, Any] = {"Key": enc(row.key), "LastModified": row.last_modified,
                                "ETag": row.etag, "Size": row.size,
                                "StorageClass": row.storage_class or STANDARD}
        if row.checksum_algorithm:
            item["ChecksumAlgorithm"] = [row.checksum_algorithm]
            item["ChecksumType"] = checksum_type(row.checksum_value or "")
        if restore and (status := _restore_status(row, now)) is not None:
            item["RestoreStatus"] = status
        if with_owner:
            if row.owner_account_id not in owners:
                owners[row.owner_account_id] = owner_of(session, row.owner_account_id)
            item["Owner"] = owners[row.owner_account_id]
        out.append(item)
    return out


@route("GET", "bucket")
async def list_objects(ctx: S3Context) -> S3Reply:
    if ctx.query.get("list-type") == "2":
        return await list_objects_v2(ctx)
    q = ctx.query
    prefix, delimiter, marker = q.get("prefix", ""), q.get("delimiter", ""), q.get("marker", "")
    max_keys, encoding = _max_keys(q), _encoding(q)
    enc = _encoder(encoding)
    restore = _wants_restore_status(ctx.headers)
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
        page = list_page(session, ctx.bucket, prefix, delimiter, marker, max_keys)
        contents = _contents(session, page, True, enc, restore)
    data: dict[str, Any] = {
        # v1 never URL-encodes Prefix (botocore decodes only Delimiter, Marker and NextMarker)
        "Name": ctx.bucket, "Prefix": prefix, "Marker": enc(marker), "MaxKeys": max_keys,
        "IsTruncated": page.truncated, "Contents": contents or None,
        "CommonPrefixes": [{"Prefix": enc(p)} for p in page.prefixes] or None,
        "Delimiter": enc(delimiter) if delimiter else None, "EncodingType": encoding}
    if page.truncated and delimiter and page.last is not None:
        data["NextMarker"] = enc(page.last)
    return xml_reply("ListObjects", data)


async def list_objects_v2(ctx: S3Context) -> S3Reply:
    q = ctx.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    max_keys, encoding = _max_keys(q), _encoding(q)
    enc = _encoder(encoding)
    token = q.get("continuation-token")
    start_after = q.get("start-after", "")
    after = decode_token(token) if token else start_after  # an empty token: from the start
    restore = _wants_restore_status(ctx.headers)
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
        page = list_page(session, ctx.bucket, prefix, delimiter, after, max_keys)
        contents = _contents(session, page, q.get("fetch-owner", "").lower() == "true", enc,
                             restore)
    data: dict[str, Any] = {
        "Name": ctx.bucket, "Prefix": enc(prefix), "MaxKeys": max_keys,
        "KeyCount": len(page.contents) + len(page.prefixes), "IsTruncated": page.truncated,
        "Contents": contents or None,
        "CommonPrefixes": [{"Prefix": enc(p)} for p in page.prefixes] or None,
        "Delimiter": enc(delimiter) if delimiter else None, "EncodingType": encoding,
        "ContinuationToken": token, "StartAfter": enc(start_after) if start_after else None}
    if page.truncated and page.last is not None:
        data["NextContinuationToken"] = encode_token(page.last)
    return xml_reply("ListObjectsV2", data)


# --- ListObjectVersions ---------------------------------------------------------------------

_VERSION_COLUMNS = (*_COLUMNS, S3Object.id, S3Object.version_id, S3Object.is_latest,
                    S3Object.delete_marker)


@dataclass(frozen=True)
class _VersionCursor:
    bound: str | None
    inclusive: bool
    below_id: int | None = None  # within ``bound``'s versions: those older than this row id


def _version_query(session: Session, bucket: str, prefix: str, cursor: _VersionCursor,
                   limit: int) -> list[Row[Any]]:
    where: list[Any] = [S3Object.bucket == bucket]
    if cursor.bound is not None and cursor.below_id is not None:
        where.append(or_(and_(S3Object.key == cursor.bound, S3Object.id < cursor.below_id),
                         S3Object.key > cursor.bound))
    elif cursor.bound is not None:
        where.append(S3Object.key >= cursor.bound if cursor.inclusive
                     else S3Object.key > cursor.bound)
    end = successor(prefix) if prefix else None
    if end is not None:
        where.append(S3Object.key < end)
    statement = (select(*_VERSION_COLUMNS).where(*where)
                 .order_by(S3Object.key, S3Object.id.desc()).limit(limit))
    return list(session.execute(statement))


def _version_start(session: Session, bucket: str, prefix: str, delimiter: str, key_marker: str,
                   version_marker: str | None) -> _VersionCursor:
    if version_marker is None:
        plain = _start(prefix, delimiter, key_marker)
        return _VersionCursor(plain.bound, plain.inclusive)
    if not key_marker:
        raise errors.InvalidArgument("A version-id marker cannot be specified without a key "
                                     "marker.", ArgumentName="version-id-marker",
                                     ArgumentValue=version_marker)
    row_id = session.scalar(select(S3Object.id).where(
        S3Object.bucket == bucket, S3Object.key == key_marker,
        S3Object.version_id == version_marker))
    if row_id is None and not is_version_id(version_marker):
        raise errors.InvalidArgument("Invalid version id specified",
                                     ArgumentName="version-id-marker",
                                     ArgumentValue=version_marker)
    if row_id is None:
        # The marker version is gone (a client deleting page by page, as AWS allows): its place
        # among the key's versions is unknown, so resume after the key.
        plain = _start(prefix, delimiter, key_marker)
        return _VersionCursor(plain.bound, plain.inclusive)
    return _VersionCursor(key_marker, False, row_id)


def list_versions_page(session: Session, bucket: str, prefix: str, delimiter: str,
                       key_marker: str, version_marker: str | None, max_keys: int) -> Page:
    """Like :func:`list_page` over every version (newest first within a key)."""
    cursor = _version_start(session, bucket, prefix, delimiter, key_marker, version_marker)
    if max_keys == 0 or (prefix and cursor.bound is None):
        return Page()
    return _fill(cursor, lambda c, n: _version_query(session, bucket, prefix, c, n),
                 lambda row: _VersionCursor(row.key, False, row.id),
                 lambda jumped: _VersionCursor(jumped.bound, True), prefix, delimiter, max_keys)


def _version_entries(session: Session, page: Page, enc: Any, restore: bool = False,
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    owners: dict[str, dict[str, str]] = {}
    now = utcnow()
    versions: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    for row in page.contents:
        if row.owner_account_id not in owners:
            owners[row.owner_account_id] = owner_of(session, row.owner_account_id)
        item: dict[str, Any] = {"Key": enc(row.key), "VersionId": row.version_id,
                                "IsLatest": row.is_latest, "LastModified": row.last_modified,
                                "Owner": owners[row.owner_account_id]}
        if row.delete_marker:
            markers.append(item)
            continue
        item |= {"ETag": row.etag, "Size": row.size,
                 "StorageClass": row.storage_class or STANDARD}
        if row.checksum_algorithm:
            item["ChecksumAlgorithm"] = [row.checksum_algorithm]
            item["ChecksumType"] = checksum_type(row.checksum_value or "")
        if restore and (status := _restore_status(row, now)) is not None:
            item["RestoreStatus"] = status
        versions.append(item)
    return versions, markers


@route("GET", "bucket", "versions")
async def list_object_versions(ctx: S3Context) -> S3Reply:
    q = ctx.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker, version_marker = q.get("key-marker", ""), q.get("version-id-marker") or None
    max_keys, encoding = _max_keys(q), _encoding(q)
    enc = _encoder(encoding)
    restore = _wants_restore_status(ctx.headers)
    with ctx.sessions() as session:
        owned_bucket(session, ctx.bucket, ctx.principal)
        page = list_versions_page(session, ctx.bucket, prefix, delimiter, key_marker,
                                  version_marker, max_keys)
        versions, markers = _version_entries(session, page, enc, restore)
    data: dict[str, Any] = {
        "Name": ctx.bucket, "Prefix": enc(prefix), "KeyMarker": enc(key_marker),
        "VersionIdMarker": version_marker or "", "MaxKeys": max_keys,
        "IsTruncated": page.truncated, "Versions": versions or None,
        "DeleteMarkers": markers or None,
        "CommonPrefixes": [{"Prefix": enc(p)} for p in page.prefixes] or None,
        "Delimiter": enc(delimiter) if delimiter else None, "EncodingType": encoding}
    if page.truncated and page.last is not None:
        data["NextKeyMarker"] = enc(page.last)
        last = page.contents[-1] if page.contents else None
        if last is not None and last.key == page.last:
            data["NextVersionIdMarker"] = last.version_id
    return xml_reply("ListObjectVersions", data)
