"""Bucket CORS: checking a configuration, and answering preflight and actual requests (pure).

A configuration is the dict botocore's ``CORSConfiguration`` shape parses into
(``{"CORSRules": [{"AllowedOrigins": [...], "AllowedMethods": [...], ...}]}``). Rules are tried
in order and the first that matches wins, as S3 does: its origin (``*`` at most once, as a
wildcard), its method, and for a preflight every requested header (case-insensitive, ``*``
wildcards) must match.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from controller.s3 import errors

METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
MAX_RULES = 100
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
Rule = Mapping[str, Any]
Headers = list[tuple[str, str]]


def check_configuration(config: Mapping[str, Any]) -> None:
    """The errors AWS answers to PutBucketCors for a parsed but unacceptable configuration."""
    rules: Sequence[Rule] = config.get("CORSRules") or []
    if not rules or len(rules) > MAX_RULES:
        raise errors.MalformedXML()
    for rule in rules:
        for method in rule.get("AllowedMethods") or []:
            if method not in METHODS:
                raise errors.InvalidRequest("Found unsupported HTTP method in CORS config. "
                                            f"Unsupported method is {method}")
        for member, element in (("AllowedOrigins", "AllowedOrigin"),
                                ("AllowedHeaders", "AllowedHeader")):
            for value in rule.get(member) or []:
                if value.count("*") > 1:
                    raise errors.InvalidRequest(
                        f'{element} "{value}" can not have more than one wildcard.')
        for value in rule.get("ExposeHeaders") or []:
            if "*" in value:
                raise errors.InvalidRequest(
                    f'ExposeHeader "{value}" contains wildcard. We currently do not support '
                    "wildcard for ExposeHeader.")


@functools.lru_cache(maxsize=1024)
def _pattern(wildcard: str, ignore_case: bool) -> re.Pattern[str]:
    body = ".*".join(re.escape(part) for part in wildcard.split("*"))
    return re.compile(body, (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)


def matches(wildcard: str, value: str, *, ignore_case: bool = False) -> bool:
    """``value`` against a pattern whose ``*`` stands for any run of characters."""
    return _pattern(wildcard, ignore_case).fullmatch(value) is not None


def requested_headers(header: str | None) -> list[str]:
    """``Access-Control-Request-Headers`` as lower-case names."""
    return [name.strip().lower() for name in (header or "").split(",") if name.strip()]


def find_rule(config: Mapping[str, Any], origin: str, method: str,
              headers: Sequence[str] = ()) -> Rule | None:
    """The first rule allowing ``origin``, ``method`` and every one of ``headers``."""
    rules: Sequence[Rule] = config.get("CORSRules") or []
    for rule in rules:
        if method not in (rule.get("AllowedMethods") or []):
            continue
        if not any(matches(o, origin) for o in rule.get("AllowedOrigins") or []):
            continue
        allowed = rule.get("AllowedHeaders") or []
        if all(any(matches(a, h, ignore_case=True) for a in allowed) for h in headers):
            return rule
    return None


def _allow_origin(rule: Rule, origin: str) -> Headers:
    if "*" in (rule.get("AllowedOrigins") or []):
        return [("Access-Control-Allow-Origin", "*")]
    return [("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true")]


def _common(rule: Rule, origin: str) -> Headers:
    headers = _allow_origin(rule, origin)
    headers.append(("Access-Control-Allow-Methods", ", ".join(rule["AllowedMethods"])))
    if rule.get("ExposeHeaders"):
        headers.append(("Access-Control-Expose-Headers", ", ".join(rule["ExposeHeaders"])))
    if rule.get("MaxAgeSeconds") is not None:
        headers.append(("Access-Control-Max-Age", str(rule["MaxAgeSeconds"])))
    headers.append(("Vary", VARY))
    return headers


def preflight(config: Mapping[str, Any] | None, origin: str, method: str,
              request_headers: str | None, resource_type: str = "OBJECT") -> Headers:
    """The headers answering an OPTIONS preflight; AccessForbidden when no rule allows it."""
    names = requested_headers(request_headers)
    rule = find_rule(config, origin, method, names) if config else None
    if rule is None:
        raise errors.AccessForbidden(Method=method, ResourceType=resource_type)
    headers = _common(rule, origin)
    if names:
        headers.append(("Access-Control-Allow-Headers", ", ".join(names)))
    return headers


def actual(config: Mapping[str, Any] | None, origin: str, method: str) -> Headers:
    """The headers S3 adds to a cross-origin request's response (none when no rule matches)."""
    rule = find_rule(config, origin, method) if config else None
    return _common(rule, origin) if rule is not None else []
