"""CloudWatch wire formats against botocore in all three protocols: botocore's serializers into
our parsers, our serializers (and error envelopes) into botocore's parsers; the CBOR codec."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import cbor2
import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from controller.cloudwatch import errors
from controller.cloudwatch.endpoint import CloudWatchEndpoint, rpc_operation
from controller.protocol import cbor
from controller.protocol.document import decode_document, encode_document
from controller.protocol.errors import InvalidParameterValue, MissingParameter
from controller.protocol.model import service_model
from controller.protocol.query_parser import parse_aws_query, split_envelope

WIRES = ["query", "json", "smithy-rpc-v2-cbor"]
T0 = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 21, 7, 5, 30, 250000, tzinfo=UTC)

INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("PutMetricData", {"Namespace": "App", "MetricData": [
        {"MetricName": "Latency", "Dimensions": [{"Name": "Svc", "Value": "a"}], "Timestamp": T1,
         "Values": [1.5, 2.0], "Counts": [3.0, 1.0], "Unit": "Milliseconds",
         "StorageResolution": 1},
        {"MetricName": "Set", "StatisticValues": {"SampleCount": 2.0, "Sum": 3.0,
                                                  "Minimum": 1.0, "Maximum": 2.0}},
        {"MetricName": "One", "Value": -0.25, "Dimensions": []}]}),
    ("GetMetricStatistics", {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                             "Dimensions": [{"Name": "InstanceId", "Value": "i-1"}],
                             "StartTime": T0, "EndTime": T1, "Period": 300,
                             "Statistics": ["Average", "Maximum"],
                             "ExtendedStatistics": ["p99.9"], "Unit": "Percent"}),
    ("ListMetrics", {"Namespace": "N", "Dimensions": [{"Name": "a"}, {"Name": "b", "Value": "c"}],
                     "NextToken": "tok", "RecentlyActive": "PT3H"}),
    ("GetMetricData", {"MetricDataQueries": [
        {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "x"},
                                    "Period": 60, "Stat": "p90"}, "ReturnData": False},
        {"Id": "e1", "Expression": "SUM(METRICS())", "Label": "all"}],
        "StartTime": T0, "EndTime": T1, "ScanBy": "TimestampAscending", "MaxDatapoints": 10}),
    ("PutMetricAlarm", {"AlarmName": "high", "ActionsEnabled": False,
                        "AlarmActions": ["arn:aws:automate:us-east-1:ec2:stop"], "OKActions": [],
                        "MetricName": "CPUUtilization", "Namespace": "AWS/EC2",
                        "Statistic": "Average", "Period": 60, "EvaluationPeriods": 3,
                        "DatapointsToAlarm": 2, "Threshold": 80.5,
                        "ComparisonOperator": "GreaterThanThreshold",
                        "TreatMissingData": "breaching"}),
    ("DescribeAlarmHistory", {"AlarmName": "high", "HistoryItemType": "StateUpdate",
                              "StartDate": T0, "EndDate": T1, "MaxRecords": 5}),
]


def _op(name: str) -> Any:
    return service_model("cloudwatch").operation_model(name)


def _without_empty_lists(value: Any) -> Any:
    """Query sends an empty list as ``Name=``; JSON and CBOR send ``[]``: both mean 'none'."""
    if isinstance(value, dict):
        return {k: _without_empty_lists(v) for k, v in value.items() if v != []}
    if isinstance(value, list):
        return [_without_empty_lists(v) for v in value]
    return value


def _parse(wire: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    request = create_serializer(wire).serialize_to_request(params, _op(name))
    if wire == "query":
        _, rest = split_envelope([(k, str(v)) for k, v in request["body"].items()])
        return parse_aws_query(_op(name), rest)
    if wire == "json":
        assert request["headers"]["X-Amz-Target"] == f"GraniteServiceVersion20100801.{name}"
        return decode_document(_op(name).input_shape, json.loads(request["body"]), "json")
    assert request["url_path"].endswith(f"/operation/{name}")
    assert rpc_operation("POST", request["url_path"], {k.lower(): v for k, v in
                                                       request["headers"].items()}) == ("cbor", name)
    return decode_document(_op(name).input_shape, cbor.decode(request["body"]), "cbor")


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize(("name", "params"), INPUTS, ids=[n for n, _ in INPUTS])
def test_botocore_requests_parse_back(wire: str, name: str, params: dict[str, Any]) -> None:
    assert _without_empty_lists(_parse(wire, name, params)) == _without_empty_lists(params)


OUTPUTS: list[tuple[str, dict[str, Any]]] = [
    ("GetMetricStatistics", {"Label": "CPUUtilization", "Datapoints": [
        {"Timestamp": T0, "SampleCount": 5.0, "Average": 12.5, "Unit": "Percent",
         "ExtendedStatistics": {"p99": 30.25}},
        {"Timestamp": T1, "Maximum": 1e-7, "Unit": "None"}]}),
    ("ListMetrics", {"Metrics": [{"Namespace": "N", "MetricName": "m",
                                  "Dimensions": [{"Name": "a", "Value": "<&>"}]}],
                     "NextToken": "abc"}),
    ("GetMetricData", {"MetricDataResults": [
        {"Id": "e1", "Label": "all", "Timestamps": [T0, T1], "Values": [1.0, 2.5],
         "StatusCode": "Complete", "Messages": []}], "Messages": []}),
    ("DescribeAlarms", {"MetricAlarms": [
        {"AlarmName": "a", "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a",
         "ActionsEnabled": True, "OKActions": [], "AlarmActions": ["arn:x"],
         "InsufficientDataActions": [], "StateValue": "ALARM", "StateReason": "r",
         "StateUpdatedTimestamp": T1, "AlarmConfigurationUpdatedTimestamp": T0,
         "MetricName": "m", "Namespace": "N", "Statistic": "Average", "Dimensions": [],
         "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
         "ComparisonOperator": "GreaterThanThreshold"}], "CompositeAlarms": []}),
    ("PutMetricData", {}),
]


def _render(wire: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
    short = {"smithy-rpc-v2-cbor": "cbor"}.get(wire, wire)
    reply = CloudWatchEndpoint._render(short, _op(name), data, "req-1")  # type: ignore[arg-type]
    response = {"status_code": reply.status, "headers": dict(reply.headers), "body": reply.body}
    parsed = create_parser(wire).parse(response, _op(name).output_shape)
    parsed.pop("ResponseMetadata", None)
    return dict(parsed)


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize(("name", "data"), OUTPUTS, ids=[n for n, _ in OUTPUTS])
def test_our_responses_parse_in_botocore(wire: str, name: str, data: dict[str, Any]) -> None:
    assert _without_empty_lists(_render(wire, name, data)) == _without_empty_lists(data)


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("error", [
    errors.InvalidParameterValue("bad <value>"), errors.InvalidParameterCombination("both"),
    errors.MissingParameter("gone"), errors.ResourceNotFound("no such alarm"),
    errors.InternalServiceError(), errors.InvalidNextToken(), errors.InvalidClientTokenId()])
def test_errors_parse_in_botocore(wire: str, error: errors.CloudWatchError) -> None:
    short = {"smithy-rpc-v2-cbor": "cbor"}.get(wire, wire)
    reply = CloudWatchEndpoint._error(short, error, "Op", "req-9")  # type: ignore[arg-type]
    assert reply.status == error.http_status
    response = {"status_code": reply.status, "headers": dict(reply.headers), "body": reply.body}
    parsed = create_parser(wire).parse(response, None)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["Error"]["Message"] == error.message
    if wire == "query":
        assert parsed["ResponseMetadata"]["RequestId"] == "req-9"


def test_cbor_timestamps_are_tag_1() -> None:
    encoded = cbor.encode({"t": cbor.timestamp(T1), "whole": cbor.timestamp(T0)})
    # tag 1 (0xc1) on a double (0xfb) for fractions, on a 32-bit unsigned (0x1a) otherwise
    assert b"\xc1\xfb" + cbor2.dumps(T1.timestamp())[1:] in encoded
    assert b"\xc1\x1a" + cbor2.dumps(int(T0.timestamp()))[1:] in encoded
    assert cbor.decode(encoded) == {"t": T1, "whole": T0}


def test_cbor_refuses_malformed_and_deep_input() -> None:
    with pytest.raises(cbor.CborError):
        cbor.decode(b"\xa1\x61")  # a map whose key is cut short
    deep: Any = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(cbor.CborError):
        cbor.decode(cbor2.dumps(deep))
    assert cbor.decode(b"") == {}


def test_document_types_are_checked() -> None:
    shape = _op("GetMetricStatistics").input_shape
    good = {"Namespace": "N", "MetricName": "m", "StartTime": 0, "EndTime": 60, "Period": 60}
    assert decode_document(shape, good, "json")["EndTime"] == datetime.fromtimestamp(60, UTC)
    with pytest.raises(InvalidParameterValue):
        decode_document(shape, {**good, "Period": "60"}, "json")
    with pytest.raises(InvalidParameterValue):
        decode_document(shape, {**good, "Period": True}, "cbor")
    with pytest.raises(MissingParameter):
        decode_document(shape, {"Namespace": "N"}, "cbor")
    put = _op("PutMetricData").input_shape
    parsed = decode_document(put, {"Namespace": "N", "MetricData": [
        {"MetricName": "m", "Value": "NaN", "Unknown": 1}]}, "json")
    assert math.isnan(parsed["MetricData"][0]["Value"])
    assert "Unknown" not in parsed["MetricData"][0]
    out = encode_document(_op("GetMetricData").output_shape, {"MetricDataResults": [
        {"Id": "a", "Values": [math.inf]}]}, "json")
    assert out == {"MetricDataResults": [{"Id": "a", "Values": ["Infinity"]}]}
    with pytest.raises(ValueError):
        encode_document(_op("ListMetrics").output_shape, {"Nope": 1}, "cbor")


def test_query_lists_and_empty_lists() -> None:
    op = _op("ListMetrics")
    assert parse_aws_query(op, [("Dimensions", "")]) == {"Dimensions": []}
    assert parse_aws_query(op, [("Dimensions.member.2.Name", "b"),
                                ("Dimensions.member.1.Name", "a")]) == {
        "Dimensions": [{"Name": "a"}, {"Name": "b"}]}
    with pytest.raises(Exception, match="Dimensions.1"):
        parse_aws_query(op, [("Dimensions.1.Name", "a")])


def test_every_registered_operation_is_in_the_model() -> None:
    from controller.cloudwatch.registry import operations

    names = set(service_model("cloudwatch").operation_names)
    assert set(operations()) <= names
    assert len(operations()) == 12


def test_docs_list_every_operation() -> None:
    from pathlib import Path

    from controller.cloudwatch.registry import operations

    text = (Path(__file__).resolve().parents[2] / "docs" / "cloudwatch.md").read_text()
    for name in operations():
        assert name in text, name
