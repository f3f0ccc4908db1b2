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
    """The stored resolutions to read for ``period`` from ``start``, finest first.

    Rollups are written with the data, so the coarsest retained resolution that divides the
    period and on whose boundaries ``start`` falls answers exactly (24 one-hour rows rather
    than 1,440 one-minute rows for a day by the hour). Coarser ones are read as well: a
    basic-monitoring metric has no 1-minute periods, and :func:`bucketize` then uses the
    finest resolution that has data."""
    age = now - start
    kept = [r for r in (HIGH_RESOLUTION, *RESOLUTIONS) if age <= RETENTION[r]] or [RESOLUTIONS[-1]]
    exact = [r for r in kept if period % r == 0 and start % r == 0]
    if not exact:
        return kept
    return [r for r in kept if r >= exact[-1]]


@dataclass(frozen=True)
class Bucket:
    ts: int
    unit: str
    stats: StatSet


def bucketize(rows: Sequence[Row], start: int, period: int) -> list[Bucket]:
    """Merge ``rows`` into Period-long buckets from ``start``, per unit; only the finest
    resolution present is used (a basic-monitoring metric has no 1-minute rows). The rows'
    statistic sets are merged in place (no copies: they are fresh from :func:`store.read`)."""
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
            merged[(ts, row.unit)] = row.stats
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
