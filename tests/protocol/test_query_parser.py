"""Round-trips botocore's EC2 serializer into our query parser, plus its error cases.

``sample_value`` builds a rich, valid value for any shape of the pinned model, so the
round-trip runs over every EC2 operation; ``test_xml_serializer`` reuses it for outputs.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.parse
import zlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.serialize import create_serializer

from controller.protocol import query_parser
from controller.protocol.errors import (
    InvalidParameterValue,
    MissingParameter,
    ParameterError,
    ParameterTooLarge,
    UnknownParameter,
)
from controller.protocol.model import OperationModel, Shape, operation_model, operation_names
from controller.protocol.query_parser import (
    ENVELOPE_PARAMS,
    MAX_PARAMS,
    MAX_VALUE_LENGTH,
    parse_ec2_query,
    split_envelope,
)

OPERATION_NAMES = sorted(operation_names())
SAMPLE_TIME = datetime(2016, 11, 15, 12, 30, 45, 123000, tzinfo=UTC)


def sample_value(shape: Shape, path: str = "", lists: int = 0) -> Any:
    """A deterministic valid value for ``shape``: every member set, lists of 2 then 1 items."""
    if shape.type_name == "structure":
        return {
            name: sample_value(member, f"{path}.{name}", lists)
            for name, member in shape.members.items()
        }
    if shape.type_name == "list":
        count = 2 if lists == 0 else 1
        return [sample_value(shape.member, f"{path}.{i}", lists + 1) for i in range(count)]
    return _sample_scalar(shape, path)


def _sample_scalar(shape: Shape, path: str) -> Any:
    seed = zlib.crc32(path.encode())
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    kind = shape.type_name
    if kind == "string":
        enum = shape.metadata.get("enum")
        if enum:
            return enum[seed % len(enum)]
        text = f"{path[-12:]} <&>\"' é/+=%{seed % 97}".ljust(low or 0, "x")
        return text[:high] if high is not None else text
    if kind in ("integer", "long"):
        base = 1 if kind == "integer" else 2**40
        if low is None and high is None:
            return base + seed % 1000
        low = low if low is not None else high - 1000
        high = high if high is not None else low + 1000
        return low + seed % (high - low + 1)
    if kind in ("float", "double"):
        value = 0.25 + seed % 100
        return value if low is None and high is None else ((low or 0) + (high or 0)) / 2
    if kind == "boolean":
        return bool(seed & 1)
    if kind == "timestamp":
        return SAMPLE_TIME + timedelta(seconds=seed % 1000)
    if kind == "blob":
        return bytes((seed + i) % 256 for i in range(12))
    raise AssertionError(f"no sample for {kind}")


def to_wire(op: OperationModel, params: dict[str, Any]) -> list[tuple[str, str]]:
    """What botocore would put on the wire for ``params``, decoded back into pairs."""
    body = create_serializer("ec2").serialize_to_request(params, op)["body"]
    encoded = urllib.parse.urlencode(body)
    return urllib.parse.parse_qsl(encoded, keep_blank_values=True, strict_parsing=True)


def op_(name: str) -> OperationModel:
    op = operation_model(name)
    assert op is not None
    return op


# --- round trips: generated inputs over every operation --------------------------------


@pytest.mark.parametrize("name", OPERATION_NAMES)
def test_generated_input_round_trips(name: str) -> None:
    op = op_(name)
    params = sample_value(op.input_shape)
    wire = to_wire(op, params)
    assert len(wire) <= MAX_PARAMS
    assert parse_ec2_query(op, wire) == params
    envelope, rest = split_envelope(wire)
    assert envelope == {"Action": name, "Version": "2016-11-15"}
    assert parse_ec2_query(op, list(reversed(rest))) == params


# --- round trips: hand-written inputs for the first registered operations ----------------

FILTERS = [
    {"Name": "vpc-id", "Values": ["vpc-1", "vpc-2", "vpc-3"]},
    {"Name": "tag:Name", "Values": ["web server", "db=primary&x"]},
]
TAG_SPECS = [
    {"ResourceType": "key-pair", "Tags": [{"Key": "Name", "Value": "k"}, {"Key": "e", "Value": ""}]}
]
PERMISSIONS = [
    {
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh"}, {"CidrIp": "1.2.3.4/32"}],
        "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "v6"}],
        "PrefixListIds": [{"PrefixListId": "pl-1234", "Description": "pl"}],
        "UserIdGroupPairs": [{"GroupId": "sg-1", "UserId": "123456789012"}],
    },
    {"IpProtocol": "-1", "FromPort": -1, "ToPort": -1},
]
HAND_WRITTEN: dict[str, dict[str, Any]] = {
    "DescribeRegions": {"RegionNames": ["r1", "r2"], "AllRegions": True, "Filters": FILTERS},
    "DescribeAvailabilityZones": {
        "ZoneNames": ["r1a"],
        "ZoneIds": ["z1", "z2"],
        "AllAvailabilityZones": False,
        "DryRun": True,
        "Filters": FILTERS,
    },
    "DescribeAccountAttributes": {"AttributeNames": ["supported-platforms", "default-vpc"]},
    "CreateKeyPair": {
        "KeyName": "my key",
        "KeyType": "ed25519",
        "KeyFormat": "pem",
        "TagSpecifications": TAG_SPECS,
        "DryRun": False,
    },
    "ImportKeyPair": {
        "KeyName": "k",
        "PublicKeyMaterial": b"ssh-ed25519 AAAAC3Nza\x00\xff me@host",
        "TagSpecifications": TAG_SPECS,
    },
    "DescribeKeyPairs": {
        "KeyNames": ["a", "b"],
        "KeyPairIds": ["key-1"],
        "IncludePublicKey": True,
        "Filters": FILTERS,
    },
    "DeleteKeyPair": {"KeyName": "a", "KeyPairId": "key-1", "DryRun": False},
    "CreateSecurityGroup": {
        "GroupName": "web",
        "Description": "Web servers",
        "VpcId": "vpc-1",
        "TagSpecifications": [{"ResourceType": "security-group", "Tags": [{"Key": "a"}]}],
    },
    "DescribeSecurityGroups": {
        "GroupIds": ["sg-1", "sg-2"],
        "GroupNames": ["web"],
        "Filters": FILTERS,
        "MaxResults": 5,
        "NextToken": "tok==",
    },
    "DeleteSecurityGroup": {"GroupId": "sg-1", "GroupName": "web", "DryRun": True},
    "AuthorizeSecurityGroupIngress": {
        "GroupId": "sg-1",
        "IpPermissions": PERMISSIONS,
        "TagSpecifications": [{"ResourceType": "security-group-rule", "Tags": [{"Key": "a"}]}],
    },
    "AuthorizeSecurityGroupEgress": {"GroupId": "sg-1", "IpPermissions": PERMISSIONS},
    "RevokeSecurityGroupIngress": {
        "GroupName": "web",
        "IpPermissions": PERMISSIONS,
        "SecurityGroupRuleIds": ["sgr-1", "sgr-2"],
    },
    "RevokeSecurityGroupEgress": {
        "GroupId": "sg-1",
        "SecurityGroupRuleIds": ["sgr-1"],
        "CidrIp": "0.0.0.0/0",
        "FromPort": 0,
        "ToPort": 65535,
        "IpProtocol": "udp",
    },
    "CreateTags": {"Resources": ["i-1", "sg-2"], "Tags": [{"Key": "Name", "Value": "x.y"}]},
    "DeleteTags": {"Resources": ["i-1"], "Tags": [{"Key": "Name"}, {"Key": "k", "Value": ""}]},
    "DescribeTags": {"Filters": FILTERS, "MaxResults": 1000, "NextToken": "n"},
}


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_input_round_trips(name: str) -> None:
    op = op_(name)
    assert parse_ec2_query(op, to_wire(op, HAND_WRITTEN[name])) == HAND_WRITTEN[name]


def test_wire_names_follow_query_name_then_location_name() -> None:
    wire = dict(to_wire(op_("DescribeSecurityGroups"), HAND_WRITTEN["DescribeSecurityGroups"]))
    assert wire["GroupId.2"] == "sg-2"
    assert wire["Filter.2.Value.2"] == "db=primary&x"
    assert "MaxResults" in wire


def test_mapping_input_and_typed_values() -> None:
    params = {
        "Filter.1.Name": "n",
        "Filter.1.Value.1": "",
        "DryRun": "TRUE",
        "MaxResults": "10",
        "GroupName.1": "",
    }
    assert parse_ec2_query(op_("DescribeSecurityGroups"), params) == {
        "Filters": [{"Name": "n", "Values": [""]}],
        "DryRun": True,
        "MaxResults": 10,
        "GroupNames": [""],
    }


def test_sparse_unsorted_list_indices_are_sorted_numerically() -> None:
    wire = [("KeyName.10", "c"), ("KeyName.2", "b"), ("KeyName.1", "a")]
    assert parse_ec2_query(op_("DescribeKeyPairs"), wire) == {"KeyNames": ["a", "b", "c"]}


def test_empty_list_is_omitted_by_botocore_and_absent_here() -> None:
    op = op_("DescribeKeyPairs")
    assert parse_ec2_query(op, to_wire(op, {"KeyNames": [], "DryRun": False})) == {"DryRun": False}


def test_timestamps_become_aware_utc() -> None:
    op = op_("DescribeSpotPriceHistory")
    for text in ("2016-11-15T12:00:00Z", "2016-11-15T12:00:00.000Z", "2016-11-15T13:00:00+01:00"):
        parsed = parse_ec2_query(op, {"StartTime": text})["StartTime"]
        assert parsed == datetime(2016, 11, 15, 12, tzinfo=UTC)
        assert parsed.utcoffset() == timedelta(0)
    naive = parse_ec2_query(op, {"EndTime": "2016-11-15T12:00:00"})["EndTime"]
    assert naive.tzinfo is not None and naive == datetime(2016, 11, 15, 12, tzinfo=UTC)
    eastern = datetime(2020, 1, 1, 7, tzinfo=timezone(timedelta(hours=-5)))
    parsed = parse_ec2_query(op, to_wire(op, {"StartTime": eastern}))["StartTime"]
    assert parsed == eastern and parsed.tzinfo is UTC and parsed.hour == 12


def test_envelope_is_split_and_skipped() -> None:
    wire = [
        ("Action", "DescribeKeyPairs"),
        ("Version", "2016-11-15"),
        ("X-Amz-Credential", "AKID/20240101/r/ec2/aws4_request"),
        ("x-amz-date", "20240101T000000Z"),
        ("Signature", "sig"),
        ("Timestamp", "2024-01-01T00:00:00Z"),
        ("KeyName.1", "a"),
    ]
    envelope, rest = split_envelope(wire)
    assert set(envelope) == {
        "Action",
        "Version",
        "X-Amz-Credential",
        "x-amz-date",
        "Signature",
        "Timestamp",
    }
    assert rest == [("KeyName.1", "a")]
    assert parse_ec2_query(op_("DescribeKeyPairs"), wire) == {"KeyNames": ["a"]}


def test_no_input_member_is_named_like_the_envelope() -> None:
    for name in OPERATION_NAMES:
        wire = dict(to_wire(op_(name), sample_value(op_(name).input_shape)))
        top = {key.split(".")[0] for key in wire} - {"Action", "Version"}
        assert not top & ENVELOPE_PARAMS, name
        assert not any(key.lower().startswith("x-amz-") for key in top), name


def test_model_is_not_loaded_at_import() -> None:
    code = (
        "import controller.protocol.query_parser, controller.protocol.xml_serializer\n"
        "from controller.protocol.model import service_model\n"
        "assert service_model.cache_info().currsize == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_operation_has_no_model() -> None:
    assert operation_model("LaunchRocket") is None
    assert op_("DescribeKeyPairs").name == "DescribeKeyPairs"


# --- errors ------------------------------------------------------------------------------


def error(name: str, params: dict[str, str] | list[tuple[str, str]]) -> ParameterError:
    with pytest.raises(ParameterError) as caught:
        parse_ec2_query(op_(name), params)
    return caught.value


def test_missing_parameter() -> None:
    err = error("CreateKeyPair", {"DryRun": "true"})
    assert isinstance(err, MissingParameter) and err.wire_name == "KeyName"
    assert err.message == "The request must contain the parameter KeyName"
    run = {"ImageId": "ami-1", "MinCount": "1", "MaxCount": "1"}
    nested = error("RunInstances", {**run, "Monitoring.Foo": "x"})
    assert isinstance(nested, UnknownParameter) and nested.wire_name == "Monitoring.Foo"
    nested = error("RunInstances", {**run, "ElasticGpuSpecification.1.Foo": "x"})
    assert isinstance(nested, UnknownParameter)
    monitoring = {**run, "CreditSpecification.CpuCredits": "standard", "Monitoring.Enabled": ""}
    assert isinstance(error("RunInstances", monitoring), InvalidParameterValue)
    missing = error("RunInstances", {**run, "ElasticInferenceAccelerator.1.Count": "1"})
    assert isinstance(missing, MissingParameter)
    assert missing.wire_name == "ElasticInferenceAccelerator.1.Type"
    assert isinstance(
        error("RunInstances", {"ImageId": "ami-1", "MinCount": "1"}), MissingParameter
    )


@pytest.mark.parametrize(
    ("params", "wire_name"),
    [
        ({"Foo": "1"}, "Foo"),
        ({"KeyNames.1": "a"}, "KeyNames"),  # the member name is not the wire name
        ({"Filter.1.Nam": "x"}, "Filter.1.Nam"),
        ({"DryRun.1": "true"}, "DryRun.1"),
        ({"Filter": "x"}, "Filter"),
        ({"Filter.1": "x"}, "Filter.1"),
        ({"dryRun": "true"}, "dryRun"),
    ],
)
def test_unknown_parameter(params: dict[str, str], wire_name: str) -> None:
    err = error("DescribeKeyPairs", params)
    assert isinstance(err, UnknownParameter)
    assert err.wire_name == wire_name
    assert err.message == f"The parameter {wire_name} is not recognized"


def test_operation_without_parameters_rejects_any() -> None:
    op = op_("GetEbsEncryptionByDefault")
    assert parse_ec2_query(op, {}) == {}
    assert isinstance(error("GetEbsEncryptionByDefault", {"Foo": "x"}), UnknownParameter)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "DescribeSecurityGroups",
            {"MaxResults": "abc"},
            "Value (abc) for parameter MaxResults is invalid. Expected: 'Integer'.",
        ),
        (
            "DescribeSecurityGroups",
            {"MaxResults": "1"},
            (
                "Value (1) for parameter MaxResults is invalid. "
                "Expecting a value greater than or equal to 5."
            ),
        ),
        (
            "DescribeSecurityGroups",
            {"MaxResults": "1001"},
            (
                "Value (1001) for parameter MaxResults is invalid. "
                "Expecting a value less than or equal to 1000."
            ),
        ),
        (
            "DescribeKeyPairs",
            {"DryRun": "yes"},
            "Value (yes) for parameter DryRun is invalid. Expected: 'Boolean'.",
        ),
        (
            "ImportKeyPair",
            {"KeyName": "k", "PublicKeyMaterial": "not base64!"},
            "Value for parameter PublicKeyMaterial is invalid. Invalid BASE64 encoding.",
        ),
        (
            "DescribeSpotPriceHistory",
            {"StartTime": "yesterday"},
            (
                "Value (yesterday) for parameter StartTime is invalid. "
                "Expected: an ISO 8601 timestamp."
            ),
        ),
        (
            "DescribeKeyPairs",
            {"KeyName.0": "a"},
            (
                "Value for parameter KeyName.0 is invalid. "
                "A list index must be a whole number of 1 or more."
            ),
        ),
    ],
)
def test_invalid_parameter_value(name: str, params: dict[str, str], message: str) -> None:
    err = error(name, params)
    assert type(err) is InvalidParameterValue
    assert err.message == message == str(err)


@pytest.mark.parametrize(
    "value", ["", "-", "1.0", " 5", "+5", "1_0", "٥", "2147483648", "0x10", "5e2"]
)
def test_bad_integers(value: str) -> None:
    err = error("DescribeTags", {"MaxResults": value})
    assert isinstance(err, InvalidParameterValue) and err.value == value


@pytest.mark.parametrize("index", ["x", "-1", "01", "", "1a", "²"])
def test_bad_list_indices(index: str) -> None:
    err = error("DescribeKeyPairs", {f"KeyName.{index}": "a"})
    assert isinstance(err, InvalidParameterValue)
    assert err.wire_name == f"KeyName.{index}"


def test_duplicate_and_conflicting_keys() -> None:
    for wire in (
        [("KeyName.1", "a"), ("KeyName.1", "b")],
        [("Filter.1.Name", "a"), ("Filter.1.Name.2", "b")],
        [("Filter.1.Name.2", "b"), ("Filter.1.Name", "a")],
    ):
        assert isinstance(error("DescribeKeyPairs", wire), InvalidParameterValue)


def test_float_values() -> None:
    op = op_("PurchaseReservedInstancesOffering")
    base = {"InstanceCount": 1, "ReservedInstancesOfferingId": "r"}
    wire = to_wire(op, {**base, "LimitPrice": {"Amount": 2.5, "CurrencyCode": "USD"}})
    assert ("LimitPrice.Amount", "2.5") in wire
    assert parse_ec2_query(op, wire)["LimitPrice"]["Amount"] == 2.5
    for bad in ("abc", "1_0", " 1", ""):
        swapped = [(k, bad if k == "LimitPrice.Amount" else v) for k, v in wire]
        err = error("PurchaseReservedInstancesOffering", swapped)
        assert isinstance(err, InvalidParameterValue) and err.reason == "Expected: 'Double'."
    fleet = op_("CreateCapacityReservationFleet")
    spec = {"InstanceType": "m5.large", "InstancePlatform": "Linux/UNIX", "Weight": 100.0}
    params = {"InstanceTypeSpecifications": [spec], "TotalTargetCapacity": 1}
    with pytest.raises(InvalidParameterValue, match="less than or equal to 99.999"):
        parse_ec2_query(fleet, to_wire(fleet, params))


def test_size_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    op = op_("DescribeKeyPairs")
    keys = [(f"KeyName.{i}", "k") for i in range(1, MAX_PARAMS + 2)]
    assert len(parse_ec2_query(op, keys[:MAX_PARAMS])["KeyNames"]) == MAX_PARAMS
    too_many = error("DescribeKeyPairs", keys)
    assert isinstance(too_many, ParameterTooLarge) and too_many.wire_name == ""
    assert too_many.message == "The request is invalid. It has more than 1000 parameters."

    monkeypatch.setattr(query_parser, "MAX_LIST_ITEMS", 3)
    listed = error("DescribeKeyPairs", [("Filter.1.Name", "n")] + keys[:4])
    assert isinstance(listed, ParameterTooLarge) and listed.wire_name == "KeyName"
    monkeypatch.undo()

    long = error("DescribeKeyPairs", {"KeyName.1": "x" * (MAX_VALUE_LENGTH + 1)})
    assert isinstance(long, ParameterTooLarge) and isinstance(long, InvalidParameterValue)
    assert long.wire_name == "KeyName.1" and "xxxx" not in long.message
    assert parse_ec2_query(op, {"KeyName.1": "x" * MAX_VALUE_LENGTH})


def test_long_echoed_values_are_truncated() -> None:
    err = error("DescribeTags", {"MaxResults": "9" * 1000})
    assert len(err.message) < 400 and "..." in err.message


def test_enums_are_left_to_handlers() -> None:
    # EC2 accepts values botocore's enums lack (DescribeAccountAttributes: max-instances).
    parsed = parse_ec2_query(op_("DescribeAccountAttributes"), {"AttributeName.1": "max-instances"})
    assert parsed == {"AttributeNames": ["max-instances"]}


@pytest.mark.parametrize("bad", ["a\x00", "\x01", "x\ud800", "\ufffe"])
def test_characters_xml_cannot_carry_are_refused(bad: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        parse_ec2_query(op_("DescribeKeyPairs"), {"KeyName.1": bad})
    assert caught.value.wire_name == "KeyName.1"
    assert bad not in caught.value.message


def test_tabs_newlines_and_astral_characters_are_fine() -> None:
    value = "t\tn\nr\r ünï 😀"
    assert parse_ec2_query(op_("DescribeKeyPairs"), {"KeyName.1": value}) == {"KeyNames": [value]}
