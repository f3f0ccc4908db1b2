"""Object headers: what PUT stores, what GET answers, conditions and ranges (pure)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from controller.s3 import errors

STORED = ("content-type", "content-encoding", "content-disposition", "content-language",
          "cache-control", "expires", "x-amz-website-redirect-location")
OVERRIDES = {"response-content-type": "Content-Type",
             "response-content-language": "Content-Language",
             "response-expires": "Expires", "response-cache-control": "Cache-Control",
             "response-content-disposition": "Content-Disposition",
             "response-content-encoding": "Content-Encoding"}
CHECKSUMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
DEFAULT_TYPE = "binary/octet-stream"


def stored_headers(headers: Mapping[str, str]) -> str:
    kept = {name: headers[name] for name in STORED if name in headers}
    kept.setdefault("content-type", DEFAULT_TYPE)
    if "content-encoding" in kept:  # aws-chunked is a transfer detail, not the object's encoding
        codings = [c.strip() for c in kept["content-encoding"].split(",")]
        others = [c for c in codings if c and c.lower() != "aws-chunked"]
        if not others:
            del kept["content-encoding"]
        elif len(others) != len(codings):  # otherwise stored as sent, like any other header
            kept["content-encoding"] = ", ".join(others)
    return json.dumps(kept)


def user_metadata(headers: Mapping[str, str]) -> str:
    meta = {name[len("x-amz-meta-"):]: value for name, value in headers.items()
            if name.startswith("x-amz-meta-")}
    if sum(len(k) + len(v) for k, v in meta.items()) > 2048:
        raise errors.MetadataTooLarge()
    return json.dumps(meta)


def mail_safe(value: str) -> str:
    """A stored metadata value as S3 returns it: as is when it is US-ASCII, else RFC 2047
    encoded (``=?UTF-8?B?...?=``) from the bytes the client sent (header values are held one
    character per byte)."""
    if value.isascii():
        return value
    raw = value.encode("latin-1", "replace")
    try:
        raw.decode("utf-8")
        charset = "UTF-8"
    except UnicodeDecodeError:
        charset = "ISO-8859-1"
    return f"=?{charset}?B?{base64.b64encode(raw).decode('ascii')}?="


def content_md5(headers: Mapping[str, str]) -> str | None:
    """The hex MD5 the client declared, or None; InvalidDigest when it is not 16 base64 bytes."""
    value = headers.get("content-md5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidDigest() from None
    if len(digest) != 16:
        raise errors.InvalidDigest()
    return digest.hex()


_CHECKSUM_HEADERS = tuple((algorithm, f"x-amz-checksum-{algorithm.lower()}")
                          for algorithm in CHECKSUMS)


_DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}


def declared_checksum(headers: Mapping[str, str], *, parts_suffix: bool = False
                      ) -> tuple[str, str] | None:
    """(algorithm, base64 value) of an ``x-amz-checksum-*`` header the client sent; a value
    that is not the base64 of a digest of that algorithm's size (with ``parts_suffix``, maybe
    followed by ``-N``) is InvalidRequest, as in S3, not a mismatch."""
    for algorithm, name in _CHECKSUM_HEADERS:
        value = headers.get(name)
        if value is not None:
            digest = value.rpartition("-")[0] if parts_suffix and "-" in value else value
            try:
                size = len(base64.b64decode(digest, validate=True))
            except (binascii.Error, ValueError):
                size = -1
            if size != _DIGEST_SIZES.get(algorithm, size):
                raise errors.InvalidRequest(f"Value for {name} header is invalid.")
            return algorithm, value
    wanted = headers.get("x-amz-sdk-checksum-algorithm", "").upper()
    if wanted and wanted not in CHECKSUMS:
        raise errors.InvalidRequest("Value for x-amz-sdk-checksum-algorithm header is invalid.")
    return None


def checksum_type(value: str) -> str:
    """COMPOSITE for a multipart checksum of part checksums (``…-N``), else FULL_OBJECT."""
    head, _, count = value.rpartition("-")
    return "COMPOSITE" if head and count.isdigit() else "FULL_OBJECT"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``); a naive time is UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return (f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
            f"{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT")


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _etag_matches(header: str, etag: str) -> bool:
    wanted = [part.strip() for part in header.split(",")]
    return "*" in wanted or etag in wanted or etag.strip('"') in [w.strip('"') for w in wanted]


def check_write_conditions(headers: Mapping[str, str], current_etag: str | None) -> None:
    """Conditional writes (PutObject, CompleteMultipartUpload): ``If-None-Match: *`` fails
    with 412 when the key exists; ``If-Match`` fails with 404 NoSuchKey when it does not and
    with 412 when the ETag differs. ``current_etag`` is None when the key has no object."""
    if_none = headers.get("if-none-match")
    if if_none is not None:
        if if_none.strip() != "*":
            raise errors.NotImplementedError_("If-None-Match only supports the value '*'.")
        if current_etag is not None:
            raise errors.PreconditionFailed(Condition="If-None-Match")
    if_match = headers.get("if-match")
    if if_match is not None:
        if current_etag is None:
            raise errors.NoSuchKey()
        if not _etag_matches(if_match, current_etag):
            raise errors.PreconditionFailed(Condition="If-Match")


_CONDITIONS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")


def check_conditions(headers: Mapping[str, str], etag: str, modified: datetime) -> None:
    """RFC 7232 as S3 applies it: PreconditionFailed (412) or NotModified (304)."""
    if not any(name in headers for name in _CONDITIONS):
        return  # the usual request: no time to normalize
    modified = modified if modified.tzinfo else modified.replace(tzinfo=UTC)
    modified = modified.replace(microsecond=0)
    if_match = headers.get("if-match")
    if if_match is not None and not _etag_matches(if_match, etag):
        raise errors.PreconditionFailed(Condition="If-Match")
    since = _parse_date(headers.get("if-unmodified-since"))
    if if_match is None and since is not None and modified > since:
        raise errors.PreconditionFailed(Condition="If-Unmodified-Since")
    if_none = headers.get("if-none-match")
    changed = _parse_date(headers.get("if-modified-since"))
    if ((if_none is not None and _etag_matches(if_none, etag))
            or (if_none is None and changed is not None and modified <= changed)):
        not_modified = errors.NotModified()
        not_modified.headers = {"ETag": etag, "Last-Modified": http_date(modified)}
        raise not_modified


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a GET asks for; None for the whole object (also for forms
    S3 ignores: several ranges, garbage); InvalidRange when nothing of it exists."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[6:].strip().partition("-")
    if not sep or not (first.isdigit() or last.isdigit()):
        return None
    if not first:  # suffix: the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
        return max(0, size - count), size - 1
    if last and not last.isdigit():
        return None
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size:
        raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
    if end < start:
        return None
    return start, min(end, size - 1)
