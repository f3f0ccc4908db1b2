"""Lifecycle configuration validation and stored form (controller/s3/lifecycle_config.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import parse_s3_input_xml
from controller.s3 import errors
from controller.s3.lifecycle_config import from_json, to_json, validate

MIDNIGHT = datetime(2030, 1, 1, tzinfo=UTC)


def rule(**extra: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "p/"},
            "Expiration": {"Days": 1}} | extra


def refused(*rules: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(errors.S3Error) as caught:
        validate({"Rules": list(rules)})
    return caught.value.code, caught.value.message


def parse(xml: bytes) -> dict[str, Any]:
    shape = s3_operation("PutBucketLifecycleConfiguration").input_shape.members[
        "LifecycleConfiguration"]
    return parse_s3_input_xml(shape, xml)


def test_a_valid_configuration_is_kept_and_ids_are_assigned() -> None:
    config = validate({"Rules": [rule(), {"Status": "Disabled", "Filter": {},
                                          "Expiration": {"Days": 2}}]})
    assert config["Rules"][0] == rule()
    assert len(config["Rules"][1]["ID"]) > 20 and len(config["Rules"][1]["ID"]) <= 255


def test_rule_count_and_ids() -> None:
    assert refused()[0] == "MalformedXML"
    assert refused(*[rule(ID=str(n)) for n in range(1001)])[0] == "MalformedXML"
    validate({"Rules": [rule(ID=str(n)) for n in range(1000)]})
    assert refused(rule(), rule()) == (
        "InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule")
    assert refused(rule(ID="x" * 256))[0] == "InvalidArgument"


def test_status() -> None:
    assert refused(rule(Status="enabled"))[0] == "MalformedXML"
    assert refused({k: v for k, v in rule().items() if k != "Status"})[0] == "MalformedXML"


def test_filter_or_prefix_exactly_once() -> None:
    assert refused(rule(Prefix="x"))[0] == "MalformedXML"
    assert refused({k: v for k, v in rule().items() if k != "Filter"})[0] == "MalformedXML"
    legacy = {"ID": "old", "Prefix": "x", "Status": "Enabled", "Expiration": {"Days": 1}}
    assert refused(rule(), legacy)[0] == "MalformedXML"  # V1 and V2 rules do not mix
    validate({"Rules": [rule(Filter={})]})


@pytest.mark.parametrize("found", [
    {"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}},
    {"Prefix": "a", "ObjectSizeGreaterThan": 3},
    {"And": {"Prefix": "a"}, "Prefix": "b"},
    {"ObjectSizeGreaterThan": 1, "ObjectSizeLessThan": 5},
])
def test_one_filter_predicate(found: dict[str, Any]) -> None:
    assert refused(rule(Filter=found))[0] == "MalformedXML"


def test_and_and_sizes() -> None:
    validate({"Rules": [rule(Filter={"And": {"Prefix": "a", "ObjectSizeGreaterThan": 1,
                                             "ObjectSizeLessThan": 5,
                                             "Tags": [{"Key": "k", "Value": "v"}]}})]})
    dup = {"And": {"Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}}
    assert refused(rule(Filter=dup)) == ("InvalidRequest", "Duplicate Tag Keys are not allowed.")
    crossed = {"And": {"ObjectSizeGreaterThan": 5, "ObjectSizeLessThan": 5}}
    assert refused(rule(Filter=crossed))[0] == "InvalidRequest"
    assert refused(rule(Filter={"ObjectSizeGreaterThan": -1}))[0] == "InvalidRequest"


def test_expiration() -> None:
    assert refused(rule(Expiration={"Days": 0})) == (
        "InvalidArgument", "'Days' for Expiration action must be a positive integer")
    assert refused(rule(Expiration={"Date": MIDNIGHT.replace(second=1)})) == (
        "InvalidArgument", "'Date' must be at midnight GMT")
    validate({"Rules": [rule(Expiration={"Date": MIDNIGHT})]})
    assert refused(rule(Expiration={"Days": 1, "Date": MIDNIGHT}))[0] == "MalformedXML"
    both = {"Days": 1, "ExpiredObjectDeleteMarker": True}
    assert refused(rule(Expiration=both))[0] == "MalformedXML"
    assert refused(rule(Expiration={}))[0] == "MalformedXML"
    tagged = rule(Filter={"Tag": {"Key": "k", "Value": "v"}},
                  Expiration={"ExpiredObjectDeleteMarker": True})
    assert refused(tagged)[0] == "InvalidRequest"


def test_other_actions() -> None:
    bare = {k: v for k, v in rule().items() if k != "Expiration"}
    assert refused(bare) == ("InvalidRequest", "At least one action needs to be specified in a rule")
    assert refused(rule(NoncurrentVersionExpiration={"NoncurrentDays": 0}))[0] == (
        "InvalidArgument")
    assert refused(rule(NoncurrentVersionExpiration={}))[0] == "MalformedXML"
    for newer in (0, 101):
        nc = {"NoncurrentDays": 1, "NewerNoncurrentVersions": newer}
        assert refused(rule(NoncurrentVersionExpiration=nc))[0] == "InvalidArgument"
    assert refused(rule(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})) == (
        "InvalidArgument",
        ("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive "
        "integer"))
    tagged = rule(Filter={"And": {"Tags": [{"Key": "k", "Value": "v"}]}},
                  AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})
    assert refused(tagged) == ("InvalidRequest",
                               "AbortIncompleteMultipartUpload cannot be specified with Tags.")


def test_transitions_are_accepted() -> None:
    only = {k: v for k, v in rule().items() if k != "Expiration"}
    validate({"Rules": [only | {"Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
                                "NoncurrentVersionTransitions": [
                                    {"NoncurrentDays": 30, "StorageClass": "STANDARD_IA"}]}]})
    validate({"Rules": [only | {"Transitions": [{"Days": 0, "StorageClass": "GLACIER_IR"},
                                                {"Days": 0, "StorageClass": "DEEP_ARCHIVE"}]}]})
    assert refused(only | {"Transitions": [{"Days": 30}]})[0] == "MalformedXML"
    assert refused(only | {"Transitions": [{"StorageClass": "GLACIER"}]})[0] == "MalformedXML"
    for target in ("STANDARD", "REDUCED_REDUNDANCY", "glacier", "TAPE"):
        assert refused(only | {"Transitions": [{"Days": 40, "StorageClass": target}]})[0] == (
            "MalformedXML")


def test_infrequent_access_transitions_wait_thirty_days() -> None:
    only = {k: v for k, v in rule().items() if k != "Expiration"}
    assert refused(only | {"Transitions": [{"Days": 29, "StorageClass": "STANDARD_IA"}]}) == (
        "InvalidArgument",
        ("'Days' in Transition action for StorageClass 'STANDARD_IA' must be greater than or "
        "equal to 30"))
    assert refused(only | {"NoncurrentVersionTransitions": [
        {"NoncurrentDays": 1, "StorageClass": "ONEZONE_IA"}]}) == (
        "InvalidArgument",
        ("'NoncurrentDays' in NoncurrentVersionTransition action for StorageClass 'ONEZONE_IA' "
        "must be greater than or equal to 30"))


def test_legacy_xml_parses_with_the_current_shape() -> None:
    xml = (b"<LifecycleConfiguration><Rule><ID>a</ID><Prefix>logs/</Prefix>"
           b"<Status>Enabled</Status><Expiration><Days>5</Days></Expiration>"
           b"<Transition><StorageClass>GLACIER</StorageClass><Days>1</Days></Transition>"
           b"</Rule></LifecycleConfiguration>")
    config = validate(parse(xml))
    assert config == {"Rules": [{"ID": "a", "Prefix": "logs/", "Status": "Enabled",
                                 "Expiration": {"Days": 5},
                                 "Transitions": [{"StorageClass": "GLACIER", "Days": 1}]}]}


def test_stored_form_round_trips_dates() -> None:
    config = validate({"Rules": [rule(Expiration={"Date": MIDNIGHT})]})
    text = to_json(config)
    assert '"2030-01-01T00:00:00Z"' in text
    assert from_json(text) == config
