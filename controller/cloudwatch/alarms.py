"""PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DescribeAlarmHistory, DeleteAlarms,
SetAlarmState, EnableAlarmActions and DisableAlarmActions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select

from controller import ids
from controller.cloudwatch import paging, validate
from controller.cloudwatch.alarm_actions import ec2_action, instance_of, run_actions
from controller.cloudwatch.alarm_eval import COMPARISONS
from controller.cloudwatch.alarm_model import DEFINITION, STATES, metric_alarm, record, set_state
from controller.cloudwatch.errors import (
    InvalidFormat,
    InvalidParameterCombination,
    InvalidParameterValue,
    ResourceNotFound,
)
from controller.cloudwatch.metrics import metric_key
from controller.cloudwatch.registry import Context, Params, Result, operation
from controller.cloudwatch.stats import STATISTICS, percentile_of
from controller.db.models import CwAlarm, CwAlarmHistory

TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")
MAX_ACTIONS = 5


def _check_actions(ctx: Context, params: Params) -> None:
    for key in ("OKActions", "AlarmActions", "InsufficientDataActions"):
        arns = params.get(key) or []
        if len(arns) > MAX_ACTIONS:
            raise InvalidParameterValue(
                f"The collection {key} must not have a size greater than {MAX_ACTIONS}.")
        for arn in arns:
            action = ec2_action(arn)
            if action is None:
                if not arn.startswith("arn:"):
                    raise InvalidParameterValue(f"Invalid arn syntax: {arn}")
                continue
            if action.region != ctx.settings.region:
                raise InvalidParameterValue(
                    f"Invalid region {action.region} specified. Only {ctx.settings.region} is "
                    "supported.")
            if instance_of(params) is None:
                raise InvalidParameterValue(
                    "The EC2 'InstanceId' dimension is required when using EC2 actions: "
                    f"{arn}")


def _check_alarm(params: Params) -> None:
    validate.text(params["AlarmName"], "AlarmName", 1, 255)
    if params.get("Metrics"):
        raise InvalidParameterValue("Metric math alarms (Metrics) are not supported here.")
    for required in ("MetricName", "Namespace", "Period", "Threshold"):
        if params.get(required) is None:
            raise InvalidParameterValue(f"The parameter {required} is required.")
    metric_key(params, "")
    stat, extended = params.get("Statistic"), params.get("ExtendedStatistic")
    if (stat is None) == (extended is None):
        raise InvalidParameterCombination(
            "Exactly one of Statistic or ExtendedStatistic must be specified.")
    if stat is not None and stat not in STATISTICS:
        raise InvalidParameterValue(f"The value {stat} for parameter Statistic is invalid.")
    if extended is not None and percentile_of(extended) is None:
        raise InvalidParameterValue(
            f"The value {extended} for parameter ExtendedStatistic is invalid.")
    period = validate.period(params["Period"])
    if period < 10:
        raise InvalidParameterValue("The parameter Period must be 10, 30 or a multiple of 60.")
    periods = params["EvaluationPeriods"]
    if periods < 1 or period * periods > 7 * 86400:
        raise InvalidParameterValue(
            "The evaluation period (Period times EvaluationPeriods) must be between "
            f"{period} seconds and 7 days.")
    wanted = params.get("DatapointsToAlarm")
    if wanted is not None and not 1 <= wanted <= periods:
        raise InvalidParameterValue(
            "DatapointsToAlarm must be between 1 and EvaluationPeriods.")
    if params["ComparisonOperator"] not in COMPARISONS:
        raise InvalidParameterValue(
            f"The value {params['ComparisonOperator']} for parameter ComparisonOperator is "
            "invalid.")
    treat = params.get("TreatMissingData")
    if treat is not None and treat not in TREAT_MISSING:
        raise InvalidParameterValue(
            f"The value {treat} for parameter TreatMissingData is invalid.")
    validate.unit(params.get("Unit"))
    validate.value(params["Threshold"], "Threshold")


@operation("PutMetricAlarm")
def put_metric_alarm(ctx: Context, params: Params) -> Result:
    _check_alarm(params)
    _check_actions(ctx, params)
    spec = {k: params[k] for k in DEFINITION if params.get(k) is not None}
    alarm = ctx.session.execute(select(CwAlarm).where(
        CwAlarm.account_id == ctx.account_id, CwAlarm.name == params["AlarmName"])
        .with_for_update()).scalar()
    if alarm is None:
        alarm = CwAlarm(id=ids.new_resource_id("alarm"), account_id=ctx.account_id,
                        name=params["AlarmName"], state_updated_at=ctx.now)
        ctx.session.add(alarm)
    alarm.namespace, alarm.metric_name = params["Namespace"], params["MetricName"]
    alarm.definition = json.dumps(spec)
    alarm.actions_enabled = params.get("ActionsEnabled", True)
    alarm.configuration_updated_at = ctx.now
    record(ctx.session, alarm, "ConfigurationUpdate", f'Alarm "{alarm.name}" updated',
           {"version": "1.0", "type": "Update", "updatedAlarm": spec}, ctx.now)
    return {}


def _names(params: Params, key: str = "AlarmNames") -> list[str]:
    names: list[str] = params.get(key) or []
    if len(names) > 100:
        raise InvalidParameterValue(f"The collection {key} must not have a size greater than 100.")
    return names


def _page(ctx: Context, alarms: Sequence[CwAlarm], params: Params) -> Result:
    limit = params.get("MaxRecords") or 50
    if not 1 <= limit <= 100:
        raise InvalidParameterValue("The parameter MaxRecords must be between 1 and 100.")
    after = paging.decode(params.get("NextToken"), "after", str) or ""
    rest = [a for a in alarms if a.name > after]
    result: dict[str, Any] = {"MetricAlarms": [metric_alarm(a, ctx.settings.region)
                                               for a in rest[:limit]]}
    if len(rest) > limit:
        result["NextToken"] = paging.encode("after", rest[limit - 1].name)
    return result


@operation("DescribeAlarms")
def describe_alarms(ctx: Context, params: Params) -> Result:
    names, prefix = _names(params), params.get("AlarmNamePrefix")
    if names and prefix is not None:
        raise InvalidParameterCombination(
            "AlarmNames and AlarmNamePrefix cannot be specified together.")
    state = params.get("StateValue")
    if state is not None and state not in STATES:
        raise InvalidParameterValue(f"The value {state} for parameter StateValue is invalid.")
    query = select(CwAlarm).where(CwAlarm.account_id == ctx.account_id)
    if names:
        query = query.where(CwAlarm.name.in_(names))
    if prefix is not None:
        query = query.where(CwAlarm.name.startswith(prefix, autoescape=True))
    if state is not None:
        query = query.where(CwAlarm.state_value == state)
    alarms = list(ctx.session.execute(query.order_by(CwAlarm.name)).scalars())
    action_prefix = params.get("ActionPrefix")
    if action_prefix:
        alarms = [a for a in alarms if any(
            arn.startswith(action_prefix) for arn in _all_actions(a))]
    types = params.get("AlarmTypes")
    if types and "MetricAlarm" not in types:
        alarms = []
    result = dict(_page(ctx, alarms, params))
    result["CompositeAlarms"] = []
    return result


def _all_actions(alarm: CwAlarm) -> list[str]:
    spec = json.loads(alarm.definition)
    return [*spec.get("OKActions", []), *spec.get("AlarmActions", []),
            *spec.get("InsufficientDataActions", [])]


@operation("DescribeAlarmsForMetric")
def describe_alarms_for_metric(ctx: Context, params: Params) -> Result:
    key = metric_key(params, "")
    query = select(CwAlarm).where(CwAlarm.account_id == ctx.account_id,
                                  CwAlarm.namespace == key.namespace,
                                  CwAlarm.metric_name == key.name).order_by(CwAlarm.name)
    out = []
    for alarm in ctx.session.execute(query).scalars():
        view = metric_alarm(alarm, ctx.settings.region)
        dims = tuple(sorted((d["Name"], d["Value"]) for d in view["Dimensions"]))
        if params.get("Dimensions") is not None and dims != key.dimensions:
            continue
        if any(params.get(k) is not None and params[k] != view.get(k)
               for k in ("Statistic", "ExtendedStatistic", "Period", "Unit")):
            continue
        out.append(view)
    return {"MetricAlarms": out}


def _owned(ctx: Context, names: Sequence[str], lock: bool = False) -> list[CwAlarm]:
    """The caller's alarms of these names; ``lock``: for a state change, which must not
    interleave with the evaluator's (its history names the state it changed from)."""
    if not names:
        return []
    query = select(CwAlarm).where(CwAlarm.account_id == ctx.account_id,
                                  CwAlarm.name.in_(list(names)))
    return list(ctx.session.execute(query.with_for_update() if lock else query).scalars())


@operation("DeleteAlarms")
def delete_alarms(ctx: Context, params: Params) -> Result:
    names = _names(params)
    found = _owned(ctx, names)
    missing = sorted(set(names) - {a.name for a in found})
    if missing:
        raise ResourceNotFound(f"The following alarms were not found: {missing}")
    for alarm in found:
        ctx.session.delete(alarm)
    ctx.session.execute(delete(CwAlarmHistory).where(
        CwAlarmHistory.account_id == ctx.account_id, CwAlarmHistory.alarm_name.in_(names)))
    return {}


@operation("SetAlarmState")
def set_alarm_state(ctx: Context, params: Params) -> Result:
    if params["StateValue"] not in STATES:
        raise InvalidParameterValue(
            f"The value {params['StateValue']} for parameter StateValue is invalid.")
    data = params.get("StateReasonData")
    if data is not None:
        try:
            json.loads(data)
        except ValueError:
            raise InvalidFormat("StateReasonData is not valid JSON.") from None
    found = _owned(ctx, [params["AlarmName"]], lock=True)
    if not found:
        raise ResourceNotFound(f"Alarm {params['AlarmName']} not found")
    alarm = found[0]
    if set_state(ctx.session, alarm, params["StateValue"], params["StateReason"], data, ctx.now):
        run_actions(ctx.session, ctx.settings, alarm, params["StateValue"], ctx.now)
    return {}


def _toggle(ctx: Context, params: Params, enabled: bool) -> Result:
    for alarm in _owned(ctx, _names(params)):
        alarm.actions_enabled = enabled
    return {}


@operation("EnableAlarmActions")
def enable_alarm_actions(ctx: Context, params: Params) -> Result:
    return _toggle(ctx, params, True)


@operation("DisableAlarmActions")
def disable_alarm_actions(ctx: Context, params: Params) -> Result:
    return _toggle(ctx, params, False)


@operation("DescribeAlarmHistory")
def describe_alarm_history(ctx: Context, params: Params) -> Result:
    query = select(CwAlarmHistory).where(CwAlarmHistory.account_id == ctx.account_id)
    if params.get("AlarmName") is not None:
        query = query.where(CwAlarmHistory.alarm_name == params["AlarmName"])
    kind = params.get("HistoryItemType")
    if kind is not None:
        if kind not in ("ConfigurationUpdate", "StateUpdate", "Action"):
            raise InvalidParameterValue(
                f"The value {kind} for parameter HistoryItemType is invalid.")
        query = query.where(CwAlarmHistory.item_type == kind)
    if params.get("StartDate") is not None:
        query = query.where(CwAlarmHistory.timestamp >= params["StartDate"])
    if params.get("EndDate") is not None:
        query = query.where(CwAlarmHistory.timestamp <= params["EndDate"])
    ascending = params.get("ScanBy") == "TimestampAscending"
    after = paging.decode(params.get("NextToken"), "after", int)
    if after is not None:
        query = query.where(CwAlarmHistory.id > after if ascending else CwAlarmHistory.id < after)
    order = CwAlarmHistory.id.asc() if ascending else CwAlarmHistory.id.desc()
    limit = params.get("MaxRecords") or 100
    if not 1 <= limit <= 100:
        raise InvalidParameterValue("The parameter MaxRecords must be between 1 and 100.")
    rows = list(ctx.session.execute(query.order_by(order).limit(limit + 1)).scalars())
    result: dict[str, Any] = {"AlarmHistoryItems": [
        {"AlarmName": r.alarm_name, "AlarmType": "MetricAlarm", "Timestamp": r.timestamp,
         "HistoryItemType": r.item_type, "HistorySummary": r.summary, "HistoryData": r.data}
        for r in rows[:limit]]}
    if len(rows) > limit:
        result["NextToken"] = paging.encode("after", rows[limit - 1].id)
    return result
