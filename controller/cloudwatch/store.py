"""Metric storage in SQL: metrics by canonical key, statistic sets per period and resolution.

Every datapoint is merged at write time into its 1-minute, 5-minute and 1-hour periods (and
its 1-second period for high-resolution metrics), so the rollups are always current; the
retention job (:func:`expire`) drops each resolution's rows once AWS would: 1-second data after
3 hours, 1-minute after 15 days, 5-minute after 63 days, 1-hour after 455 days.
Helpers never commit: the caller's transaction covers a whole PutMetricData or node batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, and_, bindparam, delete, insert, literal, select, update
from sqlalchemy.orm import Session

from controller.cloudwatch.sketch import Sketch
from controller.db.models import Base, CwDatapoint, CwIngestedSample, CwMetric, CwMetricDimension

HIGH_RESOLUTION = 1
RESOLUTIONS = (60, 300, 3600)
RETENTION = {1: 3 * 3600, 60: 15 * 86400, 300: 63 * 86400, 3600: 455 * 86400}

Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MetricKey:
    namespace: str
    name: str
    dimensions: Dimensions  # sorted by name

    @classmethod
    def of(cls, namespace: str, name: str, dimensions: Iterable[tuple[str, str]]) -> MetricKey:
        return cls(namespace, name, tuple(sorted(dimensions)))

    def dimensions_json(self) -> str:
        return json.dumps([list(d) for d in self.dimensions], separators=(",", ":"))

    def digest(self) -> str:
        text = json.dumps([self.namespace, self.name, self.dimensions], separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class StatSet:
    """SampleCount, Sum, Minimum, Maximum of a period, and the sketch (None: no percentiles)."""

    count: float
    total: float
    low: float
    high: float
    sketch: Sketch | None = field(default=None)

    @classmethod
    def of_values(cls, values: Sequence[float], counts: Sequence[float]) -> StatSet:
        sketch = Sketch()
        for value, count in zip(values, counts, strict=True):
            sketch.add(value, count)
        return cls(float(sum(counts)), float(sum(v * c for v, c in zip(values, counts, strict=True))),
                   min(values), max(values), sketch)

    def merge(self, other: StatSet) -> None:
        self.count += other.count
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)
        if self.sketch is None or other.sketch is None:
            self.sketch = None
        else:
            self.sketch.merge(other.sketch)

    def copy(self) -> StatSet:
        sketch = None
        if self.sketch is not None:
            sketch = Sketch(dict(self.sketch.positive), dict(self.sketch.negative),
                            self.sketch.zero)
        return StatSet(self.count, self.total, self.low, self.high, sketch)


@dataclass(frozen=True)
class Point:
    key: MetricKey
    ts: int  # epoch seconds
    unit: str
    stats: StatSet
    high_resolution: bool = False
    basic: bool = False
    """Basic monitoring (EC2 without MonitorInstances): 5-minute and 1-hour periods only."""


def _table(model: type[Base]) -> Table:
    """A model's Core table (plain Core statements: no ORM bookkeeping on the hot path)."""
    return cast(Table, model.__table__)


def metric_ids(session: Session, account_id: str, keys: Iterable[MetricKey],
               now: int) -> dict[MetricKey, int]:
    """The ids of ``keys``' metrics, created when new; ``last_put_at`` is moved to ``now``."""
    wanted = {key.digest(): key for key in keys}
    found: dict[MetricKey, int] = {}
    digests = list(wanted)
    for start in range(0, len(digests), 500):
        chunk = digests[start:start + 500]
        rows = session.execute(select(CwMetric.id, CwMetric.key_hash).where(
            CwMetric.account_id == account_id, CwMetric.key_hash.in_(chunk)))
        for metric_id, digest in rows:
            found[wanted[digest]] = metric_id
        if found:  # kept to the minute: RecentlyActive looks back three hours
            session.execute(update(CwMetric).where(
                CwMetric.account_id == account_id, CwMetric.key_hash.in_(chunk),
                CwMetric.last_put_at < now - 60).values(last_put_at=now))
    new = [(digest, key) for digest, key in wanted.items() if key not in found]
    if new:
        metrics = _table(CwMetric)
        statement = insert(metrics).returning(metrics.c.id, metrics.c.key_hash,
                                              sort_by_parameter_order=True)
        rows = session.execute(statement, [
            {"account_id": account_id, "key_hash": digest, "namespace": key.namespace,
             "metric_name": key.name, "dimensions": key.dimensions_json(), "last_put_at": now}
            for digest, key in new])
        created = {digest: metric_id for metric_id, digest in rows.all()}
        dims = [{"metric_id": created[digest], "name": n, "value": v}
                for digest, key in new for n, v in key.dimensions]
        if dims:
            session.execute(insert(_table(CwMetricDimension)), dims)
        found.update((key, created[digest]) for digest, key in new)
    return found


_Row = tuple[int, int, int, str]  # metric_id, resolution, ts, unit


def _periods(points: Iterable[Point], ids: dict[MetricKey, int]) -> dict[_Row, StatSet]:
    merged: dict[_Row, StatSet] = {}
    for point in points:
        resolutions = ((HIGH_RESOLUTION, *RESOLUTIONS) if point.high_resolution
                       else RESOLUTIONS[1:] if point.basic else RESOLUTIONS)
        for resolution in resolutions:
            row = (ids[point.key], resolution, point.ts - point.ts % resolution, point.unit)
            have = merged.get(row)
            if have is None:
                merged[row] = point.stats.copy()
            else:
                have.merge(point.stats)
    return merged


def put(session: Session, account_id: str, points: Sequence[Point], now: int) -> None:
    """Merge ``points`` into every resolution's periods (read, merge, write back)."""
    if not points:
        return
    ids = metric_ids(session, account_id, {p.key for p in points}, now)
    merged = _periods(points, ids)
    existing = _existing(session, merged)
    inserts, updates = [], []
    for row, stats in merged.items():
        old = existing.get(row)
        if old is not None:
            old.merge(stats)
            updates.append(_values(row, old))
        else:
            inserts.append(_values(row, stats))
    table = _table(CwDatapoint)
    if inserts:
        session.execute(insert(table), inserts)
    if updates:
        c = table.c
        session.execute(update(table).where(
            c.metric_id == bindparam("k_metric"), c.resolution == bindparam("k_resolution"),
            c.ts == bindparam("k_ts"), c.unit == bindparam("k_unit")).values(
            sample_count=bindparam("sample_count"), sum=bindparam("sum"),
            minimum=bindparam("minimum"), maximum=bindparam("maximum"),
            sketch=bindparam("sketch")), [
            {"k_metric": u["metric_id"], "k_resolution": u["resolution"], "k_ts": u["ts"],
             "k_unit": u["unit"], **u} for u in updates])


def _existing(session: Session, merged: dict[_Row, StatSet]) -> dict[_Row, StatSet]:
    by_metric: dict[int, list[int]] = {}
    for metric_id, _res, ts, _unit in merged:
        by_metric.setdefault(metric_id, []).append(ts)
    found: dict[_Row, StatSet] = {}
    metric_ids_ = sorted(by_metric)
    for start in range(0, len(metric_ids_), 200):
        chunk = metric_ids_[start:start + 200]
        low = min(min(by_metric[m]) for m in chunk)
        high = max(max(by_metric[m]) for m in chunk)
        c = CwDatapoint.__table__.c
        query = select(c.metric_id, c.resolution, c.ts, c.unit, c.sample_count, c.sum,
                       c.minimum, c.maximum, c.sketch).where(
            c.metric_id.in_(chunk), c.ts >= low, c.ts <= high).with_for_update()
        for r in session.execute(query).all():
            row = (r[0], r[1], r[2], r[3])
            if row in merged:
                found[row] = StatSet(r[4], r[5], r[6], r[7],
                                     Sketch.loads(r[8]) if r[8] is not None else None)
    return found


def _values(row: _Row, stats: StatSet) -> dict[str, object]:
    metric_id, resolution, ts, unit = row
    return {"metric_id": metric_id, "resolution": resolution, "ts": ts, "unit": unit,
            "sample_count": stats.count, "sum": stats.total, "minimum": stats.low,
            "maximum": stats.high,
            "sketch": stats.sketch.dumps() if stats.sketch is not None else None}


@dataclass(frozen=True)
class Row:
    resolution: int
    ts: int
    unit: str
    stats: StatSet


def read(session: Session, metric_id: int, resolutions: Sequence[int], start: int,
         end: int, unit: str | None, sketches: bool = False) -> list[Row]:
    """The stored periods of one metric in ``[start, end)`` at the given resolutions; the
    percentile sketches are loaded only when ``sketches`` is set (they are the bulk)."""
    t = CwDatapoint.__table__.c
    columns = [t.resolution, t.ts, t.unit, t.sample_count, t.sum, t.minimum, t.maximum]
    query = select(*columns, t.sketch if sketches else literal(None)).where(
        t.metric_id == metric_id, t.resolution.in_(list(resolutions)), t.ts >= start,
        t.ts < end)
    if unit is not None:
        query = query.where(t.unit == unit)
    return [Row(r[0], r[1], r[2], StatSet(r[3], r[4], r[5], r[6],
                                          Sketch.loads(r[7]) if r[7] is not None else None))
            for r in session.execute(query).all()]


def find_metric(session: Session, account_id: str, key: MetricKey) -> int | None:
    return session.execute(select(CwMetric.id).where(
        CwMetric.account_id == account_id, CwMetric.key_hash == key.digest())).scalar()


def claim_samples(session: Session, samples: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
    """Record node samples ``(instance_id, end)`` as counted; returns those counted before."""
    if not samples:
        return set()
    seen: set[tuple[str, int]] = set()
    by_instance: dict[str, list[int]] = {}
    for instance_id, end in samples:
        by_instance.setdefault(instance_id, []).append(end)
    for instance_id, ends in by_instance.items():
        rows = session.execute(select(CwIngestedSample.end_ts).where(and_(
            CwIngestedSample.instance_id == instance_id, CwIngestedSample.end_ts.in_(ends))))
        seen.update((instance_id, end) for end in rows.scalars())
    fresh = [{"instance_id": i, "end_ts": e} for i, e in set(samples) - seen]
    if fresh:
        session.execute(insert(CwIngestedSample), fresh)
    return seen


def expire(session: Session, now: int) -> int:
    """Drop every resolution's periods older than its retention; returns rows removed."""
    removed = 0
    for resolution, keep in RETENTION.items():
        result = session.execute(delete(CwDatapoint).where(
            CwDatapoint.resolution == resolution, CwDatapoint.ts < now - keep))
        removed += int(getattr(result, "rowcount", 0) or 0)
    session.execute(delete(CwIngestedSample).where(CwIngestedSample.end_ts < now - 86400))
    return removed
