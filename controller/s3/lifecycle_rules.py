"""Lifecycle rules as the job applies them: filters, AWS's day arithmetic, what expires (pure).

A stored configuration (the botocore-shaped dict of ``Bucket.lifecycle``) becomes a list of
:class:`Rule`; everything here is a function of those rules, an object's facts and "now".

AWS's arithmetic: an object expires at the first midnight UTC at or after ``last_modified +
Days`` (a noncurrent version counts from the moment it became noncurrent, an upload from its
initiation). When a "day" is configured shorter than 86,400 seconds (tests), the rounding to
midnight is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from controller.s3.storage_classes import colder

REAL_DAY = 86400
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"%\\')


@dataclass(frozen=True)
class Transition:
    """Move versions to ``storage_class`` ``days`` after they were written (or became
    noncurrent), or on ``date``."""

    storage_class: str
    days: int | None = None
    date: datetime | None = None
    newer_noncurrent_versions: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    enabled: bool
    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None
    expiration_days: int | None = None
    expiration_date: datetime | None = None
    expired_object_delete_marker: bool = False
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_days: int | None = None
    transitions: tuple[Transition, ...] = ()
    noncurrent_transitions: tuple[Transition, ...] = ()
    small_to_glacier: bool = False
    """The configuration's ``x-amz-transition-default-minimum-object-size`` is
    ``varies_by_storage_class``: objects under 128 KiB may still move to GLACIER and
    DEEP_ARCHIVE (not to other classes)."""

    @property
    def sized(self) -> bool:
        """Whether the filter bounds object sizes (which lifts the 128 KiB transition floor)."""
        return self.size_greater_than is not None or self.size_less_than is not None


@dataclass(frozen=True)
class Version:
    """One version of a key, as the job sees it."""

    version_id: str
    last_modified: datetime
    size: int
    tags: Mapping[str, str]
    delete_marker: bool = False
    storage_class: str | None = None


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (SQLite hands back naive ones, which are UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_date(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


def _filter_fields(rule: Mapping[str, Any]) -> dict[str, Any]:
    """Prefix, tags and sizes of a rule, from its ``Filter`` (V2) or its ``Prefix`` (V1)."""
    if "Filter" not in rule:
        return {"prefix": str(rule.get("Prefix") or "")}
    found: Mapping[str, Any] = rule["Filter"]
    tags: list[Mapping[str, str]] = []
    if "And" in found:
        found = found["And"]
        tags = list(found.get("Tags") or [])
    elif "Tag" in found:
        tags = [found["Tag"]]
    return {"prefix": str(found.get("Prefix") or ""),
            "tags": tuple((str(t["Key"]), str(t["Value"])) for t in tags),
            "size_greater_than": found.get("ObjectSizeGreaterThan"),
            "size_less_than": found.get("ObjectSizeLessThan")}


MIN_SIZE_HEADER = "x-amz-transition-default-minimum-object-size"
ALL_128K = "all_storage_classes_128K"
VARIES = "varies_by_storage_class"
MIN_SIZE_POLICIES = (ALL_128K, VARIES)
"""``x-amz-transition-default-minimum-object-size`` values; S3's default is ``ALL_128K``."""


def rule_from_config(rule: Mapping[str, Any], small_to_glacier: bool = False) -> Rule:
    expiration: Mapping[str, Any] = rule.get("Expiration") or {}
    noncurrent: Mapping[str, Any] = rule.get("NoncurrentVersionExpiration") or {}
    abort: Mapping[str, Any] = rule.get("AbortIncompleteMultipartUpload") or {}
    date = expiration.get("Date")
    return Rule(
        id=str(rule.get("ID") or ""), enabled=rule.get("Status") == "Enabled",
        expiration_days=expiration.get("Days"),
        expiration_date=(parse_date(date) if isinstance(date, str)
                         else utc(date) if isinstance(date, datetime) else None),
        expired_object_delete_marker=bool(expiration.get("ExpiredObjectDeleteMarker")),
        noncurrent_days=noncurrent.get("NoncurrentDays"),
        newer_noncurrent_versions=noncurrent.get("NewerNoncurrentVersions"),
        abort_days=abort.get("DaysAfterInitiation"),
        transitions=tuple(_transition(t, "Days") for t in rule.get("Transitions") or []),
        noncurrent_transitions=tuple(_transition(t, "NoncurrentDays")
                                     for t in rule.get("NoncurrentVersionTransitions") or []),
        small_to_glacier=small_to_glacier, **_filter_fields(rule))


def _transition(config: Mapping[str, Any], days_name: str) -> Transition:
    date = config.get("Date")
    return Transition(
        storage_class=str(config["StorageClass"]), days=config.get(days_name),
        date=(parse_date(date) if isinstance(date, str)
              else utc(date) if isinstance(date, datetime) else None),
        newer_noncurrent_versions=config.get("NewerNoncurrentVersions"))


def rules_from_json(text: str | None) -> list[Rule]:
    """The rules of a stored configuration (``Bucket.lifecycle``); none when NULL."""
    if not text:
        return []
    config: Mapping[str, Any] = json.loads(text)
    small = config.get("TransitionDefaultMinimumObjectSize") == VARIES
    return [rule_from_config(rule, small) for rule in config.get("Rules") or []]


def after_days(start: datetime, days: int, day_seconds: int = REAL_DAY) -> datetime:
    """When ``days`` days after ``start`` fall due: rounded up to midnight UTC for real days."""
    due = utc(start) + timedelta(seconds=days * day_seconds)
    if day_seconds != REAL_DAY:
        return due
    midnight = due.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == due else midnight + timedelta(days=1)


def matches(rule: Rule, key: str, size: int, tags: Mapping[str, str]) -> bool:
    """Whether the rule's filter selects an object (all of prefix, tags and size bounds)."""
    if not key.startswith(rule.prefix):
        return False
    if any(tags.get(name) != value for name, value in rule.tags):
        return False
    if rule.size_greater_than is not None and not size > rule.size_greater_than:
        return False
    return rule.size_less_than is None or size < rule.size_less_than


def expiry(rule: Rule, last_modified: datetime, day_seconds: int = REAL_DAY) -> datetime | None:
    """When the rule's Expiration (Days or Date) expires a current version, if it has one."""
    if rule.expiration_date is not None:
        return rule.expiration_date
    if rule.expiration_days is not None:
        return after_days(last_modified, rule.expiration_days, day_seconds)
    return None


def current_expiry(rules: Sequence[Rule], key: str, current: Version,
                   day_seconds: int = REAL_DAY) -> tuple[datetime, str] | None:
    """The earliest (expiry date, rule id) any enabled rule sets for a current version."""
    found: list[tuple[datetime, str]] = []
    for rule in rules:
        if rule.enabled and matches(rule, key, current.size, current.tags):
            when = expiry(rule, current.last_modified, day_seconds)
            if when is not None:
                found.append((when, rule.id))
    return min(found, key=lambda item: item[0]) if found else None


def current_expired(rules: Sequence[Rule], key: str, current: Version, now: datetime,
                    day_seconds: int = REAL_DAY) -> str | None:
    """The id of the rule that expires this current (non-marker) version by ``now``, if any."""
    if current.delete_marker:
        return None
    due = current_expiry(rules, key, current, day_seconds)
    return due[1] if due is not None and due[0] <= utc(now) else None


def marker_expired(rules: Sequence[Rule], key: str, versions: Sequence[Version],
                   now: datetime, day_seconds: int = REAL_DAY) -> str | None:
    """The id of the rule removing an expired object delete marker (the key's only version is
    a delete marker): an ExpiredObjectDeleteMarker rule whose prefix covers the key at once, or
    an Expiration Days/Date rule once the marker itself is that old, as S3 does."""
    if len(versions) != 1 or not versions[0].delete_marker:
        return None
    marker = versions[0]
    for rule in rules:
        if not rule.enabled or not matches(rule, key, 0, {}):
            continue
        when = expiry(rule, marker.last_modified, day_seconds)
        if rule.expired_object_delete_marker or (when is not None and when <= utc(now)):
            return rule.id
    return None


def tags_of(text: str | None) -> dict[str, str]:
    """``S3Object.tags`` (a JSON object, NULL for none) as a dict."""
    if not text:
        return {}
    loaded = json.loads(text)
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def noncurrent_expired(rules: Sequence[Rule], key: str, versions: Sequence[Version],
                       now: datetime, day_seconds: int = REAL_DAY) -> dict[str, str]:
    """Noncurrent versions to delete, ``{version id: rule id}``; ``versions`` newest first.

    Version ``i`` became noncurrent when version ``i - 1`` was written; ``i - 1`` noncurrent
    versions are newer than it, and NewerNoncurrentVersions of them are kept whatever their age.
    """
    doomed: dict[str, str] = {}
    moment = utc(now)
    for rule in rules:
        if not rule.enabled or rule.noncurrent_days is None:
            continue
        for index in range(1, len(versions)):
            old = versions[index]
            if old.version_id in doomed or not matches(rule, key, old.size, old.tags):
                continue
            keep = rule.newer_noncurrent_versions
            if keep is not None and index - 1 < keep:
                continue
            since = versions[index - 1].last_modified
            if after_days(since, rule.noncurrent_days, day_seconds) <= moment:
                doomed[old.version_id] = rule.id
    return doomed


MIN_TRANSITION_SIZE = 128 * 1024
"""S3 moves no object smaller than 128 KiB to another class unless the rule's filter bounds
object sizes (its default ``all_storage_classes_128K`` since September 2024), or, with
``varies_by_storage_class``, to GLACIER and DEEP_ARCHIVE."""
_SMALL_ALLOWED = ("GLACIER", "DEEP_ARCHIVE")


def _transitions(rule: Rule, key: str, version: Version) -> bool:
    return rule.enabled and matches(rule, key, version.size, version.tags)


def _size_allows(rule: Rule, version: Version, target: str) -> bool:
    return (version.size >= MIN_TRANSITION_SIZE or rule.sized
            or (rule.small_to_glacier and target in _SMALL_ALLOWED))


def current_transition(rules: Sequence[Rule], key: str, current: Version, now: datetime,
                       day_seconds: int = REAL_DAY) -> tuple[str, str] | None:
    """(storage class, rule id): the coldest class a due Transition moves this current
    version to, when that is colder than its own class."""
    if current.delete_marker:
        return None
    best: tuple[str, str] | None = None
    moment = utc(now)
    for rule in (r for r in rules if _transitions(r, key, current)):
        for move in rule.transitions:
            if not _size_allows(rule, current, move.storage_class):
                continue
            due = move.date if move.date is not None else after_days(
                current.last_modified, move.days or 0, day_seconds)
            if due <= moment and colder(move.storage_class,
                                        best[0] if best else current.storage_class):
                best = (move.storage_class, rule.id)
    return best


def noncurrent_transitions(rules: Sequence[Rule], key: str, versions: Sequence[Version],
                           now: datetime, day_seconds: int = REAL_DAY
                           ) -> dict[str, tuple[str, str]]:
    """Noncurrent versions to move, ``{version id: (storage class, rule id)}``; ``versions``
    newest first, counted as :func:`noncurrent_expired` counts them."""
    moved: dict[str, tuple[str, str]] = {}
    moment = utc(now)
    for rule in rules:
        if not rule.noncurrent_transitions:
            continue
        for index in range(1, len(versions)):
            old = versions[index]
            if old.delete_marker or not _transitions(rule, key, old):
                continue
            since = versions[index - 1].last_modified
            for move in rule.noncurrent_transitions:
                if not _size_allows(rule, old, move.storage_class):
                    continue
                keep = move.newer_noncurrent_versions
                if keep is not None and index - 1 < keep:
                    continue
                if after_days(since, move.days or 0, day_seconds) > moment:
                    continue
                best = moved.get(old.version_id)
                if colder(move.storage_class, best[0] if best else old.storage_class):
                    moved[old.version_id] = (move.storage_class, rule.id)
    return moved


def upload_expired(rules: Sequence[Rule], key: str, initiated: datetime, now: datetime,
                   day_seconds: int = REAL_DAY) -> str | None:
    """The id of the rule aborting an incomplete multipart upload by ``now``, if any (prefix
    only: tag filters cannot go with this action, and an upload has no size yet)."""
    for rule in rules:
        if (rule.enabled and rule.abort_days is not None and key.startswith(rule.prefix)
                and not rule.tags
                and after_days(initiated, rule.abort_days, day_seconds) <= utc(now)):
            return rule.id
    return None


def expiration_header(rules: Sequence[Rule], key: str, current: Version,
                      day_seconds: int = REAL_DAY) -> str | None:
    """``x-amz-expiration`` for GET/HEAD/PUT: when the object will expire and by which rule."""
    due = current_expiry(rules, key, current, day_seconds)
    if due is None:
        return None
    date = format_datetime(due[0].replace(microsecond=0), usegmt=True)
    rule_id = quote(due[1], safe=_HEADER_SAFE)  # no quote, CR/LF or non-ASCII in a header
    return f'expiry-date="{date}", rule-id="{rule_id}"'


def expiration_headers(lifecycle: str | None, key: str, last_modified: datetime, size: int,
                       tags: str | None, day_seconds: int = REAL_DAY) -> list[tuple[str, str]]:
    """``[("x-amz-expiration", ...)]`` for an object under a bucket's stored configuration
    (``Bucket.lifecycle``), or nothing when no enabled rule expires it."""
    rules = rules_from_json(lifecycle)
    if not rules:
        return []
    current = Version("", last_modified, size, tags_of(tags))
    value = expiration_header(rules, key, current, day_seconds)
    return [("x-amz-expiration", value)] if value is not None else []
