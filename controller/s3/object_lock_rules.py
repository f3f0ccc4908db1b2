"""Object Lock rules, pure: the bucket configuration, the lock a new version asks for in its
headers, the bucket's default retention, which retention changes are allowed, and whether a
version may be deleted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.s3 import errors

MODES = ("GOVERNANCE", "COMPLIANCE")
HOLDS = ("ON", "OFF")
MAX_DAYS = 36500
MAX_YEARS = 100
DAY = timedelta(days=1)
YEAR = timedelta(days=365)
MISSING_CONFIGURATION = "Bucket is missing Object Lock Configuration"
PROTECTED = "Access Denied because object protected by object lock."


@dataclass(frozen=True)
class Lock:
    """The Object Lock state of one version (as stored on it)."""

    mode: str | None = None
    until: datetime | None = None
    legal_hold: bool | None = None


def as_utc(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back: they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_configuration(config: Mapping[str, Any]) -> dict[str, Any]:
    """A parsed ObjectLockConfiguration, validated as S3 does; what is stored."""
    if config.get("ObjectLockEnabled") != "Enabled":
        raise errors.MalformedXML()
    stored: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
    if "Rule" not in config:
        return stored
    retention = (config.get("Rule") or {}).get("DefaultRetention")
    if not isinstance(retention, Mapping) or retention.get("Mode") not in MODES:
        raise errors.MalformedXML()
    days, years = retention.get("Days"), retention.get("Years")
    if (days is None) == (years is None):
        raise errors.MalformedXML()
    name, value, high = ("Days", days, MAX_DAYS) if days is not None else ("Years", years,
                                                                           MAX_YEARS)
    if not isinstance(value, int) or value <= 0:
        raise errors.InvalidArgument("Default retention period must be a positive integer value.",
                                     ArgumentName=name, ArgumentValue=str(value))
    if value > high:
        raise errors.InvalidArgument("Default retention period is too large.",
                                     ArgumentName=name, ArgumentValue=str(value))
    stored["Rule"] = {"DefaultRetention": {"Mode": retention["Mode"], name: value}}
    return stored


def default_lock(config: Mapping[str, Any] | None, created: datetime) -> Lock:
    """The retention a new version gets from its bucket's default rule (none without one)."""
    retention = ((config or {}).get("Rule") or {}).get("DefaultRetention")
    if not retention:
        return Lock()
    period = DAY * int(retention["Days"]) if "Days" in retention else YEAR * int(
        retention["Years"])
    return Lock(str(retention["Mode"]), as_utc(created) + period)


def parse_date(value: str, argument: str) -> datetime:
    """An ISO 8601 retain-until date (a header's value); InvalidArgument when it is not."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise errors.InvalidArgument("The retain until date must be provided in ISO 8601 format",
                                     ArgumentName=argument, ArgumentValue=value[:64]) from None
    return as_utc(moment)


def requested_lock(headers: Mapping[str, str], lock_enabled: bool, now: datetime) -> Lock:
    """The lock a PutObject / CopyObject / CreateMultipartUpload asks for in its headers."""
    mode = headers.get("x-amz-object-lock-mode")
    date = headers.get("x-amz-object-lock-retain-until-date")
    hold = headers.get("x-amz-object-lock-legal-hold")
    if mode is None and date is None and hold is None:
        return Lock()
    if (mode is None) != (date is None):
        raise errors.InvalidArgument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be "
            "supplied", ArgumentName="x-amz-object-lock-mode" if mode is None
            else "x-amz-object-lock-retain-until-date")
    if not lock_enabled:
        raise errors.InvalidRequest(MISSING_CONFIGURATION)
    until = None
    if mode is not None and date is not None:
        if mode not in MODES:
            raise errors.InvalidArgument("Unknown wormMode directive.",
                                         ArgumentName="x-amz-object-lock-mode",
                                         ArgumentValue=mode[:32])
        until = parse_date(date, "x-amz-object-lock-retain-until-date")
        if until <= now:
            raise errors.InvalidArgument("The retain until date must be in the future!",
                                         ArgumentName="x-amz-object-lock-retain-until-date",
                                         ArgumentValue=date[:64])
    if hold is not None and hold not in HOLDS:
        raise errors.InvalidArgument("Legal Hold must be either of 'ON' or 'OFF'",
                                     ArgumentName="x-amz-object-lock-legal-hold",
                                     ArgumentValue=hold[:32])
    return Lock(mode, until, None if hold is None else hold == "ON")


def retention_active(lock: Lock, now: datetime) -> bool:
    return lock.mode is not None and lock.until is not None and as_utc(lock.until) > now


def may_change_retention(old: Lock, mode: str | None, until: datetime | None, bypass: bool,
                         now: datetime) -> bool:
    """Whether a version's retention may become ``mode`` / ``until`` (None, None: removed).

    An expired retention may be changed freely. COMPLIANCE may only be extended, in
    COMPLIANCE. GOVERNANCE may be extended in GOVERNANCE; anything else (shorter, removed,
    another mode) needs the bypass (header and permission)."""
    if not retention_active(old, now):
        return True
    assert old.until is not None
    kept = mode == old.mode and until is not None and until >= as_utc(old.until)
    if old.mode == "COMPLIANCE":
        return kept
    return kept or bypass


def blocks_delete(lock: Lock, bypass: bool, now: datetime) -> bool:
    """Whether deleting the version (for good) is refused: a legal hold, or unexpired retention
    (GOVERNANCE yields to the bypass)."""
    if lock.legal_hold:
        return True
    if not retention_active(lock, now):
        return False
    return not (lock.mode == "GOVERNANCE" and bypass)


def is_bypass_requested(headers: Mapping[str, str]) -> bool:
    return headers.get("x-amz-bypass-governance-retention", "").strip().lower() == "true"


def lock_headers(lock: Lock) -> list[tuple[str, str]]:
    """The ``x-amz-object-lock-*`` headers GET and HEAD answer for a version."""
    headers: list[tuple[str, str]] = []
    if lock.mode is not None and lock.until is not None:
        headers += [("x-amz-object-lock-mode", lock.mode),
                    ("x-amz-object-lock-retain-until-date", iso_date(lock.until))]
    if lock.legal_hold is not None:
        headers.append(("x-amz-object-lock-legal-hold", "ON" if lock.legal_hold else "OFF"))
    return headers


def iso_date(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
