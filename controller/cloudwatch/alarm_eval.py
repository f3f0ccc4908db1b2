"""Alarm evaluation: the last ``EvaluationPeriods`` complete periods of the alarm's metric
(ended at least ``SETTLE_SECONDS`` ago), ``DatapointsToAlarm`` of them breaching → ALARM, else
OK, or INSUFFICIENT_DATA when there is no data (``TreatMissingData``: ``missing`` (default),
``ignore``, ``breaching``, ``notBreaching``). State changes are recorded and trigger the
state's actions."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller.cloudwatch.alarm_actions import run_actions
from controller.cloudwatch.alarm_model import definition, set_state
from controller.cloudwatch.stats import bucketize, percentile_of, resolutions_for, statistic
from controller.cloudwatch.store import MetricKey, find_metric, read
from controller.config import Settings
from controller.db.engine import transaction
from controller.db.models import CwAlarm
from controller.logs import event

log = logging.getLogger("ironbark.cloudwatch")

COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}


SETTLE_SECONDS = 10
"""A period is evaluated only this long after it ended: node agents sample at the full minute
and ship at once, so an evaluation right at the boundary would find the newest period still
empty (and, with one evaluation period, go to INSUFFICIENT_DATA every time it ran there)."""


def evaluated_window(now: int, period: int, periods: int) -> tuple[int, int]:
    """``[start, end)`` of the last ``periods`` complete, settled periods at ``now``."""
    settled = now - SETTLE_SECONDS
    end = settled - settled % period
    return end - period * periods, end


@dataclass(frozen=True)
class Verdict:
    state: str | None  # None: keep the current state (TreatMissingData=ignore, no data)
    reason: str
    data: dict[str, Any]


def _values(session: Session, alarm: CwAlarm, spec: dict[str, Any], start: int,
            end: int, now: int) -> list[float | None]:
    period = int(spec["Period"])
    count = int(spec["EvaluationPeriods"])
    dims = [(d["Name"], d["Value"]) for d in spec.get("Dimensions") or []]
    metric_id = find_metric(session, alarm.account_id,
                            MetricKey.of(spec["Namespace"], spec["MetricName"], dims))
    values: list[float | None] = [None] * count
    if metric_id is None:
        return values
    stat = spec.get("Statistic") or spec.get("ExtendedStatistic") or "Average"
    rows = read(session, metric_id, resolutions_for(period, start, now), start, end,
                spec.get("Unit"), sketches=percentile_of(stat) is not None)
    for bucket in bucketize(rows, start, period):
        values[(bucket.ts - start) // period] = statistic(bucket.stats, stat)
    return values


def judge(spec: dict[str, Any], values: list[float | None], current: str) -> Verdict:
    """The state the alarm should be in, given the periods' values (oldest first)."""
    words, breaches = COMPARISONS[spec["ComparisonOperator"]]
    threshold = float(spec["Threshold"])
    wanted = int(spec.get("DatapointsToAlarm") or spec["EvaluationPeriods"])
    treat = spec.get("TreatMissingData") or "missing"
    flags: list[bool | None] = [None if v is None else breaches(v, threshold) for v in values]
    if treat in ("breaching", "notBreaching"):
        flags = [treat == "breaching" if f is None else f for f in flags]
    bad = sum(1 for f in flags if f)
    present = [v for v in values if v is not None]
    shown = ", ".join(f"{v:g}" for v in present) or "no datapoints"
    data = {"version": "1.0", "threshold": threshold, "recentDatapoints": present,
            "evaluatedDatapoints": len(present)}
    if bad >= wanted:
        return Verdict("ALARM", f"Threshold Crossed: {bad} out of the last {len(values)} "
                       f"datapoints [{shown}] {'was' if bad == 1 else 'were'} {words} the "
                       f"threshold ({threshold:g}) (minimum {wanted} datapoint"
                       f"{'s' if wanted > 1 else ''} for OK -> ALARM transition).", data)
    if all(f is None for f in flags):
        if treat == "ignore":
            return Verdict(None, "", data)
        return Verdict("INSUFFICIENT_DATA", "Insufficient Data: "
                       f"{len(values)} datapoints were unknown.", data)
    return Verdict("OK", f"Threshold Crossed: {len(values) - bad} out of the last "
                   f"{len(values)} datapoints [{shown}] were not {words} the threshold "
                   f"({threshold:g}) (minimum {wanted} datapoint{'s' if wanted > 1 else ''} "
                   "for ALARM -> OK transition).", data)


def evaluate(session: Session, settings: Settings, alarm: CwAlarm, now: datetime) -> bool:
    """Evaluate one alarm; returns whether its state changed."""
    spec = definition(alarm)
    period = int(spec["Period"])
    stamp = math.floor(now.timestamp())
    start, end = evaluated_window(stamp, period, int(spec["EvaluationPeriods"]))
    verdict = judge(spec, _values(session, alarm, spec, start, end, stamp), alarm.state_value)
    alarm.evaluated_at = now
    if verdict.state is None:
        return False
    data = dict(verdict.data, queryDate=now.isoformat(), period=period,
                startDate=datetime.fromtimestamp(start, UTC).isoformat())
    changed = set_state(session, alarm, verdict.state, verdict.reason,
                        json.dumps(data), now)
    if changed:
        event(log, logging.INFO, "cloudwatch.alarm_state", alarm=alarm.name,
              account=alarm.account_id, state=verdict.state)
        run_actions(session, settings, alarm, verdict.state, now)
    return changed


def evaluate_alarms(sessions: sessionmaker[Session], settings: Settings,
                    now: datetime | None = None) -> int:
    """One pass over every alarm (rows claimed with SKIP LOCKED: several controllers share the
    work); returns how many changed state."""
    moment = now or datetime.now(UTC)
    changed = 0
    with transaction(sessions) as session:
        alarms = session.execute(select(CwAlarm).where(CwAlarm.metric_name.is_not(None))
                                 .order_by(CwAlarm.id).with_for_update(skip_locked=True))
        for alarm in alarms.scalars():
            changed += evaluate(session, settings, alarm, moment)
    return changed
