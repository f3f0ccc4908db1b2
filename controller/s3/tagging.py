"""Tag sets of buckets and objects: AWS's validation rules, the ``x-amz-tagging`` header, and the
stored form (a JSON object ``{"key": "value"}``, NULL for no tags). Pure: no database, no HTTP."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from controller.s3 import errors

MAX_KEY = 128
MAX_VALUE = 256
MAX_BUCKET_TAGS = 50
MAX_OBJECT_TAGS = 10
_PUNCTUATION = frozenset("_.:/=+-@")
_BAD_HEADER = ("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
               "parameters without tag name duplicates.")
DIRECTIVES = ("COPY", "REPLACE")


def _allowed(text: str) -> bool:
    """Letters, numbers and white space of any script, and ``_ . : / = + - @``."""
    return all(ch in _PUNCTUATION or unicodedata.category(ch)[0] in "LNZ" for ch in text)


def _check_tag(key: str, value: str) -> None:
    if not 1 <= len(key) <= MAX_KEY or not _allowed(key):
        raise errors.InvalidTag("The TagKey you have provided is invalid", TagKey=key)
    if len(value) > MAX_VALUE or not _allowed(value):
        raise errors.InvalidTag("The TagValue you have provided is invalid", TagKey=key,
                                TagValue=value)
    if key.startswith("aws:"):
        raise errors.InvalidTag("System tags cannot be added/updated by requester", TagKey=key)
    if key.lower().startswith("aws:"):
        raise errors.InvalidTag('Invalid Tag. Tags cannot start with "aws:"(case insensitive) '
                                'unless they are System Tags that start with "aws:"'
                                "(case sensitive)", TagKey=key)


def check_tags(pairs: Iterable[tuple[str, str]], *, bucket: bool) -> dict[str, str]:
    """The tag set as a dict, or the error AWS answers: each tag in order (key, value, reserved
    prefix, duplicates), then the count (50 for a bucket, 10 for an object)."""
    tags: dict[str, str] = {}
    for key, value in pairs:
        _check_tag(key, value)
        if key in tags:
            raise errors.InvalidTag("Cannot provide multiple Tags with the same key", TagKey=key)
        tags[key] = value
    if bucket and len(tags) > MAX_BUCKET_TAGS:
        raise errors.BadRequest("Bucket tag count cannot be greater than 50")
    if not bucket and len(tags) > MAX_OBJECT_TAGS:
        raise errors.BadRequest("Object tags cannot be greater than 10")
    return tags


def from_tagging(parsed: Mapping[str, Any], *, bucket: bool) -> dict[str, str]:
    """A parsed ``Tagging`` document (botocore member names) checked into a dict."""
    return check_tags(((str(t["Key"]), str(t["Value"])) for t in parsed.get("TagSet") or []),
                      bucket=bucket)


def _decode(part: bytes, header: str) -> str:
    try:
        return unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidArgument(_BAD_HEADER, ArgumentName="x-amz-tagging",
                                     ArgumentValue=header) from None


def parse_header(value: str) -> dict[str, str]:
    """``x-amz-tagging: k1=v1&k2`` (URL-encoded; a key without ``=`` has the empty value)."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for part in value.encode("utf-8", "surrogateescape").split(b"&"):
        if not part:
            continue
        raw_key, _, raw_value = part.partition(b"=")
        key, text = _decode(raw_key, value), _decode(raw_value, value)
        if not key or key in seen:
            raise errors.InvalidArgument(_BAD_HEADER, ArgumentName="x-amz-tagging",
                                         ArgumentValue=value)
        seen.add(key)
        pairs.append((key, text))
    return check_tags(pairs, bucket=False)


def header_tags(headers: Mapping[str, str]) -> str | None:
    """The stored form of a request's ``x-amz-tagging`` header (None when absent or empty)."""
    value = headers.get("x-amz-tagging")
    return dumps(parse_header(value)) if value is not None else None


def copied_tags(headers: Mapping[str, str], source_tags: str | None) -> str | None:
    """CopyObject's tags: the source's (``x-amz-tagging-directive: COPY``, the default) or the
    request's ``x-amz-tagging`` (``REPLACE``)."""
    directive = headers.get("x-amz-tagging-directive", "COPY").upper()
    if directive not in DIRECTIVES:
        raise errors.InvalidArgument("Unknown tagging directive.",
                                     ArgumentName="x-amz-tagging-directive",
                                     ArgumentValue=directive)
    return header_tags(headers) if directive == "REPLACE" else source_tags


def dumps(tags: Mapping[str, str]) -> str | None:
    return json.dumps(dict(tags), ensure_ascii=False) if tags else None


def loads(stored: str | None) -> dict[str, str]:
    return dict(json.loads(stored)) if stored else {}


def tag_set(stored: str | None) -> list[dict[str, str]]:
    """The ``TagSet`` output member, sorted by key."""
    return [{"Key": k, "Value": v} for k, v in sorted(loads(stored).items())]


def count(stored: str | None) -> int:
    return len(loads(stored))
