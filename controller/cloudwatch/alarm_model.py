"""An alarm's stored definition and its MetricAlarm view; alarm history items."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from controller.db.models import CwAlarm, CwAlarmHistory

#: PutMetricAlarm members kept in ``definition`` (the rest are columns or not stored).
DEFINITION = ("AlarmDescription", "OKActions", "AlarmActions", "InsufficientDataActions",
              "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions",
              "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
              "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile")
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


def definition(alarm: CwAlarm) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(alarm.definition)
    return loaded


def arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def metric_alarm(alarm: CwAlarm, region: str) -> dict[str, Any]:
    """The ``MetricAlarm`` output shape."""
    out = definition(alarm)
    out.update({
        "AlarmName": alarm.name, "AlarmArn": arn(region, alarm.account_id, alarm.name),
        "AlarmConfigurationUpdatedTimestamp": _aware(alarm.configuration_updated_at),
        "ActionsEnabled": alarm.actions_enabled, "StateValue": alarm.state_value,
        "StateReason": alarm.state_reason,
        "StateUpdatedTimestamp": _aware(alarm.state_updated_at),
        "StateTransitionedTimestamp": _aware(alarm.state_updated_at),
    })
    out.setdefault("OKActions", [])
    out.setdefault("AlarmActions", [])
    out.setdefault("InsufficientDataActions", [])
    out.setdefault("Dimensions", [])
    if alarm.state_reason_data:
        out["StateReasonData"] = alarm.state_reason_data
    return out


def record(session: Session, alarm: CwAlarm, item_type: str, summary: str,
           data: dict[str, Any], now: datetime) -> None:
    session.add(CwAlarmHistory(account_id=alarm.account_id, alarm_name=alarm.name,
                               item_type=item_type, summary=summary,
                               data=json.dumps(data, default=str), timestamp=now))


def set_state(session: Session, alarm: CwAlarm, state: str, reason: str,
              reason_data: str | None, now: datetime) -> bool:
    """Move the alarm to ``state``; a history item when it changes. Returns whether it did."""
    old = {"stateValue": alarm.state_value, "stateReason": alarm.state_reason}
    changed = alarm.state_value != state
    alarm.state_reason = reason
    alarm.state_reason_data = reason_data
    if not changed:
        return False
    alarm.state_value = state
    alarm.state_updated_at = now
    record(session, alarm, "StateUpdate", f"Alarm updated from {old['stateValue']} to {state}",
           {"version": "1.0", "oldState": old,
            "newState": {"stateValue": state, "stateReason": reason}}, now)
    return True
