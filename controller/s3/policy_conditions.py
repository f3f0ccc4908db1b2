"""IAM policy ``Condition`` blocks, pure: operators, ``...IfExists``, ``ForAnyValue:`` /
``ForAllValues:``, matched against the request's context keys.

Context keys are case-insensitive except the part after the first ``/`` (``s3:ExistingObjectTag/
<key>``); :func:`normalize_key` gives the form both sides are looked up by.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

Context = Mapping[str, Sequence[str]]
"""Normalized context key → its values (absent key: not in the request)."""

_Match = Callable[[str, str], bool]


def normalize_key(key: str) -> str:
    head, sep, tail = key.partition("/")
    return head.lower() + sep + tail


def like(value: str, pattern: str) -> bool:
    """IAM wildcards: ``*`` any run, ``?`` one character; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(compare: Callable[[float, float], bool]) -> _Match:
    def match(request: str, policy: str) -> bool:
        a, b = _number(request), _number(policy)
        return a is not None and b is not None and compare(a, b)
    return match


def parse_date(text: str) -> datetime | None:
    """ISO 8601 (``2026-01-01``, ``2026-01-01T00:00:00Z``) or epoch seconds."""
    text = text.strip()
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", text) and len(text) != 8:
            return datetime.fromtimestamp(float(text), UTC)
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _dated(compare: Callable[[datetime, datetime], bool]) -> _Match:
    def match(request: str, policy: str) -> bool:
        a, b = parse_date(request), parse_date(policy)
        return a is not None and b is not None and compare(a, b)
    return match


def _ip(request: str, policy: str) -> bool:
    try:
        address = ipaddress.ip_address(request.strip())
        network = ipaddress.ip_network(policy.strip(), strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


def _arn_like(request: str, policy: str) -> bool:
    r_parts, p_parts = request.split(":", 5), policy.split(":", 5)
    if len(r_parts) != 6 or len(p_parts) != 6:
        return False
    return all(like(r, p) for r, p in zip(r_parts, p_parts, strict=True))


_BASE: dict[str, _Match] = {
    "stringequals": lambda r, p: r == p,
    "stringequalsignorecase": lambda r, p: r.lower() == p.lower(),
    "stringlike": like,
    "numericequals": _numeric(lambda a, b: a == b),
    "numericlessthan": _numeric(lambda a, b: a < b),
    "numericlessthanequals": _numeric(lambda a, b: a <= b),
    "numericgreaterthan": _numeric(lambda a, b: a > b),
    "numericgreaterthanequals": _numeric(lambda a, b: a >= b),
    "dateequals": _dated(lambda a, b: a == b),
    "datelessthan": _dated(lambda a, b: a < b),
    "datelessthanequals": _dated(lambda a, b: a <= b),
    "dategreaterthan": _dated(lambda a, b: a > b),
    "dategreaterthanequals": _dated(lambda a, b: a >= b),
    "bool": lambda r, p: r.lower() == p.lower(),
    "binaryequals": lambda r, p: r == p,
    "ipaddress": _ip,
    "arnequals": _arn_like,
    "arnlike": _arn_like,
}
_NEGATED = {
    "stringnotequals": "stringequals", "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike", "numericnotequals": "numericequals",
    "datenotequals": "dateequals", "notipaddress": "ipaddress", "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}


def split_operator(name: str) -> tuple[str, str, bool, bool] | None:
    """(set prefix, base operator, negated, if-exists) of an operator name; None if unknown."""
    lowered = name.lower()
    prefix = ""
    for candidate in ("foranyvalue:", "forallvalues:"):
        if lowered.startswith(candidate):
            prefix, lowered = candidate[:-1], lowered[len(candidate):]
    if_exists = lowered.endswith("ifexists") and lowered != "ifexists"
    if if_exists:
        lowered = lowered[: -len("ifexists")]
    if lowered == "null":
        return None if if_exists or prefix else ("", "null", False, False)
    if lowered in _NEGATED:
        return prefix, _NEGATED[lowered], True, if_exists
    if lowered in _BASE:
        return prefix, lowered, False, if_exists
    return None


def holds(operator: str, key: str, wanted: Sequence[str], context: Context) -> bool:
    """Whether one ``operator: {key: wanted}`` condition holds for the request."""
    parts = split_operator(operator)
    if parts is None:
        return False
    prefix, base, negated, if_exists = parts
    present = context.get(normalize_key(key))
    if base == "null":
        return any((p.lower() == "true") == (present is None) for p in wanted)
    match = _BASE[base]
    if prefix == "forallvalues":
        if not present:
            return True
        return all(_one(match, v, wanted, negated) for v in present)
    if prefix == "foranyvalue":
        return any(_one(match, v, wanted, negated) for v in present or ())
    if present is None:
        return if_exists or negated
    values = present
    if negated:
        return all(_one(match, v, wanted, negated) for v in values)
    return any(_one(match, v, wanted, negated) for v in values)


def _one(match: _Match, value: str, wanted: Sequence[str], negated: bool) -> bool:
    hit = any(match(value, w) for w in wanted)
    return not hit if negated else hit


def all_hold(conditions: Mapping[str, Mapping[str, Sequence[str]]], context: Context) -> bool:
    """Every operator's every key must hold (AND); values within a key are ORed."""
    return all(holds(operator, key, values, context)
               for operator, block in conditions.items() for key, values in block.items())
