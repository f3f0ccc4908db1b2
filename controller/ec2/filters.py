"""The shared ``Filter.N`` engine: every Describe* action filters through here.

Semantics as in EC2: filters are ANDed, the values of one filter are ORed; values may hold the
wildcards ``*`` and ``?`` (``\\`` escapes them); ``tag:KEY``, ``tag-key`` and ``tag-value`` work
on every taggable resource. Unknown filter names are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from controller.ec2.errors import InvalidParameterValue

T = TypeVar("T")
Extractor = Callable[[T], object]
TagsOf = Callable[[T], Mapping[str, str]]


@lru_cache(maxsize=4096)
def _pattern(value: str) -> re.Pattern[str]:
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "\\")
            out.append(re.escape(nxt))
        elif ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _as_strings(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (str, int, float)):
        return [str(value)]
    if isinstance(value, Iterable):
        return [s for item in value for s in _as_strings(item)]
    return [str(value)]


def matches(candidates: Sequence[str], patterns: Sequence[str]) -> bool:
    """True when any candidate string matches any (wildcard) pattern."""
    return any(_pattern(p).fullmatch(c) is not None for p in patterns for c in candidates)


def _normalise(filters: Sequence[Mapping[str, Any]] | None) -> list[tuple[str, list[str]]]:
    result: list[tuple[str, list[str]]] = []
    for item in filters or ():
        name = item.get("Name")
        if not name:
            raise InvalidParameterValue("The filter 'null' is invalid")
        result.append((str(name), [str(v) for v in item.get("Values") or ()]))
    return result


def apply_filters(
    items: Iterable[T],
    filters: Sequence[Mapping[str, Any]] | None,
    spec: Mapping[str, Extractor[T]],
    tags_of: TagsOf[T] | None = None,
) -> list[T]:
    """Keep the items that satisfy every filter; raise for filter names ``spec`` does not know."""
    wanted = _normalise(filters)
    checks: list[Callable[[T], bool]] = [_check(name, values, spec, tags_of) for name, values in wanted]
    return [item for item in items if all(check(item) for check in checks)]


def _check(
    name: str, values: list[str], spec: Mapping[str, Extractor[T]], tags_of: TagsOf[T] | None
) -> Callable[[T], bool]:
    if tags_of is not None:
        if name.startswith("tag:"):
            key = name[4:]
            return lambda item: key in tags_of(item) and matches([tags_of(item)[key]], values)
        if name == "tag-key":
            return lambda item: matches(list(tags_of(item)), values)
        if name == "tag-value":
            return lambda item: matches(list(tags_of(item).values()), values)
    extractor = spec.get(name)
    if extractor is None:
        raise InvalidParameterValue(f"The filter '{name}' is invalid")
    return lambda item: matches(_as_strings(extractor(item)), values)
