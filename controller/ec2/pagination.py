"""``MaxResults``/``NextToken`` pagination with AWS's bounds, by keyset on a stable sort key."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import TypeVar

from controller.ec2.errors import InvalidPaginationToken, InvalidParameterValue

T = TypeVar("T")


def encode_token(last_key: str) -> str:
    raw = json.dumps({"after": last_key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = data["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidPaginationToken(f"Invalid pagination token: {token[:64]}") from None
    if not isinstance(after, str):
        raise InvalidPaginationToken(f"Invalid pagination token: {token[:64]}")
    return after


def check_max_results(value: int | None, low: int = 5, high: int = 1000) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidParameterValue(
            f"Value ( {value} ) for parameter maxResults is invalid. "
            f"Expecting a value between {low} and {high}."
        )


def paginate(
    items: Sequence[T],
    key: Callable[[T], str],
    max_results: int | None,
    next_token: str | None,
    low: int = 5,
    high: int = 1000,
) -> tuple[list[T], str | None]:
    """One page of ``items`` (sorted here by ``key``) and the token for the next, if any."""
    check_max_results(max_results, low, high)
    ordered = sorted(items, key=key)
    if next_token:
        after = decode_token(next_token)
        ordered = [item for item in ordered if key(item) > after]
    if max_results is None or len(ordered) <= max_results:
        return list(ordered), None
    page = list(ordered[:max_results])
    return page, encode_token(key(page[-1]))
