"""The policy document of a browser POST upload: decoding it and checking a form against it.

Pure logic. A policy is base64 JSON: ``{"expiration": ISO 8601, "conditions": [...]}`` with
conditions ``{"field": "value"}`` (exact), ``["eq", "$field", "value"]``,
``["starts-with", "$field", "prefix"]`` and ``["content-length-range", min, max]``. Field names
match case-insensitively; values are compared as the form sent them (``${filename}`` unexpanded).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.s3 import errors

# Form fields that no condition has to cover (AWS exempts these, and every x-ignore-* field).
EXEMPT = frozenset(("file", "policy", "signature", "awsaccesskeyid", "x-amz-signature"))
MAX_POLICY_BYTES = 20 * 1024


@dataclass(frozen=True)
class Condition:
    op: str  # "eq" or "starts-with"
    field: str  # lower-cased, without the "$"
    value: str
    spelled: str  # the field as the policy spelled it, for messages

    def holds(self, fields: Mapping[str, str], bucket: str) -> bool:
        actual = bucket if self.field == "bucket" else fields.get(self.field)
        if actual is None:
            return self.op == "starts-with" and self.value == ""
        if self.op == "eq":
            return actual == self.value
        if self.field == "content-type" and "," in actual:  # each type of a list must match
            return all(part.strip().startswith(self.value) for part in actual.split(","))
        return actual.startswith(self.value)

    def __str__(self) -> str:
        return json.dumps([self.op, f"${self.spelled}", self.value])


@dataclass(frozen=True)
class PostPolicy:
    expiration: datetime
    conditions: tuple[Condition, ...]
    length_range: tuple[int, int] | None = None

    def check_expiry(self, now: datetime) -> None:
        if now >= self.expiration:
            raise errors.AccessDenied("Invalid according to Policy: Policy expired.")

    def check_fields(self, names: Sequence[str], fields: Mapping[str, str], bucket: str) -> None:
        """AccessDenied unless every condition holds and every non-exempt field is covered.

        ``names`` are the form's field names as sent; ``fields`` maps lower-cased names."""
        for condition in self.conditions:
            if not condition.holds(fields, bucket):
                raise errors.AccessDenied(
                    f"Invalid according to Policy: Policy Condition failed: {condition}")
        covered = {c.field for c in self.conditions}
        for name in names:
            low = name.lower()
            if low in EXEMPT or low.startswith("x-ignore-") or low in covered:
                continue
            raise errors.AccessDenied(f"Invalid according to Policy: Extra input fields: {name}")

    def check_length(self, size: int) -> None:
        if self.length_range is None:
            return
        low, high = self.length_range
        if size < low:
            raise errors.EntityTooSmall(ProposedSize=str(size), MinSizeAllowed=str(low))
        if size > high:
            raise errors.EntityTooLarge(ProposedSize=str(size), MaxSizeAllowed=str(high))


def _invalid(message: str) -> errors.S3Error:
    return errors.InvalidPolicyDocument(f"Invalid Policy: {message}")


def decode_policy(encoded: str) -> PostPolicy:
    """The policy of a form's ``policy`` field; InvalidPolicyDocument when it is malformed."""
    if len(encoded) > MAX_POLICY_BYTES * 2:
        raise _invalid("Policy document too large.")
    try:
        raw = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("Invalid Base64 encoding.") from None
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise _invalid("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise _invalid("Invalid JSON.")
    if "expiration" not in document:
        raise _invalid("Policy missing expiration.")
    if "conditions" not in document:
        raise _invalid("Policy missing conditions.")
    expiration = _expiration(document["expiration"])
    raw_conditions = document["conditions"]
    if not isinstance(raw_conditions, list):
        raise _invalid("Invalid 'conditions' value: must be a list.")
    conditions: list[Condition] = []
    length_range: tuple[int, int] | None = None
    for item in raw_conditions:
        if isinstance(item, list) and item and str(item[0]).lower() == "content-length-range":
            length_range = _length_range(item)
        else:
            conditions.append(_condition(item))
    return PostPolicy(expiration, tuple(conditions), length_range)


def _expiration(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _invalid("Invalid 'expiration' value: must be a string.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(f"Invalid 'expiration' value: '{value[:64]}'") from None
    if "T" not in value:
        raise _invalid(f"Invalid 'expiration' value: '{value[:64]}'")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _condition(item: Any) -> Condition:
    if isinstance(item, dict):
        if len(item) != 1:
            raise _invalid("Invalid Simple-Condition: Simple-Conditions must have exactly one "
                           "property specified.")
        ((name, value),) = item.items()
        if not isinstance(value, str):
            raise _invalid(f"Invalid Simple-Condition: value of {name} must be a string.")
        return Condition("eq", str(name).lower(), value, str(name))
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise _invalid("Invalid Condition: must be an object or an array.")
    op = item[0].lower()
    if op not in ("eq", "starts-with"):
        raise _invalid(f"Invalid Condition: unknown operation '{item[0][:32]}'.")
    if len(item) != 3:
        raise _invalid(f"Invalid '{op}' condition: wrong number of arguments.")
    name, value = item[1], item[2]
    if not isinstance(name, str) or not name.startswith("$") or not isinstance(value, str):
        raise _invalid(f"Invalid '{op}' condition: the field must be a string starting "
                       "with '$' and the value a string.")
    return Condition(op, name[1:].lower(), value, name[1:])


def _length_range(item: list[Any]) -> tuple[int, int]:
    if len(item) != 3:
        raise _invalid("Invalid content-length-range condition: wrong number of arguments.")
    bounds: list[int] = []
    for value in item[1:]:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _invalid("Invalid content-length-range condition: bounds must be integers.")
        try:
            bound = int(value)
        except ValueError:
            raise _invalid("Invalid content-length-range condition: bounds must be "
                           "integers.") from None
        if bound < 0:
            raise _invalid("Invalid content-length-range condition: bounds must not be "
                           "negative.")
        bounds.append(bound)
    return bounds[0], bounds[1]
