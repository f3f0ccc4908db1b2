"""Statistics over stored periods: which resolution answers a query, bucketing by Period,
the five statistics and percentiles (``p99``, ``p99.9``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from controller.cloudwatch.store import HIGH_RESOLUTION, RESOLUTIONS, RETENTION, Row, StatSet

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"p(\d{1,2}(\.\d{1,10})?|100(\.0{1,10})?)")


def percentile_of(name: str) -> float | None:
    """``p99`` → 0.99; ``None`` if ``name`` is not a percentile statistic."""
    if _PERCENTILE.fullmatch(name) is None:
        return None
    return float(name[1:]) / 100


def resolutions_for(period: int, start: int, now: int) -> list[int]:
    """The stored resolutions still retained at ``start`` that may answer ``period``, finest
    first: :func:`bucketize` then uses the finest one that has data (a basic-monitoring metric
    has no 1-minute periods, its 5-minute ones answer). 1-second periods only serve periods
    under a minute."""
    age = now - start
    kept = [r for r in (HIGH_RESOLUTION, *RESOLUTIONS) if age <= RETENTION[r]] or [RESOLUTIONS[-1]]
    if period >= 60 and len(kept) > 1:
        kept = [r for r in kept if r != HIGH_RESOLUTION]
    return kept


@dataclass(frozen=True)
class Bucket:
    ts: int
    unit: str
    stats: StatSet


def bucketize(rows: Sequence[Row], start: int, period: int) -> list[Bucket]:
    """Merge ``rows`` into Period-long buckets from ``start``, per unit; only the finest
    resolution present is used (a basic-monitoring metric has no 1-minute rows)."""
    if not rows:
        return []
    finest = min(row.resolution for row in rows)
    merged: dict[tuple[int, str], StatSet] = {}
    for row in rows:
        if row.resolution != finest:
            continue
        ts = start + (row.ts - start) // period * period
        have = merged.get((ts, row.unit))
        if have is None:
            merged[(ts, row.unit)] = row.stats.copy()
        else:
            have.merge(row.stats)
    return [Bucket(ts, unit, stats) for (ts, unit), stats in sorted(merged.items())]


def statistic(stats: StatSet, name: str) -> float | None:
    """One statistic (``Average``, ``p90``, ...) of a statistic set; None when unavailable."""
    if name == "SampleCount":
        return stats.count
    if name == "Sum":
        return stats.total
    if name == "Minimum":
        return stats.low
    if name == "Maximum":
        return stats.high
    if name == "Average":
        return stats.total / stats.count if stats.count else None
    q = percentile_of(name)
    if q is None or stats.sketch is None:
        return None
    return stats.sketch.quantile(q, stats.low, stats.high)
