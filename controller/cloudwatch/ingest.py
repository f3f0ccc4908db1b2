"""Node samples → AWS/EC2 and AWS/EBS metrics.

Each sample becomes, for its instance, CPUUtilization (cpu time over wall time and vCPUs),
Disk*/Network* counters and the status checks, with dimension ``InstanceId``; instances with
detailed monitoring also feed the ``ImageId``, ``InstanceType`` and dimensionless aggregates
and get 1-minute periods (basic monitoring: 5-minute and 1-hour only). Each attached volume
gets AWS/EBS Volume* metrics with ``VolumeId``.

Whatever the node's sampling interval, a minute holds what AWS's one-sample-a-minute holds: a
sample is cut at minute boundaries and each piece counts as the fraction of a minute it covers
(``SampleCount`` 1 for a whole minute: six 10-second samples, or a sixth of one 6-minute
sample), with its counters as amounts per minute, so a minute's ``Sum`` of DiskReadBytes is the
bytes read in it and its ``Average`` of CPUUtilization is the CPU time over that minute. A node may only report its own instances, and
a sample already counted (same instance and end) is skipped, so retried batches are harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.cloudwatch.samples import InstanceSample, epoch
from controller.cloudwatch.store import MetricKey, Point, StatSet, claim_samples, put
from controller.db.models import Instance, Volume

EC2 = "AWS/EC2"
EBS = "AWS/EBS"

_COUNTERS = (  # (metric, sample field, unit)
    ("DiskReadBytes", "disk_read_bytes", "Bytes"),
    ("DiskWriteBytes", "disk_write_bytes", "Bytes"),
    ("DiskReadOps", "disk_read_ops", "Count"),
    ("DiskWriteOps", "disk_write_ops", "Count"),
    ("NetworkIn", "net_in_bytes", "Bytes"),
    ("NetworkOut", "net_out_bytes", "Bytes"),
    ("NetworkPacketsIn", "net_in_packets", "Count"),
    ("NetworkPacketsOut", "net_out_packets", "Count"),
)
_VOLUME_COUNTERS = (
    ("VolumeReadBytes", "read_bytes", "Bytes"),
    ("VolumeWriteBytes", "write_bytes", "Bytes"),
    ("VolumeReadOps", "read_ops", "Count"),
    ("VolumeWriteOps", "write_ops", "Count"),
)
STATUS_CHECKS = ("StatusCheckFailed", "StatusCheckFailed_Instance", "StatusCheckFailed_System")


@dataclass(frozen=True)
class InstanceInfo:
    id: str
    account_id: str
    image_id: str
    instance_type: str
    monitoring: bool

    def dimension_sets(self) -> list[tuple[tuple[str, str], ...]]:
        """Dimension sets fed by this instance: its own, plus the aggregates when detailed."""
        own = (("InstanceId", self.id),)
        if not self.monitoring:
            return [own]
        return [own, (("ImageId", self.image_id),), (("InstanceType", self.instance_type),), ()]


def cpu_utilization(sample: InstanceSample) -> float:
    percent = sample.cpu_time_ns / (sample.seconds * 1e9 * sample.vcpus) * 100
    return min(max(percent, 0.0), 100.0)


def instance_points(info: InstanceInfo, ts: int, values: Iterable[tuple[str, float, str]],
                    weight: float = 1.0) -> list[Point]:
    """One AWS/EC2 point per (metric, value, unit) and dimension set of the instance, counting
    as ``weight`` samples (the fraction of the minute it covers)."""
    points = []
    for name, value, unit in values:
        for dims in info.dimension_sets():
            basic = not info.monitoring
            points.append(Point(MetricKey.of(EC2, name, dims), ts, unit,
                                StatSet.of_values([float(value)], [weight]), basic=basic))
    return points


def status_values(system_failed: bool, instance_failed: bool) -> list[tuple[str, float, str]]:
    both = float(system_failed or instance_failed)
    return [("StatusCheckFailed", both, "Count"),
            ("StatusCheckFailed_Instance", float(instance_failed), "Count"),
            ("StatusCheckFailed_System", float(system_failed), "Count")]


def minute_slices(start: int, end: int) -> list[tuple[int, float]]:
    """``[start, end)`` cut at minute boundaries: (minute, seconds of it covered)."""
    slices = []
    moment = start
    while moment < end:
        minute = moment - moment % 60
        stop = min(end, minute + 60)
        slices.append((minute, float(stop - moment)))
        moment = stop
    return slices


def sample_points(info: InstanceInfo, sample: InstanceSample,
                   volumes: dict[str, str]) -> list[Point]:
    per_minute = 60.0 / sample.seconds  # counters over the sample → amounts per minute
    values = [("CPUUtilization", cpu_utilization(sample), "Percent")]
    values += [(name, getattr(sample, field) * per_minute, unit)
               for name, field, unit in _COUNTERS]
    values += status_values(False, False)
    ebs = [(volume_id, counters) for volume_id, counters in sample.volumes.items()
           if volumes.get(volume_id) == info.account_id]
    points = []
    for minute, seconds in minute_slices(epoch(sample.start), epoch(sample.end)):
        weight = seconds / 60
        points += instance_points(info, minute, values, weight)
        for volume_id, counters in ebs:
            for name, field, unit in _VOLUME_COUNTERS:
                key = MetricKey.of(EBS, name, [("VolumeId", volume_id)])
                stats = StatSet.of_values([getattr(counters, field) * per_minute], [weight])
                points.append(Point(key, minute, unit, stats))
    return points


def ingest(session: Session, node_id: str, samples: Sequence[InstanceSample],
           now: int) -> int:
    """Store the samples of ``node_id``'s instances; returns how many were accepted (new
    samples of known instances on this node, plus repeats already counted)."""
    ids = {s.instance_id for s in samples}
    instances = {row.id: InstanceInfo(row.id, row.account_id, row.image_id, row.instance_type,
                                      row.monitoring)
                 for row in session.execute(select(Instance).where(
                     Instance.id.in_(ids), Instance.node_id == node_id)).scalars()}
    mine = [s for s in samples if s.instance_id in instances]
    seen = claim_samples(session, [(s.instance_id, epoch(s.end)) for s in mine])
    volume_ids = {v for s in mine for v in s.volumes}
    volumes = dict(session.execute(select(Volume.id, Volume.account_id).where(
        Volume.id.in_(volume_ids))).tuples().all()) if volume_ids else {}
    by_account: dict[str, list[Point]] = {}
    fresh: set[tuple[str, int]] = set()
    for sample in mine:
        key = (sample.instance_id, epoch(sample.end))
        if key in seen or key in fresh:
            continue
        fresh.add(key)
        info = instances[sample.instance_id]
        by_account.setdefault(info.account_id, []).extend(sample_points(info, sample, volumes))
    for account_id, points in by_account.items():
        put(session, account_id, points, now)
    return len(mine)
