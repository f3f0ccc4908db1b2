"""Validating a lifecycle configuration as S3 does, and its stored JSON form (pure).

The input is what :func:`~controller.protocol.s3_xml.parse_s3_input_xml` reads with the
``BucketLifecycleConfiguration`` shape. That shape's rule also carries the deprecated
``Prefix``, so the legacy format (PutBucketLifecycle, boto 2: ``<Prefix>`` directly in
``<Rule>``) parses with it too; a configuration keeps the format it was put in, and GET answers
in that format, as S3 does.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from controller.s3 import errors, storage_classes

MAX_RULES = 1000
MAX_ID = 255
MAX_NEWER_NONCURRENT = 100
FILTER_PREDICATES = ("Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan")
ACTIONS = ("Expiration", "Transitions", "NoncurrentVersionTransitions",
           "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload")


def validate(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration to store (rules without an ID get one), or the S3 error S3 gives."""
    rules = [dict(rule) for rule in config.get("Rules") or []]
    if not rules or len(rules) > MAX_RULES:
        raise errors.MalformedXML()
    if len({"Filter" in rule for rule in rules}) > 1:
        raise errors.MalformedXML()  # legacy (Prefix) and current (Filter) rules do not mix
    seen: set[str] = set()
    for rule in rules:
        rule.setdefault("ID", secrets.token_urlsafe(36))
        rule_id = str(rule["ID"])
        if len(rule_id) > MAX_ID:
            raise errors.InvalidArgument("ID length should not exceed allowed limit of 255",
                                         ArgumentName="ID", ArgumentValue=rule_id)
        if rule_id in seen:
            raise errors.InvalidArgument(
                "Rule ID must be unique. Found same ID for more than one rule",
                ArgumentName="ID", ArgumentValue=rule_id)
        seen.add(rule_id)
        _check_rule(rule)
    return {"Rules": rules}


def _check_rule(rule: Mapping[str, Any]) -> None:
    if rule.get("Status") not in ("Enabled", "Disabled"):
        raise errors.MalformedXML()
    if ("Filter" in rule) == ("Prefix" in rule):
        raise errors.MalformedXML()  # exactly one of them says which objects the rule covers
    tags = _check_filter(rule["Filter"]) if "Filter" in rule else False
    if not any(action in rule for action in ACTIONS):
        raise errors.InvalidRequest("At least one action needs to be specified in a rule")
    if "Expiration" in rule:
        _check_expiration(rule["Expiration"], tags)
    if "NoncurrentVersionExpiration" in rule:
        _check_noncurrent(rule["NoncurrentVersionExpiration"])
    if "AbortIncompleteMultipartUpload" in rule:
        if tags:
            raise errors.InvalidRequest("AbortIncompleteMultipartUpload cannot be specified "
                                        "with Tags.")
        days = rule["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation")
        _positive(days, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action "
                        "must be a positive integer")
    for transition in rule.get("Transitions") or []:
        _check_transition(transition, "Days")
    for transition in rule.get("NoncurrentVersionTransitions") or []:
        _check_transition(transition, "NoncurrentDays")


def _check_filter(found: Mapping[str, Any]) -> bool:
    """Checks a ``Filter``; whether it selects by tags."""
    present = [name for name in FILTER_PREDICATES if name in found]
    if len(present) > 1:
        raise errors.MalformedXML()
    if "And" in found:
        both = found["And"]
        tags = list(both.get("Tags") or [])
        _check_sizes(both)
        keys = [tag["Key"] for tag in tags]
        if len(keys) != len(set(keys)):
            raise errors.InvalidRequest("Duplicate Tag Keys are not allowed.")
        return bool(tags)
    _check_sizes(found)
    return "Tag" in found


def _check_sizes(found: Mapping[str, Any]) -> None:
    low, high = found.get("ObjectSizeGreaterThan"), found.get("ObjectSizeLessThan")
    if (low is not None and low < 0) or (high is not None and high <= 0):
        raise errors.InvalidRequest("Object size must be a non-negative integer.")
    if low is not None and high is not None and low >= high:
        raise errors.InvalidRequest(
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan.")


def _check_expiration(expiration: Mapping[str, Any], tags: bool) -> None:
    chosen = [name for name in ("Days", "Date", "ExpiredObjectDeleteMarker")
              if expiration.get(name) is not None]
    if len(chosen) != 1:
        raise errors.MalformedXML()  # exactly one of them (a delete marker option included)
    if "Days" in chosen:
        _positive(expiration["Days"], "'Days' for Expiration action must be a positive integer")
    if "Date" in chosen:
        _midnight(expiration["Date"])
    if "ExpiredObjectDeleteMarker" in chosen and tags:
        raise errors.InvalidRequest("ExpiredObjectDeleteMarker cannot be specified with Tags.")


def _check_noncurrent(noncurrent: Mapping[str, Any]) -> None:
    _positive(noncurrent.get("NoncurrentDays"),
              "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive "
              "integer")
    newer = noncurrent.get("NewerNoncurrentVersions")
    if newer is not None and not 0 < newer <= MAX_NEWER_NONCURRENT:
        raise errors.InvalidArgument(
            "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a "
            "positive integer up to 100")


_THIRTY_DAYS_AT_LEAST = ("STANDARD_IA", "ONEZONE_IA")


def _check_transition(transition: Mapping[str, Any], days_name: str) -> None:
    """A Transition (``Days``) or NoncurrentVersionTransition (``NoncurrentDays``)."""
    target = transition.get("StorageClass")
    if target not in storage_classes.TRANSITION_TARGETS:
        raise errors.MalformedXML()
    days, date = transition.get(days_name), transition.get("Date")
    if (days is None) == (date is None):
        raise errors.MalformedXML()
    if days is not None and days < 0:
        raise errors.InvalidArgument(f"'{days_name}' in Transition action must be nonnegative")
    if days is not None and days < 30 and target in _THIRTY_DAYS_AT_LEAST:
        action = "Transition" if days_name == "Days" else "NoncurrentVersionTransition"
        raise errors.InvalidArgument(
            f"'{days_name}' in {action} action for StorageClass '{target}' must be greater "
            "than or equal to 30")
    if date is not None:
        _midnight(date)


def _positive(value: Any, message: str) -> None:
    if value is None:
        raise errors.MalformedXML()
    if value <= 0:
        raise errors.InvalidArgument(message)


def _midnight(value: datetime) -> None:
    moment = value.astimezone(UTC)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        raise errors.InvalidArgument("'Date' must be at midnight GMT")


def to_json(config: Mapping[str, Any]) -> str:
    """The stored form: dates as ISO 8601 text ``2027-01-01T00:00:00Z``."""
    return json.dumps(config, default=_date_text, sort_keys=False)


def _date_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"cannot store {type(value).__name__}")


def from_json(text: str) -> dict[str, Any]:
    """The stored configuration with its dates back as datetimes (for the codec)."""
    config: dict[str, Any] = json.loads(text, object_hook=_dates)
    return config


def _dates(obj: dict[str, Any]) -> dict[str, Any]:
    date = obj.get("Date")
    if isinstance(date, str):
        obj["Date"] = datetime.fromisoformat(date)
    return obj
