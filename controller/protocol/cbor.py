"""CBOR bodies for ``smithy-rpc-v2-cbor``: the one wrapper around the ``cbor2`` library.

Timestamps travel as tag 1 (epoch seconds, integer or float), which ``cbor2`` turns into aware
``datetime`` objects on the way in; on the way out :func:`timestamp` builds the tag.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import cbor2

__all__ = ["CborError", "decode", "encode", "timestamp"]

MAX_DEPTH = 64


class CborError(ValueError):
    """The body is not well-formed CBOR (or nests too deep)."""


def decode(data: bytes) -> Any:
    """The data item in ``data``; an empty body is an empty map (no input members)."""
    if not data:
        return {}
    try:
        value = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise CborError(f"malformed CBOR: {exc}") from None
    _check_depth(value, 0)
    return value


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CborError("CBOR nests too deep")
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)


def encode(value: Any) -> bytes:
    """``value`` (dicts, lists, str, bytes, numbers, bools, tags from :func:`timestamp`)."""
    return cbor2.dumps(value)


def timestamp(moment: datetime) -> cbor2.CBORTag:
    """Tag 1 with epoch seconds (a float when there are fractions of a second)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = moment.timestamp()
    return cbor2.CBORTag(1, int(seconds) if seconds.is_integer() else seconds)
