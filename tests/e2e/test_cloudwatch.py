"""CloudWatch end to end: a real server, boto3 (rpc-v2-cbor and JSON), the AWS CLI and boto 2
(Query); node samples POSTed over HTTP as a node agent sends them; an alarm whose action
really terminates a (fake-node) instance."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import AwsCli, AwsCliError, Server, running_server
from tests.e2e.cloudwatch_clients import (
    boto2_client,
    boto3_client,
    close_boto2,
    model_with_protocol,
)
from tests.e2e.fake_nodes import FakeCluster, NodeShape, fake_cluster
from tests.e2e.test_images import upload_image


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"IRONBARK_NODE_HEARTBEAT_SECONDS": "0.3",
           "IRONBARK_INSTANCE_RECONCILE_SECONDS": "0.2",
           "IRONBARK_CLOUDWATCH_ALARM_SECONDS": "0.5",
           "IRONBARK_PRIVATE_SUBNET": "127.78.0.0/24"}
    with running_server(db_backend, tmp_path_factory, env) as srv:
        yield srv


@pytest.fixture(scope="module")
def cluster(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCluster]:
    shapes = [NodeShape("cw-node")]
    with fake_cluster(server, tmp_path_factory.mktemp("fakes"), shapes) as fakes:
        yield fakes


@pytest.fixture
def cw(server: Server, account: Credentials) -> Iterator[Any]:
    client = boto3_client(server, account)
    yield client
    client.close()


@pytest.fixture
def boto2_cw(server: Server, account: Credentials) -> Iterator[Any]:
    conn = boto2_client(server, account)
    yield conn
    close_boto2(conn)


def code_of(call: Any) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def _minute(delta: int = 0) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now + timedelta(minutes=delta)


def test_put_get_list_with_boto3(cw: Any) -> None:
    ns = f"App/{uuid.uuid4().hex[:8]}"
    dims = [{"Name": "Service", "Value": "api"}]
    at = _minute(-2)
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": at, "Unit": "Milliseconds",
         "Values": [10.0, 20.0, 1000.0], "Counts": [50.0, 49.0, 1.0]},
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": at + timedelta(seconds=30),
         "Unit": "Milliseconds", "StatisticValues": {"SampleCount": 2, "Sum": 30, "Minimum": 5,
                                                     "Maximum": 25}},
        {"MetricName": "Requests", "Timestamp": at, "Value": 7, "Unit": "Count"}])
    got = cw.get_metric_statistics(
        Namespace=ns, MetricName="Latency", Dimensions=dims, StartTime=at - timedelta(minutes=5),
        EndTime=at + timedelta(minutes=5), Period=60,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"])
    [point] = got["Datapoints"]
    assert got["Label"] == "Latency"
    assert point["Timestamp"] == at and point["Unit"] == "Milliseconds"
    assert point["SampleCount"] == 102 and point["Sum"] == 10 * 50 + 20 * 49 + 1000 + 30
    assert (point["Minimum"], point["Maximum"]) == (5, 1000)
    assert point["Average"] == pytest.approx(point["Sum"] / 102)
    # Percentiles need values: the statistic set merged in makes the minute's p99 unavailable.
    only_values = cw.get_metric_statistics(
        Namespace=ns, MetricName="Requests", StartTime=at, EndTime=at + timedelta(minutes=1),
        Period=60, ExtendedStatistics=["p99"])
    assert only_values["Datapoints"][0]["ExtendedStatistics"] == {"p99": 7.0}
    metrics = cw.list_metrics(Namespace=ns)["Metrics"]
    assert sorted(m["MetricName"] for m in metrics) == ["Latency", "Requests"]
    filtered = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Service"}])["Metrics"]
    assert [m["MetricName"] for m in filtered] == ["Latency"]
    assert filtered[0]["Dimensions"] == dims
    assert cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Service", "Value": "web"}])[
        "Metrics"] == []


def test_percentiles(cw: Any) -> None:
    ns = f"P/{uuid.uuid4().hex[:8]}"
    at = _minute(-1)
    values = [float(v) for v in range(1, 101)]
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "m", "Timestamp": at, "Values": values}])
    got = cw.get_metric_statistics(Namespace=ns, MetricName="m", StartTime=at,
                                   EndTime=at + timedelta(minutes=1), Period=60,
                                   ExtendedStatistics=["p50", "p90", "p99", "p100"])
    stats = got["Datapoints"][0]["ExtendedStatistics"]
    assert stats["p50"] == pytest.approx(50, rel=0.02)
    assert stats["p90"] == pytest.approx(90, rel=0.02)
    assert stats["p99"] == pytest.approx(99, rel=0.02)
    assert stats["p100"] == 100


def test_validation_errors(cw: Any) -> None:
    now = datetime.now(UTC)
    assert code_of(lambda: cw.put_metric_data(
        Namespace="AWS/EC2", MetricData=[{"MetricName": "x", "Value": 1}])) == \
        "InvalidParameterValue"
    assert code_of(lambda: cw.put_metric_data(
        Namespace="N", MetricData=[{"MetricName": "x", "Value": 1, "Values": [1.0]}])) == \
        "InvalidParameterCombination"
    assert code_of(lambda: cw.put_metric_data(
        Namespace="N", MetricData=[{"MetricName": "x", "Value": 1,
                                    "Timestamp": now - timedelta(days=15)}])) == \
        "InvalidParameterValue"
    assert code_of(lambda: cw.put_metric_data(
        Namespace="N", MetricData=[{"MetricName": "x", "Values": [1.0, 2.0],
                                    "Counts": [1.0]}])) == "InvalidParameterValue"
    with pytest.raises(ClientError) as info:
        cw.get_metric_statistics(Namespace="N", MetricName="x", StartTime=now - timedelta(days=2),
                                 EndTime=now, Period=60, Statistics=["Average"])
    assert info.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "exceeds the limit of 1,440" in info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert code_of(lambda: cw.get_metric_statistics(
        Namespace="N", MetricName="x", StartTime=now - timedelta(hours=1), EndTime=now,
        Period=61, Statistics=["Average"])) == "InvalidParameterValue"
    assert code_of(lambda: cw.get_metric_statistics(
        Namespace="N", MetricName="x", StartTime=now - timedelta(hours=1), EndTime=now,
        Period=60)) == "InvalidParameterCombination"
    assert code_of(lambda: cw.list_metrics(NextToken="garbage")) == "InvalidNextToken"
    assert code_of(lambda: cw.put_metric_data(
        Namespace="bad$name", MetricData=[{"MetricName": "x", "Value": 1}])) == \
        "InvalidParameterValue"
    assert code_of(lambda: cw.delete_alarms(AlarmNames=["nope"])) == "ResourceNotFound"


def test_json_protocol(server: Server, account: Credentials, tmp_path: Path) -> None:
    client = boto3_client(server, account, model_with_protocol(tmp_path, "json"))
    assert client.meta.service_model.protocol == "json"
    ns = f"J/{uuid.uuid4().hex[:8]}"
    at = _minute(-1)
    client.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 3.5,
                                                      "Timestamp": at}])
    got = client.get_metric_statistics(Namespace=ns, MetricName="m", StartTime=at,
                                       EndTime=at + timedelta(minutes=1), Period=60,
                                       Statistics=["Maximum"])
    assert [(p["Timestamp"], p["Maximum"]) for p in got["Datapoints"]] == [(at, 3.5)]
    assert code_of(lambda: client.put_metric_data(
        Namespace="AWS/X", MetricData=[{"MetricName": "m", "Value": 1}])) == \
        "InvalidParameterValue"


def test_query_protocol_with_botocore(server: Server, account: Credentials,
                                      tmp_path: Path) -> None:
    client = boto3_client(server, account, model_with_protocol(tmp_path, "query"))
    ns = f"Q/{uuid.uuid4().hex[:8]}"
    client.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "m", "Value": 1, "Dimensions": [{"Name": "a", "Value": "b"}]}])
    assert client.list_metrics(Namespace=ns)["Metrics"] == [
        {"Namespace": ns, "MetricName": "m", "Dimensions": [{"Name": "a", "Value": "b"}]}]
    assert code_of(lambda: client.list_metrics(NextToken="x")) == "InvalidNextToken"


def test_aws_cli(aws: AwsCli) -> None:
    ns = f"Cli/{uuid.uuid4().hex[:8]}"
    at = _minute(-1)
    aws("cloudwatch", "put-metric-data", "--namespace", ns, "--metric-name", "Hits",
        "--value", "4", "--unit", "Count", "--dimensions", "Site=a",
        "--timestamp", at.isoformat())
    listed = aws("cloudwatch", "list-metrics", "--namespace", ns)
    assert listed["Metrics"] == [{"Namespace": ns, "MetricName": "Hits",
                                  "Dimensions": [{"Name": "Site", "Value": "a"}]}]
    got = aws("cloudwatch", "get-metric-statistics", "--namespace", ns, "--metric-name", "Hits",
              "--dimensions", "Name=Site,Value=a", "--statistics", "Sum",
              "--start-time", (at - timedelta(minutes=5)).isoformat(),
              "--end-time", (at + timedelta(minutes=5)).isoformat(), "--period", "300")
    assert [p["Sum"] for p in got["Datapoints"]] == [4.0]
    with pytest.raises(AwsCliError) as info:
        aws("cloudwatch", "put-metric-data", "--namespace", "AWS/EC2", "--metric-name", "x",
            "--value", "1")
    assert info.value.code == "InvalidParameterValue"


# --- EC2 metrics from node samples, boto 2, alarms ---------------------------------------------


@pytest.fixture
def image(ec2: Any, s3: Any, cluster: FakeCluster) -> str:
    bucket = f"img-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    aki = ec2.register_image(Name="kernel", ImageLocation=upload_image(s3, bucket, "k", "kernel",
                                                                 b"K" * 64))
    ari = ec2.register_image(Name="ramdisk", ImageLocation=upload_image(s3, bucket, "r", "ramdisk",
                                                                 b"R" * 32))
    ami = ec2.register_image(Name="machine", ImageLocation=upload_image(s3, bucket, "m", "machine",
                                                                 b"M" * 512),
                             KernelId=aki["ImageId"], RamdiskId=ari["ImageId"])
    return str(ami["ImageId"])


def launch(ec2: Any, image: str, monitoring: bool) -> str:
    reply = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m1.small",
                              Monitoring={"Enabled": monitoring})
    instance_id = str(reply["Instances"][0]["InstanceId"])
    wait_state(ec2, instance_id, "running")
    return instance_id


def wait_state(ec2: Any, instance_id: str, state: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        reply = ec2.describe_instances(InstanceIds=[instance_id])
        now = reply["Reservations"][0]["Instances"][0]["State"]["Name"]
        if now == state:
            return
        assert time.monotonic() < deadline, now
        time.sleep(0.2)


def sample(instance_id: str, start: datetime, cpu_percent: float,
           **counters: int) -> dict[str, Any]:
    return {"instance_id": instance_id, "start": start.isoformat(),
            "end": (start + timedelta(minutes=1)).isoformat(), "vcpus": 1,
            "cpu_time_ns": int(cpu_percent / 100 * 60e9), **counters}


def post_samples(server: Server, cluster: FakeCluster, samples: list[dict[str, Any]],
                 credential: str | None = None) -> httpx.Response:
    identity = cluster.links["cw-node"].identity
    assert identity is not None
    return httpx.post(f"{server.endpoint}_ironbark/nodes/metrics",
                      json={"node_id": identity.node_id, "samples": samples},
                      headers={"Authorization": f"Bearer {credential or identity.credential}"},
                      trust_env=False, timeout=30)


def test_node_samples_become_ec2_metrics(cw: Any, ec2: Any, image: str, server: Server,
                                         cluster: FakeCluster, boto2_cw: Any) -> None:
    detailed = launch(ec2, image, monitoring=True)
    basic = launch(ec2, image, monitoring=False)
    start = _minute(-10)
    start -= timedelta(minutes=start.minute % 5)  # the five samples fill one 5-minute period
    batch = [sample(i, start + timedelta(minutes=m), 25.0 + m, net_in_bytes=1000)
             for m in range(5) for i in (detailed, basic)]
    batch.append(sample("i-0123456789abcdef0", start, 50.0))  # not this node's: ignored
    reply = post_samples(server, cluster, batch)
    assert reply.status_code == 200 and reply.json() == {"accepted": 10}
    assert post_samples(server, cluster, batch).json() == {"accepted": 10}  # a retry
    assert post_samples(server, cluster, batch, credential="wrong").status_code == 403
    bad = post_samples(server, cluster, [{"instance_id": detailed}])
    assert bad.status_code == 400

    def stats(instance_id: str | None, name: str, period: int, stat: str) -> list[Any]:
        dims = [{"Name": "InstanceId", "Value": instance_id}] if instance_id else []
        got = cw.get_metric_statistics(Namespace="AWS/EC2", MetricName=name, Dimensions=dims,
                                       StartTime=start, EndTime=start + timedelta(minutes=10),
                                       Period=period, Statistics=[stat])
        return [(p["Timestamp"], p[stat], p["Unit"]) for p in got["Datapoints"]]

    cpu = stats(detailed, "CPUUtilization", 60, "Average")
    assert [round(v, 6) for _, v, _ in cpu] == [25.0, 26.0, 27.0, 28.0, 29.0]
    assert {u for _, _, u in cpu} == {"Percent"}
    assert [v for _, v, _ in stats(detailed, "NetworkIn", 60, "Sum")] == [1000.0] * 5  # no double count
    # Basic monitoring: no 1-minute periods, the 5-minute ones answer a 60 s Period.
    basic_cpu = stats(basic, "CPUUtilization", 60, "SampleCount")
    assert basic_cpu and all(t.minute % 5 == 0 for t, _, _ in basic_cpu)
    assert sum(v for _, v, _ in basic_cpu) == 5
    # The aggregate (no dimensions) holds the detailed instance only, as in AWS.
    assert sum(v for _, v, _ in stats(None, "CPUUtilization", 600, "SampleCount")) == 5
    names = {m["MetricName"] for m in cw.list_metrics(
        Namespace="AWS/EC2", Dimensions=[{"Name": "InstanceId", "Value": detailed}])["Metrics"]}
    assert {"CPUUtilization", "NetworkIn", "DiskReadOps", "StatusCheckFailed",
            "StatusCheckFailed_System", "NetworkPacketsOut"} <= names
    image_dims = cw.list_metrics(Namespace="AWS/EC2", MetricName="CPUUtilization",
                                 Dimensions=[{"Name": "ImageId", "Value": image}])["Metrics"]
    assert len(image_dims) == 1
    # boto 2 (Query protocol): list_metrics() and metric.query(start, end, 'Average', 'Percent')
    found = [m for m in boto2_cw.list_metrics(metric_name="CPUUtilization", namespace="AWS/EC2")
             if m.dimensions == {"InstanceId": [detailed]}]
    assert len(found) == 1
    points = found[0].query(start.replace(tzinfo=None),
                            (start + timedelta(minutes=10)).replace(tzinfo=None),
                            "Average", "Percent", period=60)
    assert sorted(round(p["Average"], 6) for p in points) == [25.0, 26.0, 27.0, 28.0, 29.0]


def test_samples_of_any_length_make_one_sample_a_minute(cw: Any, ec2: Any, image: str,
                                                        server: Server,
                                                        cluster: FakeCluster) -> None:
    """A node sampling every 10 s, or every 90 s: each minute holds one sample's worth (as
    AWS's one sample a minute), counters as the amounts of that minute."""
    instance_id = launch(ec2, image, monitoring=True)
    start = _minute(-6)
    tens = [dict(sample(instance_id, start + timedelta(seconds=10 * n), 30.0 + n,
                        net_in_bytes=600, disk_write_ops=6),
                 end=(start + timedelta(seconds=10 * n + 10)).isoformat(),
                 cpu_time_ns=int((30.0 + n) / 100 * 10e9)) for n in range(6)]
    later = start + timedelta(minutes=2)  # 90 s: the whole of one minute, half of the next
    long = dict(sample(instance_id, later, 40.0, net_in_bytes=9000, disk_write_ops=3),
                end=(later + timedelta(seconds=90)).isoformat(),
                cpu_time_ns=int(0.4 * 90e9))
    assert post_samples(server, cluster, [*tens, long]).json() == {"accepted": 7}

    def stats(name: str) -> list[dict[str, Any]]:
        got = cw.get_metric_statistics(
            Namespace="AWS/EC2", MetricName=name, StartTime=start,
            EndTime=start + timedelta(minutes=5), Period=60,
            Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
            Statistics=["SampleCount", "Sum", "Average", "Maximum"])
        return sorted(got["Datapoints"], key=lambda p: p["Timestamp"])

    first, whole, half = stats("CPUUtilization")
    assert [p["Timestamp"] for p in (first, whole, half)] == [
        start, later, later + timedelta(minutes=1)]
    assert first["SampleCount"] == pytest.approx(1.0)
    assert first["Average"] == pytest.approx(32.5) and first["Maximum"] == pytest.approx(35.0)
    assert whole["SampleCount"] == pytest.approx(1.0) and whole["Average"] == pytest.approx(40)
    assert half["SampleCount"] == pytest.approx(0.5) and half["Average"] == pytest.approx(40)
    net = stats("NetworkIn")
    assert [p["Sum"] for p in net] == pytest.approx([3600.0, 6000.0, 3000.0])
    assert [p["Average"] for p in net] == pytest.approx([3600.0, 6000.0, 6000.0])  # per minute
    assert [p["Sum"] for p in stats("DiskWriteOps")] == pytest.approx([36.0, 2.0, 1.0])
    assert [p["Maximum"] for p in stats("StatusCheckFailed")] == [0.0, 0.0, 0.0]


def test_alarm_terminates_instance(cw: Any, ec2: Any, image: str, server: Server,
                                   cluster: FakeCluster, account: Credentials) -> None:
    instance_id = launch(ec2, image, monitoring=True)
    name = f"cpu-high-{uuid.uuid4().hex[:6]}"
    dims = [{"Name": "InstanceId", "Value": instance_id}]
    cw.put_metric_alarm(AlarmName=name, Namespace="AWS/EC2", MetricName="CPUUtilization",
                        Dimensions=dims, Statistic="Average", Period=60, EvaluationPeriods=3,
                        DatapointsToAlarm=1, Threshold=80.0,
                        ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=["arn:aws:automate:us-east-1:ec2:terminate"])
    [alarm] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:{account.account_id}:alarm:{name}"
    assert [a["AlarmName"] for a in cw.describe_alarms_for_metric(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=dims)["MetricAlarms"]] == [name]
    start = _minute(-3)
    assert post_samples(server, cluster, [sample(instance_id, start + timedelta(minutes=m), 95.0)
                                          for m in range(3)]).json() == {"accepted": 3}
    wait_state(ec2, instance_id, "terminated")
    deadline = time.monotonic() + 10  # and the node really dropped the domain
    while instance_id in cluster.nodes["cw-node"].instances.specs:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    [alarm] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed")
    history = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    kinds = [h["HistoryItemType"] for h in history]
    assert {"ConfigurationUpdate", "StateUpdate", "Action"} <= set(kinds)
    action = next(h for h in history if h["HistoryItemType"] == "Action")
    assert action["HistorySummary"].startswith("Successfully executed action")
    assert json.loads(action["HistoryData"])["actionState"] == "Succeeded"


def test_alarm_api(cw: Any, boto2_cw: Any) -> None:
    name = f"a-{uuid.uuid4().hex[:6]}"
    base: dict[str, Any] = {
        "Namespace": "Custom", "MetricName": "Load", "Statistic": "Maximum", "Period": 60,
        "EvaluationPeriods": 2, "Threshold": 1.0, "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "notBreaching"}
    cw.put_metric_alarm(AlarmName=name, **base)
    assert code_of(lambda: cw.put_metric_alarm(
        AlarmName="bad", **{**base, "ComparisonOperator": "Bigger"})) == "InvalidParameterValue"
    assert code_of(lambda: cw.put_metric_alarm(
        AlarmName="bad", ExtendedStatistic="p99", **base)) == "InvalidParameterCombination"
    assert code_of(lambda: cw.put_metric_alarm(
        AlarmName="bad", AlarmActions=["arn:aws:automate:us-east-1:ec2:stop"], **base)) == \
        "InvalidParameterValue"  # an EC2 action needs an InstanceId dimension
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing")
    # (the evaluation loop, every 0.5 s here, soon moves it back: the history keeps the change)
    changes = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    assert any(json.loads(h["HistoryData"])["newState"] == {"stateValue": "ALARM",
                                                            "stateReason": "testing"}
               for h in changes["AlarmHistoryItems"])
    assert code_of(lambda: cw.set_alarm_state(AlarmName=name, StateValue="ALARM",
                                              StateReason="x", StateReasonData="{nope")) == \
        "InvalidFormat"
    assert code_of(lambda: cw.set_alarm_state(AlarmName="missing", StateValue="OK",
                                              StateReason="x")) == "ResourceNotFound"
    cw.disable_alarm_actions(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=[name])
    # notBreaching: no data is OK, and the evaluation loop says so within a second or two.
    deadline = time.monotonic() + 10
    while cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] != "OK":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    updates = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    summaries = [h["HistorySummary"] for h in updates["AlarmHistoryItems"]]  # newest first
    assert summaries[0] == "Alarm updated from ALARM to OK"
    assert summaries[-1].startswith("Alarm updated from INSUFFICIENT_DATA to ")
    assert [a.name for a in boto2_cw.describe_alarms(alarm_name_prefix=name)] == [name]
    for suffix in ("-1", "-2", "-3"):
        cw.put_metric_alarm(AlarmName=name + suffix, **base)
    page = cw.describe_alarms(AlarmNamePrefix=name + "-", MaxRecords=2)
    assert [a["AlarmName"] for a in page["MetricAlarms"]] == [name + "-1", name + "-2"]
    rest = cw.describe_alarms(AlarmNamePrefix=name + "-", MaxRecords=2,
                              NextToken=page["NextToken"])
    assert [a["AlarmName"] for a in rest["MetricAlarms"]] == [name + "-3"]
    assert "NextToken" not in rest
    cw.delete_alarms(AlarmNames=[name + s for s in ("-1", "-2", "-3")])
    cw.delete_alarms(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_get_metric_data(cw: Any) -> None:
    ns = f"D/{uuid.uuid4().hex[:8]}"
    at = _minute(-4)
    data = [{"MetricName": name, "Timestamp": at + timedelta(minutes=m), "Value": value * (m + 1)}
            for m in range(3) for name, value in (("Errors", 1.0), ("Requests", 10.0))]
    cw.put_metric_data(Namespace=ns, MetricData=data)

    def stat(name: str) -> dict[str, Any]:
        return {"Metric": {"Namespace": ns, "MetricName": name}, "Period": 60, "Stat": "Sum"}

    queries = [{"Id": "e", "MetricStat": stat("Errors"), "ReturnData": False},
               {"Id": "r", "MetricStat": stat("Requests")},
               {"Id": "rate", "Expression": "100 * e / r", "Label": "Error rate"},
               {"Id": "total", "Expression": "SUM(METRICS())"}]
    got = cw.get_metric_data(MetricDataQueries=queries, StartTime=at,
                             EndTime=at + timedelta(minutes=3), ScanBy="TimestampAscending")
    results = {r["Id"]: r for r in got["MetricDataResults"]}
    assert set(results) == {"r", "rate", "total"}
    assert results["r"]["Values"] == [10.0, 20.0, 30.0] and results["r"]["Label"] == "Requests"
    assert results["r"]["Timestamps"] == [at + timedelta(minutes=m) for m in range(3)]
    assert results["rate"]["Values"] == [10.0, 10.0, 10.0]
    assert results["rate"]["Label"] == "Error rate"
    assert results["total"]["Values"] == [11.0, 22.0, 33.0]
    assert all(r["StatusCode"] == "Complete" for r in results.values())
    # Paging by datapoints, newest first by default.
    first = cw.get_metric_data(MetricDataQueries=queries[1:2], StartTime=at,
                               EndTime=at + timedelta(minutes=3), MaxDatapoints=2)
    assert first["MetricDataResults"][0]["Values"] == [30.0, 20.0]
    assert first["MetricDataResults"][0]["StatusCode"] == "PartialData"
    rest = cw.get_metric_data(MetricDataQueries=queries[1:2], StartTime=at,
                              EndTime=at + timedelta(minutes=3), MaxDatapoints=2,
                              NextToken=first["NextToken"])
    assert rest["MetricDataResults"][0]["Values"] == [10.0] and "NextToken" not in rest
    assert code_of(lambda: cw.get_metric_data(
        MetricDataQueries=[{"Id": "x", "Expression": "r +"}, queries[1]], StartTime=at,
        EndTime=at + timedelta(minutes=3))) == "InvalidParameterValue"
    assert code_of(lambda: cw.get_metric_data(
        MetricDataQueries=[{"Id": "Bad", "MetricStat": stat("Errors")}], StartTime=at,
        EndTime=at + timedelta(minutes=3))) == "InvalidParameterValue"


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query"])
def test_gzip_compressed_put(server: Server, account: Credentials, tmp_path: Path,
                             protocol: str) -> None:
    """botocore gzips PutMetricData bodies over 10 KiB (request compression)."""
    client = boto3_client(server, account, model_with_protocol(tmp_path, protocol))
    ns = f"Z/{uuid.uuid4().hex[:8]}"
    data = [{"MetricName": f"metric-{n:04d}", "Value": float(n),
             "Dimensions": [{"Name": "host", "Value": f"host-{n:04d}"}]} for n in range(400)]
    seen: list[str] = []
    client.meta.events.register("before-send.cloudwatch.PutMetricData",
                                lambda request, **_: seen.append(
                                    request.headers.get("Content-Encoding", b"")))
    client.put_metric_data(Namespace=ns, MetricData=data)
    assert seen in (["gzip"], [b"gzip"])
    client.put_metric_data(Namespace=ns, MetricData=[{**d, "MetricName": "other"} for d in data])
    first = client.list_metrics(Namespace=ns)
    assert len(first["Metrics"]) == 500 and first["NextToken"]
    pages = client.get_paginator("list_metrics").paginate(Namespace=ns)
    listed = [(m["MetricName"], m["Dimensions"][0]["Value"]) for p in pages for m in p["Metrics"]]
    assert len(listed) == len(set(listed)) == 800
    client.close()


def test_authentication_errors(server: Server, account: Credentials) -> None:
    wrong_secret = dataclasses.replace(account, secret_access_key="x" * 40)
    unknown_key = dataclasses.replace(account, access_key_id="AKIAIOSFODNN7EXAMPLE")
    for creds, code in ((wrong_secret, "SignatureDoesNotMatch"),
                        (unknown_key, "InvalidClientTokenId")):
        client = boto3_client(server, creds)
        with pytest.raises(ClientError) as info:
            client.list_metrics()
        assert info.value.response["Error"]["Code"] == code
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        client.close()
        conn = boto2_client(server, creds)
        with pytest.raises(Exception) as raised:
            conn.list_metrics()
        assert getattr(raised.value, "error_code", None) == code
        close_boto2(conn)
    unsigned = httpx.post(f"{server.endpoint}service/GraniteServiceVersion20100801/operation/"
                          "ListMetrics", content=b"\xa0", trust_env=False,
                          headers={"smithy-protocol": "rpc-v2-cbor",
                                   "content-type": "application/cbor"})
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-query-error"] == "MissingAuthenticationToken;Sender"


def test_alarm_action_goes_through_ec2_checks(cw: Any, ec2: Any, image: str) -> None:
    """SetAlarmState runs the actions too; stopping an instance-store instance is refused by
    StopInstances itself, and the history says so."""
    instance_id = launch(ec2, image, monitoring=False)
    name = f"stop-{uuid.uuid4().hex[:6]}"
    cw.put_metric_alarm(AlarmName=name, Namespace="AWS/EC2", MetricName="CPUUtilization",
                        Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
                        Statistic="Average", Period=300, EvaluationPeriods=1, Threshold=90.0,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore",
                        AlarmActions=["arn:aws:automate:us-east-1:ec2:stop"])
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="drill")
    actions = cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")
    [item] = actions["AlarmHistoryItems"]
    assert item["HistorySummary"] == "Failed to execute action arn:aws:automate:us-east-1:ec2:stop"
    assert json.loads(item["HistoryData"])["error"].startswith("UnsupportedOperation")
    wait_state(ec2, instance_id, "running")
