"""Object Lock rules: configuration validation, header locks, default retention, retention
changes and delete protection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.s3 import errors
from controller.s3.object_lock_rules import (
    Lock,
    blocks_delete,
    check_configuration,
    default_lock,
    iso_date,
    lock_headers,
    may_change_retention,
    requested_lock,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=10)
EARLIER = NOW + timedelta(days=5)


def rule(**retention: Any) -> dict[str, Any]:
    return {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}}


def test_configuration_without_rule() -> None:
    assert check_configuration({"ObjectLockEnabled": "Enabled"}) == {"ObjectLockEnabled":
                                                                    "Enabled"}


@pytest.mark.parametrize("config", [
    {}, {"ObjectLockEnabled": "Disabled"}, rule(Mode="GOVERNANCE"),
    rule(Mode="GOVERNANCE", Days=1, Years=1), rule(Mode="governance", Days=1), rule(Days=1),
    {"ObjectLockEnabled": "Enabled", "Rule": {}},
])
def test_malformed_configurations(config: dict[str, Any]) -> None:
    with pytest.raises(errors.MalformedXML):
        check_configuration(config)


@pytest.mark.parametrize("config", [
    rule(Mode="GOVERNANCE", Days=0), rule(Mode="COMPLIANCE", Years=-1),
    rule(Mode="GOVERNANCE", Days=36501), rule(Mode="GOVERNANCE", Years=101)])
def test_bad_periods_are_invalid_arguments(config: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidArgument):
        check_configuration(config)


def test_default_lock() -> None:
    assert default_lock(None, NOW) == Lock()
    assert default_lock({"ObjectLockEnabled": "Enabled"}, NOW) == Lock()
    assert default_lock(rule(Mode="GOVERNANCE", Days=2), NOW) == Lock(
        "GOVERNANCE", NOW + timedelta(days=2))
    assert default_lock(rule(Mode="COMPLIANCE", Years=1), NOW.replace(tzinfo=None)) == Lock(
        "COMPLIANCE", NOW + timedelta(days=365))


def test_requested_lock_from_headers() -> None:
    headers = {"x-amz-object-lock-mode": "COMPLIANCE",
               "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z",
               "x-amz-object-lock-legal-hold": "OFF"}
    assert requested_lock(headers, True, NOW) == Lock(
        "COMPLIANCE", datetime(2030, 1, 1, tzinfo=UTC), False)
    assert requested_lock({}, False, NOW) == Lock()
    assert requested_lock({"x-amz-object-lock-legal-hold": "ON"}, True, NOW) == Lock(
        legal_hold=True)


@pytest.mark.parametrize(("headers", "enabled", "error"), [
    ({"x-amz-object-lock-mode": "GOVERNANCE"}, True, errors.InvalidArgument),
    ({"x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z"}, True,
     errors.InvalidArgument),
    ({"x-amz-object-lock-mode": "GOVERNANCE"}, False, errors.InvalidArgument),
    ({"x-amz-object-lock-legal-hold": "ON"}, False, errors.InvalidRequest),
    ({"x-amz-object-lock-mode": "X", "x-amz-object-lock-retain-until-date": "2030-01-01"},
     True, errors.InvalidArgument),
    ({"x-amz-object-lock-mode": "GOVERNANCE",
      "x-amz-object-lock-retain-until-date": "tomorrow"}, True, errors.InvalidArgument),
    ({"x-amz-object-lock-mode": "GOVERNANCE",
      "x-amz-object-lock-retain-until-date": "2020-01-01T00:00:00Z"}, True,
     errors.InvalidArgument),
    ({"x-amz-object-lock-legal-hold": "on"}, True, errors.InvalidArgument),
])
def test_bad_header_locks(headers: dict[str, str], enabled: bool,
                          error: type[errors.S3Error]) -> None:
    with pytest.raises(error):
        requested_lock(headers, enabled, NOW)


@pytest.mark.parametrize(("old", "mode", "until", "bypass", "allowed"), [
    (Lock(), "COMPLIANCE", LATER, False, True),
    (Lock("COMPLIANCE", NOW - timedelta(seconds=1)), None, None, False, True),  # expired
    (Lock("GOVERNANCE", EARLIER), "GOVERNANCE", LATER, False, True),
    (Lock("GOVERNANCE", EARLIER), "GOVERNANCE", EARLIER, False, True),
    (Lock("GOVERNANCE", LATER), "GOVERNANCE", EARLIER, False, False),
    (Lock("GOVERNANCE", LATER), "GOVERNANCE", EARLIER, True, True),
    (Lock("GOVERNANCE", LATER), None, None, False, False),
    (Lock("GOVERNANCE", LATER), None, None, True, True),
    (Lock("GOVERNANCE", LATER), "COMPLIANCE", LATER, False, False),
    (Lock("GOVERNANCE", LATER), "COMPLIANCE", LATER, True, True),
    (Lock("COMPLIANCE", EARLIER), "COMPLIANCE", LATER, False, True),
    (Lock("COMPLIANCE", LATER), "COMPLIANCE", EARLIER, True, False),
    (Lock("COMPLIANCE", LATER), "GOVERNANCE", LATER, True, False),
    (Lock("COMPLIANCE", LATER), None, None, True, False),
])
def test_retention_changes(old: Lock, mode: str | None, until: datetime | None, bypass: bool,
                           allowed: bool) -> None:
    assert may_change_retention(old, mode, until, bypass, NOW) is allowed


@pytest.mark.parametrize(("lock", "bypass", "blocked"), [
    (Lock(), False, False),
    (Lock(legal_hold=False), False, False),
    (Lock(legal_hold=True), True, True),
    (Lock("GOVERNANCE", LATER), False, True),
    (Lock("GOVERNANCE", LATER), True, False),
    (Lock("COMPLIANCE", LATER), True, True),
    (Lock("COMPLIANCE", NOW - timedelta(seconds=1)), False, False),
    (Lock("COMPLIANCE", (NOW + timedelta(hours=1)).replace(tzinfo=None)), False, True),
])
def test_blocks_delete(lock: Lock, bypass: bool, blocked: bool) -> None:
    assert blocks_delete(lock, bypass, NOW) is blocked


def test_lock_headers() -> None:
    until = datetime(2030, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert iso_date(until) == "2030-01-01T00:00:00.123Z"
    assert lock_headers(Lock("GOVERNANCE", until, True)) == [
        ("x-amz-object-lock-mode", "GOVERNANCE"),
        ("x-amz-object-lock-retain-until-date", "2030-01-01T00:00:00.123Z"),
        ("x-amz-object-lock-legal-hold", "ON")]
    assert lock_headers(Lock()) == []
