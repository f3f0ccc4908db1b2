"""Storage classes: what a write may ask for, when an archived version may be read, and when a
restored copy expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.s3 import errors
from controller.s3 import storage_classes as sc

NOW = datetime(2026, 11, 21, 17, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize("value, stored", [
    (None, None), ("STANDARD", None), ("STANDARD_IA", "STANDARD_IA"), ("GLACIER", "GLACIER"),
    ("DEEP_ARCHIVE", "DEEP_ARCHIVE"), ("GLACIER_IR", "GLACIER_IR"),
    ("INTELLIGENT_TIERING", "INTELLIGENT_TIERING"), ("ONEZONE_IA", "ONEZONE_IA"),
    ("REDUCED_REDUNDANCY", "REDUCED_REDUNDANCY")])
def test_the_classes_a_general_purpose_bucket_stores(value: str | None,
                                                      stored: str | None) -> None:
    headers = {} if value is None else {"x-amz-storage-class": value}
    assert sc.requested(headers) == stored
    assert sc.name(stored) == (value or "STANDARD")


@pytest.mark.parametrize("value", ["standard_ia", "FOO", "", "OUTPOSTS", "EXPRESS_ONEZONE",
                                   "SNOW", "GLACIER "])
def test_other_names_are_invalid_storage_class(value: str) -> None:
    with pytest.raises(errors.InvalidStorageClass) as caught:
        sc.requested({"x-amz-storage-class": value})
    assert (caught.value.code, caught.value.http_status) == ("InvalidStorageClass", 400)


def test_only_standard_goes_unnamed_in_get_and_head() -> None:
    assert sc.headers(None) == []
    assert sc.headers("STANDARD_IA") == [("x-amz-storage-class", "STANDARD_IA")]


def test_archived_versions_are_read_only_while_a_restored_copy_lives() -> None:
    for stored in (None, "STANDARD_IA", "GLACIER_IR", "INTELLIGENT_TIERING"):
        assert sc.readable(stored, None, NOW)
    for stored in ("GLACIER", "DEEP_ARCHIVE"):
        assert not sc.readable(stored, None, NOW)
        assert not sc.readable(stored, NOW, NOW)  # expired at that very moment
        assert sc.readable(stored, NOW + timedelta(seconds=1), NOW)
        naive = (NOW + timedelta(hours=1)).replace(tzinfo=None)  # as SQLite hands it back
        assert sc.readable(stored, naive, NOW)
        with pytest.raises(errors.InvalidObjectState) as caught:
            sc.check_readable(stored, NOW - timedelta(days=1), NOW)
        assert caught.value.http_status == 403
        assert caught.value.extra == {"StorageClass": stored}


def test_a_restored_copy_expires_at_the_midnight_after_its_days() -> None:
    assert sc.restore_expiry(NOW, 1, 86400) == datetime(2026, 11, 23, tzinfo=UTC)
    assert sc.restore_expiry(NOW, 10, 86400) == datetime(2026, 12, 2, tzinfo=UTC)
    midnight = datetime(2026, 11, 21, tzinfo=UTC)
    assert sc.restore_expiry(midnight, 2, 86400) == datetime(2026, 11, 23, tzinfo=UTC)
    assert sc.restore_expiry(NOW, 3, 1) == NOW + timedelta(seconds=3)  # short test days


def test_x_amz_restore_names_the_expiry_while_the_copy_lives() -> None:
    until = datetime(2026, 11, 23, tzinfo=UTC)
    assert sc.restore_headers(until, NOW) == [
        ("x-amz-restore", 'ongoing-request="false", expiry-date="Mon, 23 Nov 2026 00:00:00 GMT"')]
    assert sc.restore_headers(until, until) == []
    assert sc.restore_headers(None, NOW) == []
