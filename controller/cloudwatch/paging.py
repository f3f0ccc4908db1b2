"""Opaque NextToken values: base64 of a small JSON object; anything else is InvalidNextToken."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from controller.cloudwatch.errors import InvalidNextToken


def decode(value: str | None, key: str, kind: type) -> Any:
    """The ``key`` member of token ``value`` (None when there is no token)."""
    if value is None:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(value.encode("ascii")))[key]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
        raise InvalidNextToken() from None
    if not isinstance(found, kind) or isinstance(found, bool):
        raise InvalidNextToken()
    return found


def encode(key: str, value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({key: value}).encode()).decode("ascii")
