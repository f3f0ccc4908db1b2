"""Storage classes: which ones a write may ask for, how a version reports its class, and whether
an archived version (GLACIER, DEEP_ARCHIVE) may be read now (pure).

Ironbark keeps every class on the same disks, so the class changes no byte's durability or
speed; it is recorded and reported as S3 does, and it gates reads as S3 does: an archived
version answers GET only while a restored copy of it is live (RestoreObject)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from controller.s3 import errors
from controller.s3.headers import http_date
from controller.s3.object_lock_rules import as_utc

STANDARD = "STANDARD"
CLASSES = frozenset({STANDARD, "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
                     "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR"})
"""What a general purpose bucket stores (OUTPOSTS, SNOW, EXPRESS_ONEZONE and the FSx classes
belong to other kinds of bucket)."""
ARCHIVED = frozenset({"GLACIER", "DEEP_ARCHIVE"})
"""Classes whose versions must be restored before they are read."""
TRANSITION_TARGETS = frozenset({"STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR",
                                "GLACIER", "DEEP_ARCHIVE"})
"""Where a lifecycle Transition may move versions."""
_WATERFALL = {STANDARD: 0, "REDUCED_REDUNDANCY": 0, "STANDARD_IA": 1, "INTELLIGENT_TIERING": 2,
              "ONEZONE_IA": 3, "GLACIER_IR": 4, "GLACIER": 5, "DEEP_ARCHIVE": 6}
HEADER = "x-amz-storage-class"
DAY = 86400


def requested(headers: Mapping[str, str]) -> str | None:
    """The class a write's ``x-amz-storage-class`` asks for, None for STANDARD (stored as NULL);
    InvalidStorageClass for a name S3 does not store here (names are case-sensitive)."""
    value = headers.get(HEADER)
    if value is None or value == STANDARD:
        return None
    if value not in CLASSES:
        raise errors.InvalidStorageClass()
    return value


def name(stored: str | None) -> str:
    """The class a version or upload reports (listings, GetObjectAttributes)."""
    return stored or STANDARD


def headers(stored: str | None) -> list[tuple[str, str]]:
    """GET and HEAD name the class unless it is STANDARD."""
    return [(HEADER, stored)] if stored else []


def colder(target: str, stored: str | None) -> bool:
    """Whether a lifecycle transition to ``target`` moves a version of class ``stored``: S3's
    transitions only go down its waterfall (STANDARD, STANDARD_IA, INTELLIGENT_TIERING,
    ONEZONE_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE)."""
    return _WATERFALL[target] > _WATERFALL.get(stored or STANDARD, 0)


def archived(stored: str | None) -> bool:
    return stored in ARCHIVED


def readable(stored: str | None, restored_until: datetime | None, now: datetime) -> bool:
    """Whether the bytes of a version of class ``stored`` may be read at ``now``."""
    return stored not in ARCHIVED or (restored_until is not None and as_utc(restored_until) > now)


def check_readable(stored: str | None, restored_until: datetime | None, now: datetime) -> None:
    """InvalidObjectState (403) for an archived version with no live restored copy."""
    if not readable(stored, restored_until, now):
        raise errors.InvalidObjectState(StorageClass=stored or STANDARD)


def restore_headers(restored_until: datetime | None, now: datetime) -> list[tuple[str, str]]:
    """GET and HEAD of a version with a live restored copy: ``x-amz-restore``."""
    if restored_until is None or as_utc(restored_until) <= now:
        return []
    return [("x-amz-restore",
             f'ongoing-request="false", expiry-date="{http_date(restored_until)}"')]


def restore_expiry(now: datetime, days: int, day_seconds: int) -> datetime:
    """When a copy restored at ``now`` for ``days`` days stops being readable."""
    until = now + timedelta(seconds=days * day_seconds)
    if day_seconds != DAY:
        return until
    midnight = until.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == until else midnight + timedelta(days=1)
