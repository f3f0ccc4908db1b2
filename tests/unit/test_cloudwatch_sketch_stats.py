"""Sketches (percentiles), statistic sets, resolution choice, bucketing and rollups."""

from __future__ import annotations

import random

import pytest

from controller.cloudwatch.sketch import ACCURACY, Sketch
from controller.cloudwatch.stats import bucketize, percentile_of, resolutions_for, statistic
from controller.cloudwatch.store import MetricKey, Point, Row, StatSet, _periods


def test_sketch_quantiles_within_accuracy() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1) for _ in range(10_000)]
    sketch = Sketch()
    for value in values:
        sketch.add(value)
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.99, 0.999):
        exact = ordered[max(int(q * len(values) + 0.5) - 1, 0)]
        got = sketch.quantile(q, ordered[0], ordered[-1])
        assert got == pytest.approx(exact, rel=2 * ACCURACY + 0.005)


def test_sketch_negative_zero_and_counts() -> None:
    sketch = Sketch()
    sketch.add(-5.0, 3)
    sketch.add(0.0, 2)
    sketch.add(7.0, 5)
    assert sketch.count == 10
    assert sketch.quantile(0.2, -5, 7) == pytest.approx(-5, rel=ACCURACY)
    assert sketch.quantile(0.5, -5, 7) == 0.0
    assert sketch.quantile(1.0, -5, 7) == pytest.approx(7, rel=ACCURACY)
    assert Sketch.loads(sketch.dumps()) == sketch


def test_sketch_single_value_is_exact_by_clamping() -> None:
    sketch = Sketch()
    sketch.add(42.5)
    assert sketch.quantile(0.99, 42.5, 42.5) == 42.5
    assert Sketch().quantile(0.5, 0, 0) is None


def test_merging_sketches_equals_one_sketch() -> None:
    a, b, both = Sketch(), Sketch(), Sketch()
    for v in range(1, 50):
        a.add(float(v))
        both.add(float(v))
    for v in range(50, 100):
        b.add(float(v))
        both.add(float(v))
    a.merge(b)
    assert a == both


def test_stat_set_statistics() -> None:
    stats = StatSet.of_values([1.0, 2.0, 10.0], [2.0, 1.0, 1.0])
    assert (stats.count, stats.total, stats.low, stats.high) == (4, 14, 1, 10)
    assert statistic(stats, "Average") == 3.5
    assert statistic(stats, "p50") == pytest.approx(1, rel=ACCURACY)
    stats.merge(StatSet(1, 5, 5, 5))  # a StatisticSet: no values, so no percentiles any more
    assert stats.sketch is None and statistic(stats, "p50") is None
    assert (stats.count, stats.total, stats.low, stats.high) == (5, 19, 1, 10)


@pytest.mark.parametrize(("name", "expected"), [
    ("p99", 0.99), ("p99.9", 0.999), ("p0", 0.0), ("p100", 1.0), ("p101", None), ("avg", None),
    ("p", None), ("P99", None), ("p9.", None)])
def test_percentile_names(name: str, expected: float | None) -> None:
    assert percentile_of(name) == (pytest.approx(expected) if expected is not None else None)


def test_resolutions_follow_retention() -> None:
    now = 36_000_000
    assert resolutions_for(60, now - 3600, now) == [60, 300, 3600]
    assert resolutions_for(3600, now - 3600, now) == [3600]  # whole hours: the hourly rollup
    assert resolutions_for(3600, now - 3660, now) == [60, 300, 3600]  # not on an hour
    assert resolutions_for(300, now - 3600, now) == [300, 3600]
    assert resolutions_for(10, now - 3600, now) == [1, 60, 300, 3600]
    assert resolutions_for(60, now - 20 * 86400, now) == [300, 3600]
    assert resolutions_for(3600, now - 100 * 86400, now) == [3600]
    assert resolutions_for(3600, now - 500 * 86400, now) == [3600]


def test_rollups_at_write_time() -> None:
    key = MetricKey.of("N", "m", [])
    points = [Point(key, 1_000_020 + 60 * i, "Count", StatSet.of_values([float(i)], [1.0]))
              for i in range(10)]
    rows = _periods(points, {key: 1})
    by_resolution: dict[int, list[StatSet]] = {}
    for (_, resolution, ts, _), stats in rows.items():
        assert ts % resolution == 0
        by_resolution.setdefault(resolution, []).append(stats)
    assert len(by_resolution[60]) == 10
    assert sum(s.count for s in by_resolution[300]) == 10
    assert sum(s.total for s in by_resolution[3600]) == sum(range(10))
    basic = _periods([Point(key, 1_000_020, "Count", StatSet(1, 1, 1, 1), basic=True)], {key: 1})
    assert sorted(r for _, r, _, _ in basic) == [300, 3600]
    high = _periods([Point(key, 1_000_021, "Count", StatSet(1, 1, 1, 1),
                           high_resolution=True)], {key: 1})
    assert sorted(r for _, r, _, _ in high) == [1, 60, 300, 3600]


def test_bucketize_uses_the_finest_resolution_present() -> None:
    rows = [Row(60, 600, "Percent", StatSet(1, 10, 10, 10)),
            Row(60, 660, "Percent", StatSet(1, 20, 20, 20)),
            Row(300, 600, "Percent", StatSet(2, 30, 10, 20))]
    buckets = bucketize(rows, 600, 120)
    assert [(b.ts, b.stats.count, b.stats.total) for b in buckets] == [(600, 2, 30)]
    coarse = bucketize([rows[2]], 600, 60)
    assert [(b.ts, b.stats.count) for b in coarse] == [(600, 2)]
    units = bucketize([Row(60, 600, "Count", StatSet(1, 1, 1, 1)),
                       Row(60, 600, "Bytes", StatSet(1, 2, 2, 2))], 600, 60)
    assert sorted(b.unit for b in units) == ["Bytes", "Count"]


def test_loaded_sketch_dumps_and_merges_again() -> None:
    sketch = Sketch()
    for value in (1.0, 1.5, 300.0):
        sketch.add(value)
    loaded = Sketch.loads(sketch.dumps())
    assert Sketch.loads(loaded.dumps()) == sketch
    loaded.merge(Sketch.loads(sketch.dumps()))
    assert loaded.count == 6
