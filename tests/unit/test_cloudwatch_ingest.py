"""Node samples cut into the minutes they cover (controller/cloudwatch/ingest.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.cloudwatch.ingest import InstanceInfo, minute_slices, sample_points
from controller.cloudwatch.samples import InstanceSample

T = 1_800_000_000 - 1_800_000_000 % 60  # a minute boundary


def test_minute_slices() -> None:
    assert minute_slices(T, T + 60) == [(T, 60.0)]
    assert minute_slices(T + 10, T + 20) == [(T, 10.0)]
    assert minute_slices(T, T + 90) == [(T, 60.0), (T + 60, 30.0)]
    assert minute_slices(T + 50, T + 190) == [(T, 10.0), (T + 60, 60.0), (T + 120, 60.0),
                                              (T + 180, 10.0)]
    assert minute_slices(T, T) == []


def test_a_sample_spanning_minutes_counts_by_the_fraction_covered() -> None:
    info = InstanceInfo("i-0123456789abcdef0", "111122223333", "ami-1", "m1.small", True)
    sample = InstanceSample(instance_id=info.id, start=datetime.fromtimestamp(T + 30, UTC),
                            end=datetime.fromtimestamp(T + 120, UTC), vcpus=2,
                            cpu_time_ns=int(90e9), net_in_bytes=900,
                            volumes={"vol-1": {"write_bytes": 90}})
    points = sample_points(info, sample, {"vol-1": info.account_id})
    cpu = [p for p in points if p.key.name == "CPUUtilization" and p.key.dimensions]
    assert {(p.ts, p.stats.count, p.stats.total / p.stats.count) for p in cpu} == {
        (T, 0.5, 50.0), (T + 60, 1.0, 50.0)}
    net = {p.ts: p.stats.total for p in points
           if p.key.name == "NetworkIn" and p.key.dimensions == (("InstanceId", info.id),)}
    assert net == {T: 300.0, T + 60: 600.0}  # 900 bytes: a third, then two thirds
    ebs = {p.ts: p.stats.total for p in points if p.key.name == "VolumeWriteBytes"}
    assert ebs == {T: 30.0, T + 60: 60.0}
