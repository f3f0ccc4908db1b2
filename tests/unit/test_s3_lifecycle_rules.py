"""Lifecycle rule matching and AWS's day arithmetic (controller/s3/lifecycle_rules.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from controller.s3.lifecycle_rules import (
    Rule,
    Version,
    after_days,
    current_expired,
    current_transition,
    expiration_header,
    expiration_headers,
    marker_expired,
    matches,
    noncurrent_expired,
    noncurrent_transitions,
    rule_from_config,
    rules_from_json,
    tags_of,
    upload_expired,
)

T0 = datetime(2014, 1, 15, 10, 30, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2014, 1, day, hour, minute, second, tzinfo=UTC)


def version(vid: str, when: datetime, size: int = 1, tags: dict[str, str] | None = None,
            marker: bool = False, storage_class: str | None = None) -> Version:
    return Version(vid, when, size, tags or {}, marker, storage_class)


def test_days_round_up_to_the_next_midnight_utc() -> None:
    # AWS's example: created 1/15/2014 10:30 UTC, 3 days -> 1/19/2014 00:00 UTC.
    assert after_days(T0, 3) == at(19)
    assert after_days(at(15), 3) == at(18)  # exactly midnight stays
    assert after_days(at(15, 23, 59, 59), 1) == at(17)
    assert after_days(datetime(2014, 1, 15, 10, 30), 1) == at(17)  # naive = UTC (SQLite)
    # Another time zone is converted first: 01:00+02:00 is 23:00 UTC the day before.
    east = datetime(2014, 1, 16, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert after_days(east, 1) == at(17)


def test_short_days_skip_the_rounding() -> None:
    assert after_days(T0, 3, day_seconds=1) == T0 + timedelta(seconds=3)
    assert after_days(T0, 2, day_seconds=60) == T0 + timedelta(minutes=2)


def test_filters() -> None:
    rule = Rule("r", True, prefix="logs/", tags=(("a", "1"), ("b", "2")),
                size_greater_than=10, size_less_than=100)
    assert matches(rule, "logs/x", 50, {"a": "1", "b": "2", "c": "3"})
    assert not matches(rule, "other/x", 50, {"a": "1", "b": "2"})
    assert not matches(rule, "logs/x", 50, {"a": "1"})
    assert not matches(rule, "logs/x", 50, {"a": "1", "b": "other"})
    assert not matches(rule, "logs/x", 10, {"a": "1", "b": "2"})  # strictly greater
    assert not matches(rule, "logs/x", 100, {"a": "1", "b": "2"})  # strictly less
    assert matches(Rule("all", True), "anything", 0, {})


def test_rules_from_stored_configurations() -> None:
    stored = {"Rules": [
        {"ID": "v1", "Prefix": "old/", "Status": "Enabled", "Expiration": {"Days": 5}},
        {"ID": "and", "Status": "Disabled",
         "Filter": {"And": {"Prefix": "p/", "Tags": [{"Key": "k", "Value": "v"}],
                            "ObjectSizeGreaterThan": 3}},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 2, "NewerNoncurrentVersions": 4}},
        {"ID": "tag", "Status": "Enabled", "Filter": {"Tag": {"Key": "t", "Value": "1"}},
         "Expiration": {"Date": "2030-01-01T00:00:00Z"}},
        {"ID": "mpu", "Status": "Enabled", "Filter": {},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        {"ID": "dm", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 9},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]}
    rules = rules_from_json(json.dumps(stored))
    assert rules[0] == Rule("v1", True, prefix="old/", expiration_days=5)
    assert rules[1] == Rule("and", False, prefix="p/", tags=(("k", "v"),), size_greater_than=3,
                            noncurrent_days=2, newer_noncurrent_versions=4)
    assert rules[2] == Rule("tag", True, tags=(("t", "1"),),
                            expiration_date=datetime(2030, 1, 1, tzinfo=UTC))
    assert rules[3] == Rule("mpu", True, abort_days=7)
    assert rules[4] == Rule("dm", True, size_less_than=9, expired_object_delete_marker=True)
    assert rules_from_json(None) == []


def test_current_versions_expire() -> None:
    rules = [rule_from_config({"ID": "d3", "Status": "Enabled", "Filter": {"Prefix": "a"},
                               "Expiration": {"Days": 3}})]
    current = version("v", T0)
    assert current_expired(rules, "a/k", current, at(18, 23, 59, 59)) is None
    assert current_expired(rules, "a/k", current, at(19)) == "d3"
    assert current_expired(rules, "b/k", current, at(30)) is None
    assert current_expired(rules, "a/k", version("m", T0, marker=True), at(30)) is None
    disabled = [Rule("off", False, expiration_days=1)]
    assert current_expired(disabled, "a/k", current, at(30)) is None


def test_the_earliest_rule_wins() -> None:
    rules = [Rule("late", True, expiration_days=10),
             Rule("date", True, expiration_date=at(20)),
             Rule("soon", True, prefix="a/", expiration_days=2)]
    assert current_expired(rules, "a/k", version("v", T0), at(18)) == "soon"
    assert current_expired(rules, "b/k", version("v", T0), at(20)) == "date"
    assert current_expired(rules, "b/k", version("v", T0), at(19)) is None


def test_noncurrent_versions_count_from_their_successor() -> None:
    rule = Rule("nc", True, noncurrent_days=1)
    chain = [version("v3", at(20, 12)), version("v2", at(10, 12)), version("v1", at(1, 12))]
    # v2 became noncurrent on the 20th at noon: due the 22nd; v1 on the 10th: due the 12th.
    assert noncurrent_expired([rule], "k", chain, at(21, 23)) == {"v1": "nc"}
    assert noncurrent_expired([rule], "k", chain, at(22)) == {"v1": "nc", "v2": "nc"}
    assert noncurrent_expired([rule], "k", chain[:1], at(30)) == {}  # the current one stays


def test_newer_noncurrent_versions_are_kept() -> None:
    rule = Rule("nc", True, noncurrent_days=1, newer_noncurrent_versions=2)
    chain = [version(f"v{n}", at(n)) for n in range(9, 0, -1)]  # v9 current, newest first
    assert set(noncurrent_expired([rule], "k", chain, at(30))) == {"v6", "v5", "v4", "v3",
                                                                   "v2", "v1"}
    tagged = Rule("t", True, tags=(("keep", "no"),), noncurrent_days=1)
    chain = [version("v3", at(3)), version("v2", at(2), tags={"keep": "no"}), version("v1", at(1))]
    assert noncurrent_expired([tagged], "k", chain, at(30)) == {"v2": "t"}


def test_expired_delete_markers() -> None:
    marker = [version("m", at(10), marker=True)]
    option = [Rule("dm", True, prefix="a/", expired_object_delete_marker=True)]
    assert marker_expired(option, "a/k", marker, at(10)) == "dm"
    assert marker_expired(option, "b/k", marker, at(10)) is None
    assert marker_expired(option, "a/k", [*marker, version("v", at(9))], at(30)) is None
    assert marker_expired(option, "a/k", [version("v", at(9))], at(30)) is None
    # An Expiration Days rule removes a lone marker once the marker itself is that old.
    days = [Rule("d", True, expiration_days=2)]
    assert marker_expired(days, "k", marker, at(11, 23)) is None
    assert marker_expired(days, "k", marker, at(12)) == "d"
    assert marker_expired([Rule("t", True, tags=(("a", "b"),), expiration_days=1)], "k",
                          marker, at(30)) is None


def test_uploads() -> None:
    rules = [Rule("mpu", True, prefix="up/", abort_days=2)]
    assert upload_expired(rules, "up/x", T0, at(18)) == "mpu"
    assert upload_expired(rules, "up/x", T0, at(17, 23)) is None
    assert upload_expired(rules, "down/x", T0, at(30)) is None
    assert upload_expired([Rule("off", False, abort_days=1)], "up/x", T0, at(30)) is None


def test_expiration_header() -> None:
    rules = [Rule("thirty", True, expiration_days=30), Rule("three", True, prefix="t/",
                                                            expiration_days=3)]
    assert expiration_header(rules, "t/k", version("v", T0)) == (
        'expiry-date="Sun, 19 Jan 2014 00:00:00 GMT", rule-id="three"')
    assert expiration_header([Rule("a\r\n\"é", True, expiration_days=1)], "k",
                             version("v", T0)) == (
        'expiry-date="Fri, 17 Jan 2014 00:00:00 GMT", rule-id="a%0D%0A%22%C3%A9"')
    assert expiration_header([Rule("nc", True, noncurrent_days=1)], "k", version("v", T0)) is None
    stored = json.dumps({"Rules": [{"ID": "x", "Status": "Enabled", "Filter": {},
                                    "Expiration": {"Days": 1}}]})
    assert expiration_headers(stored, "k", T0, 1, None) == [
        ("x-amz-expiration", 'expiry-date="Fri, 17 Jan 2014 00:00:00 GMT", rule-id="x"')]
    assert expiration_headers(None, "k", T0, 1, None) == []


def test_tags_of() -> None:
    assert tags_of(None) == {} and tags_of("") == {}
    assert tags_of('{"a": "1"}') == {"a": "1"}
    assert tags_of("[1]") == {}


BIG = 128 * 1024


def _moving(**fields: object) -> Rule:
    return rule_from_config({"ID": "move", "Status": "Enabled", "Filter": {"Prefix": ""},
                             **fields})


def test_a_current_version_moves_to_the_coldest_due_class() -> None:
    rule = _moving(Transitions=[{"Days": 30, "StorageClass": "STANDARD_IA"},
                                {"Days": 90, "StorageClass": "GLACIER"}])
    current = version("v", T0, size=BIG)
    assert current_transition([rule], "k", current, at(15) + timedelta(days=20)) is None
    assert current_transition([rule], "k", current, at(15) + timedelta(days=31)) == (
        "STANDARD_IA", "move")
    assert current_transition([rule], "k", current, at(15) + timedelta(days=91)) == (
        "GLACIER", "move")
    colder = version("v", T0, size=BIG, storage_class="DEEP_ARCHIVE")  # never back up
    assert current_transition([rule], "k", colder, at(15) + timedelta(days=91)) is None
    on_date = _moving(Transitions=[{"Date": "2014-02-01T00:00:00Z", "StorageClass": "GLACIER"}])
    assert current_transition([on_date], "k", current, at(31)) is None
    assert current_transition([on_date], "k", current, datetime(2014, 2, 1, tzinfo=UTC)) == (
        "GLACIER", "move")
    assert current_transition([rule], "k", version("m", T0, size=BIG, marker=True),
                              at(15) + timedelta(days=91)) is None


def test_objects_under_128_kib_move_only_under_a_size_filter() -> None:
    plain = _moving(Transitions=[{"Days": 1, "StorageClass": "GLACIER"}])
    small = version("v", T0, size=BIG - 1)
    later = at(20)
    assert current_transition([plain], "k", small, later) is None
    sized = rule_from_config({"ID": "small", "Status": "Enabled",
                              "Filter": {"ObjectSizeGreaterThan": 10},
                              "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]})
    assert current_transition([sized], "k", small, later) == ("GLACIER", "small")


def test_varies_by_storage_class_lets_small_objects_go_to_glacier_only() -> None:
    config = {"TransitionDefaultMinimumObjectSize": "varies_by_storage_class", "Rules": [
        {"ID": "cold", "Status": "Enabled", "Filter": {"Prefix": ""},
         "Transitions": [{"Days": 1, "StorageClass": "STANDARD_IA"},
                         {"Days": 5, "StorageClass": "GLACIER"}],
         "NoncurrentVersionTransitions": [{"NoncurrentDays": 1, "StorageClass": "ONEZONE_IA"},
                                          {"NoncurrentDays": 3,
                                           "StorageClass": "DEEP_ARCHIVE"}]}]}
    rules = rules_from_json(json.dumps(config))
    small = version("v", T0, size=10)
    assert current_transition(rules, "k", small, at(18)) is None  # not to STANDARD_IA
    assert current_transition(rules, "k", small, at(25)) == ("GLACIER", "cold")
    versions = [version("c", at(2), size=10), version("n", at(1), size=10)]
    assert noncurrent_transitions(rules, "k", versions, at(4)) == {}  # not to ONEZONE_IA
    assert noncurrent_transitions(rules, "k", versions, at(10)) == {
        "n": ("DEEP_ARCHIVE", "cold")}
    default = rules_from_json(json.dumps({**config, "TransitionDefaultMinimumObjectSize":
                                          "all_storage_classes_128K"}))
    assert current_transition(default, "k", small, at(25)) is None


def test_noncurrent_versions_move_from_when_they_became_noncurrent() -> None:
    rule = _moving(NoncurrentVersionTransitions=[
        {"NoncurrentDays": 2, "StorageClass": "GLACIER"},
        {"NoncurrentDays": 5, "StorageClass": "DEEP_ARCHIVE", "NewerNoncurrentVersions": 1}])
    versions = [version("c", at(10), size=BIG), version("n1", at(5), size=BIG),
                version("n2", at(1), size=BIG), version("n3", at(1), size=10)]
    # n1 noncurrent since the 10th, n2 since the 5th; n3 is too small to move.
    assert noncurrent_transitions([rule], "k", versions, at(8)) == {"n2": ("GLACIER", "move")}
    assert noncurrent_transitions([rule], "k", versions, at(11)) == {
        "n2": ("DEEP_ARCHIVE", "move")}
    # n1 is the one newer noncurrent version kept from DEEP_ARCHIVE, whatever its age.
    assert noncurrent_transitions([rule], "k", versions, at(20)) == {
        "n1": ("GLACIER", "move"), "n2": ("DEEP_ARCHIVE", "move")}
    moved = [versions[0], versions[1], version("n2", at(1), size=BIG,
                                               storage_class="DEEP_ARCHIVE"), versions[3]]
    assert noncurrent_transitions([rule], "k", moved, at(20)) == {"n1": ("GLACIER", "move")}
