"""CloudWatch on a real guest, end to end: ``ironbark up --with-node`` with the node sampling
every 10 s, the demo image, and the three clients a user would pick.

The guest's user-data fetches its instance id, writes 8 MiB to its root disk and 4 MiB to an
attached volume, then burns CPU in the background. After ``MonitorInstances`` (1-minute data)
the first minute (nearly) all burn must show in AWS/EC2 CPUUtilization for the instance — from
boto3 (rpc-v2-cbor), the AWS CLI and boto 2 (Query: ``list_metrics()``,
``metric.query(start, end, 'Average', 'Percent')``) — as one sample of the minute (six 10-second
samples), along with the disk, network and status-check metrics, the aggregates, and AWS/EBS
for the volume. Then an alarm on CPUUtilization (Period 60, one period, threshold well below
the burn) with the action ``arn:aws:automate:REGION:ec2:reboot`` must really reboot the guest
(a second boot on its console; user-data does not run again, so the burn stops), and a second
alarm, on the idle guest's CPU falling below a threshold, terminates it with
``arn:aws:automate:REGION:ec2:terminate``: the libvirt domain is gone. DescribeAlarmHistory
shows the transitions and the actions. About four minutes, most of it waiting for whole minutes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REGION, AwsCli, Clients, Server, running_server
from tests.e2e.cloudwatch_clients import boto2_client, boto3_client, close_boto2
from tests.e2e.real_guest import all_in_one_env
from tests.e2e.test_cli import ironbark
from tests.e2e.test_instances_real_guest import (
    _clean_host,
    eventually,
    first_backend,
    host_leftovers,
    state_of,
    wait_console,
)
from tests.hostcheck import require_real_host

BRIDGE = "ibcwg1"
SUBNET = "10.89.0.0/24"
GATEWAY_CIDR = "10.89.0.1/24"
NODE_NAME = "cw-guest"
SAMPLE_SECONDS = 10
MIB = 1024 * 1024
BURN_THRESHOLD = 15.0  # an idle TCG guest uses ~0.3 % of a core, a burning one 25-100 %
IDLE_THRESHOLD = 5.0
USER_DATA = """#!/bin/sh
md=http://169.254.169.254/latest/meta-data
echo "CWG-ID=$(timeout 10 wget -q -O - $md/instance-id)"
dd if=/dev/zero of=/var/lib/ironbark/cw.bin bs=1M count=8 conv=fsync 2>/dev/null \
    && echo CWG-DISK-OK
n=0
while [ ! -e /sys/block/vdb ] && [ $n -lt 120 ]; do sleep 1; n=$((n + 1)); done
[ -b /dev/vdb ] || mknod /dev/vdb b $(tr : ' ' </sys/block/vdb/dev)
dd if=/dev/zero of=/dev/vdb bs=1M count=4 conv=fsync 2>/dev/null && echo CWG-VOLUME-OK
(timeout 900 sh -c 'while :; do :; done') </dev/null >/dev/null 2>&1 &
echo CWG-BURN-BEGIN
"""
EC2_METRICS = {"CPUUtilization": "Percent", "DiskReadBytes": "Bytes", "DiskWriteBytes": "Bytes",
               "DiskReadOps": "Count", "DiskWriteOps": "Count", "NetworkIn": "Bytes",
               "NetworkOut": "Bytes", "NetworkPacketsIn": "Count", "NetworkPacketsOut": "Count",
               "StatusCheckFailed": "Count", "StatusCheckFailed_Instance": "Count",
               "StatusCheckFailed_System": "Count"}


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cw-guest-node")


@pytest.fixture(scope="module")
def server(demo_image_dir: Path, node_dir: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """All in one; samples every 10 s, alarms evaluated every 2 s."""
    require_real_host("dnsmasq", "nft", "ip")
    env = all_in_one_env(node_dir, NODE_NAME, BRIDGE, SUBNET, GATEWAY_CIDR) | {
        "IRONBARK_NODE_METRICS_INTERVAL": str(SAMPLE_SECONDS),
        "IRONBARK_CLOUDWATCH_ALARM_SECONDS": "2",
        "IRONBARK_INSTANCE_RECONCILE_SECONDS": "0.5",
        "IRONBARK_VOLUME_HOST": NODE_NAME}  # volumes opened by path
    try:
        with running_server(first_backend(), tmp_path_factory, env) as srv:
            yield srv
    finally:
        asyncio.run(_clean_host(node_dir, BRIDGE, GATEWAY_CIDR))


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def minutes(cw: Any, instance_id: str, name: str, start: datetime, end: datetime,
            statistics: tuple[str, ...] = ("Average", "SampleCount")) -> dict[datetime, Any]:
    """boto3: the instance's 1-minute datapoints of ``name`` by minute."""
    reply = cw.get_metric_statistics(
        Namespace="AWS/EC2", MetricName=name, StartTime=start, EndTime=end, Period=60,
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}], Statistics=list(statistics))
    return {p["Timestamp"]: p for p in reply["Datapoints"]}


def sums(cw: Any, instance_id: str, name: str, start: datetime, end: datetime) -> float:
    reply = cw.get_metric_statistics(
        Namespace="AWS/EC2", MetricName=name, StartTime=start, EndTime=end, Period=3600,
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
        Statistics=["Sum", "Maximum"])
    points = reply["Datapoints"]
    assert points and {p["Unit"] for p in points} == {EC2_METRICS[name]}, (name, points)
    return float(sum(p["Sum"] for p in points))


def history(cw: Any, alarm: str) -> list[tuple[str, str, dict[str, Any]]]:
    items = cw.describe_alarm_history(AlarmName=alarm)["AlarmHistoryItems"]
    return [(h["HistoryItemType"], h["HistorySummary"], json.loads(h["HistoryData"]))
            for h in items]


def test_a_burning_guest_in_cloudwatch_and_alarms_that_reboot_and_terminate_it(
        server: Server, clients: Clients, demo_image_dir: Path, node_dir: Path) -> None:
    clock = {"start": datetime.now(UTC)}
    imported = ironbark(server, "image", "import", str(demo_image_dir), "--bucket", "images",
                        "--endpoint", server.endpoint)
    image_id = json.loads(imported.stdout)["ImageId"]
    ec2, aws = clients.ec2(server.admin), clients.aws(server.admin)
    cw = boto3_client(server, server.admin)
    reply = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                              InstanceType="t1.micro", UserData=USER_DATA)
    instance_id = reply["Instances"][0]["InstanceId"]
    assert reply["Instances"][0]["Monitoring"]["State"] == "disabled"
    monitored = ec2.monitor_instances(InstanceIds=[instance_id])["InstanceMonitorings"]
    assert monitored[0]["Monitoring"]["State"] in ("pending", "enabled")
    eventually(lambda: state_of(ec2, instance_id) == "running", "running")
    # The volume is attached once the guest runs its user data: attached while its early boot
    # still probes disks, it could take the root disk's name (vda), and the boot would fail.
    wait_console(ec2, instance_id, "CWG-DISK-OK")
    zone = reply["Instances"][0]["Placement"]["AvailabilityZone"]
    volume_id = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    eventually(lambda: ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"]
               == "available", "volume available")
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    text = wait_console(ec2, instance_id, "CWG-BURN-BEGIN")
    burn = clock["burn"] = datetime.now(UTC)
    assert f"CWG-ID={instance_id}" in text and "CWG-DISK-OK" in text, text[-2000:]
    assert "CWG-VOLUME-OK" in text, text[-2000:]

    # the first (nearly) whole minute of the burn, as boto3 sees it
    first = minute_of(burn) + timedelta(minutes=0 if burn.second < 10 else 1)
    since = minute_of(clock["start"])

    def burn_minute() -> Any:  # complete: all six samples in (the last one shipped)
        if datetime.now(UTC) < first + timedelta(seconds=60 + SAMPLE_SECONDS):
            return None
        point = minutes(cw, instance_id, "CPUUtilization", since, datetime.now(UTC)).get(first)
        return point if point and point["SampleCount"] > 0.999 else None

    point = eventually(burn_minute, "the burn's first whole minute", deadline=150)
    clock["seen"] = datetime.now(UTC)
    busy = point["Average"]
    assert busy > BURN_THRESHOLD + 5 and point["Unit"] == "Percent", point
    assert point["SampleCount"] == pytest.approx(1.0), point  # six 10 s samples: one minute
    check_other_metrics(cw, instance_id, image_id, since)
    check_volume_metrics(cw, volume_id, since)
    check_aws_cli(aws, instance_id, since, first, busy)
    check_boto2(server, instance_id, since, first, busy)

    # an alarm well below the burn reboots the guest
    cw.put_metric_alarm(
        AlarmName="cpu-burn", Namespace="AWS/EC2", MetricName="CPUUtilization",
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}], Statistic="Average",
        Period=60, EvaluationPeriods=1, Threshold=BURN_THRESHOLD,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[f"arn:aws:automate:{REGION}:ec2:reboot"])
    text = wait_console(ec2, instance_id, "IRONBARK-BOOT-OK", count=2)
    clock["rebooted"] = datetime.now(UTC)
    assert "IRONBARK-USERDATA-SKIPPED" in text or wait_console(
        ec2, instance_id, "IRONBARK-USERDATA-SKIPPED")
    assert state_of(ec2, instance_id) == "running"
    [alarm] = cw.describe_alarms(AlarmNames=["cpu-burn"])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM", alarm
    items = history(cw, "cpu-burn")
    assert ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM") in [
        (kind, summary) for kind, summary, _ in items], items
    actions = [(summary, data) for kind, summary, data in items if kind == "Action"]
    arn = f"arn:aws:automate:{REGION}:ec2:reboot"
    assert actions == [(f"Successfully executed action {arn}",
                        {"actionState": "Succeeded", "notificationResource": arn})], items

    # the rebooted guest idles (its user-data runs once); an alarm on that terminates it
    spec = json.loads((node_dir / "instances" / instance_id / "spec.json").read_text())
    terminate = f"arn:aws:automate:{REGION}:ec2:terminate"
    aws("cloudwatch", "put-metric-alarm", "--alarm-name", "cpu-idle", "--namespace", "AWS/EC2",
        "--metric-name", "CPUUtilization", "--dimensions", f"Name=InstanceId,Value={instance_id}",
        "--statistic", "Average", "--period", "60", "--evaluation-periods", "1",
        "--threshold", str(IDLE_THRESHOLD), "--comparison-operator", "LessThanThreshold",
        "--alarm-actions", terminate)
    eventually(lambda: state_of(ec2, instance_id) == "terminated", "terminated by the alarm")
    clock["terminated"] = datetime.now(UTC)
    assert host_leftovers(instance_id, spec["mac"], spec["tap"], node_dir) == []
    idle = [p["Average"] for t, p in minutes(cw, instance_id, "CPUUtilization", since,
                                               datetime.now(UTC)).items()
            if t >= minute_of(clock["rebooted"])]
    assert idle and min(idle) < IDLE_THRESHOLD < BURN_THRESHOLD < busy, (idle, busy)
    items = history(cw, "cpu-idle")
    assert [d["actionState"] for k, _, d in items if k == "Action"] == ["Succeeded"], items
    assert any(k == "StateUpdate" and s.endswith("to ALARM") for k, s, _ in items), items

    marks = sorted(clock.items(), key=lambda kv: kv[1])
    print("\ntimings: " + ", ".join(
        f"{name} +{(moment - clock['start']).total_seconds():.0f} s" for name, moment in marks)
        + f"; burn minute {busy:.1f} %, idle minute {min(idle):.2f} %")


def check_other_metrics(cw: Any, instance_id: str, image_id: str, since: datetime) -> None:
    """Every AWS/EC2 metric of the instance, in its unit, with what the guest did."""
    listed = cw.list_metrics(Namespace="AWS/EC2", Dimensions=[
        {"Name": "InstanceId", "Value": instance_id}])["Metrics"]
    assert {m["MetricName"] for m in listed} == set(EC2_METRICS)
    end = datetime.now(UTC) + timedelta(minutes=1)
    assert sums(cw, instance_id, "DiskWriteBytes", since, end) >= 8 * MIB  # the dd
    for name in ("DiskReadBytes", "DiskReadOps", "DiskWriteOps", "NetworkIn", "NetworkOut",
                 "NetworkPacketsIn", "NetworkPacketsOut"):
        assert sums(cw, instance_id, name, since, end) > 0, name
    for name in ("StatusCheckFailed", "StatusCheckFailed_Instance", "StatusCheckFailed_System"):
        assert sums(cw, instance_id, name, since, end) == 0, name
    # detailed monitoring feeds the aggregates too (this cloud has one instance)
    for dims in ([{"Name": "ImageId", "Value": image_id}],
                 [{"Name": "InstanceType", "Value": "t1.micro"}], []):
        got = cw.get_metric_statistics(Namespace="AWS/EC2", MetricName="CPUUtilization",
                                       Dimensions=dims, StartTime=since, EndTime=end,
                                       Period=60, Statistics=["Maximum"])
        assert got["Datapoints"], dims


def check_volume_metrics(cw: Any, volume_id: str, since: datetime) -> None:
    """The 4 MiB written to the attached volume, in AWS/EBS by VolumeId (and only there)."""
    dims = [{"Name": "VolumeId", "Value": volume_id}]
    listed = cw.list_metrics(Namespace="AWS/EBS", Dimensions=dims)["Metrics"]
    assert {m["MetricName"] for m in listed} == {
        "VolumeReadBytes", "VolumeWriteBytes", "VolumeReadOps", "VolumeWriteOps"}
    end = datetime.now(UTC) + timedelta(minutes=1)

    def total(name: str) -> float:
        got = cw.get_metric_statistics(Namespace="AWS/EBS", MetricName=name, Dimensions=dims,
                                       StartTime=since, EndTime=end, Period=3600,
                                       Statistics=["Sum"])["Datapoints"]
        return float(sum(p["Sum"] for p in got))

    assert 4 * MIB <= total("VolumeWriteBytes") < 8 * MIB
    assert total("VolumeWriteOps") > 0


def check_aws_cli(aws: AwsCli, instance_id: str, since: datetime, first: datetime,
                  busy: float) -> None:
    listed = aws("cloudwatch", "list-metrics", "--namespace", "AWS/EC2", "--metric-name",
                 "CPUUtilization", "--dimensions", f"Name=InstanceId,Value={instance_id}")
    assert len(listed["Metrics"]) == 1
    got = aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/EC2",
              "--metric-name", "CPUUtilization", "--dimensions",
              f"Name=InstanceId,Value={instance_id}", "--start-time", since.isoformat(),
              "--end-time", (first + timedelta(minutes=1)).isoformat(), "--period", "60",
              "--statistics", "Average")
    by_minute = {cli_time(p["Timestamp"]): p for p in got["Datapoints"]}
    assert by_minute[first]["Average"] == pytest.approx(busy)
    assert by_minute[first]["Unit"] == "Percent"


def cli_time(value: str | float) -> datetime:
    """AWS CLI v1 prints timestamps as the protocol gave them: CBOR's are epoch seconds."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return datetime.fromtimestamp(value, UTC)


def check_boto2(server: Server, instance_id: str, since: datetime, first: datetime,
                busy: float) -> None:
    conn = boto2_client(server, server.admin)
    try:
        found = [m for m in conn.list_metrics()
                 if m.name == "CPUUtilization" and m.dimensions == {"InstanceId": [instance_id]}]
        assert len(found) == 1, found
        points = found[0].query(since.replace(tzinfo=None),
                                (first + timedelta(minutes=1)).replace(tzinfo=None),
                                "Average", "Percent")
        by_minute = {p["Timestamp"]: p for p in points}
        point = by_minute[first.replace(tzinfo=None)]
        assert point["Average"] == pytest.approx(busy) and point["Unit"] == "Percent"
    finally:
        close_boto2(conn)
