"""PutMetricData, GetMetricStatistics and ListMetrics."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select

from controller.cloudwatch import paging, validate
from controller.cloudwatch.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
)
from controller.cloudwatch.registry import Context, Params, Result, operation
from controller.cloudwatch.stats import (
    STATISTICS,
    bucketize,
    percentile_of,
    resolutions_for,
    statistic,
)
from controller.cloudwatch.store import MetricKey, Point, StatSet, find_metric, put, read
from controller.db.models import CwMetric, CwMetricDimension

MAX_DATAPOINTS = 1440
MAX_VALUES = 150
LIST_PAGE = 500
PAST = timedelta(days=14)
FUTURE = timedelta(hours=2)


def epoch(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def _datum_stats(datum: dict[str, Any], where: str) -> StatSet:
    given = [k for k in ("Value", "Values", "StatisticValues") if datum.get(k) is not None]
    if len(given) > 1:
        raise InvalidParameterCombination(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive "
            "and you have specified both.")
    if datum.get("Value") is not None:
        number = validate.value(datum["Value"], f"{where}.Value")
        return StatSet.of_values([number], [1.0])
    if datum.get("StatisticValues") is not None:
        return _statistic_set(datum["StatisticValues"], f"{where}.StatisticValues")
    values = datum.get("Values") or []
    counts = datum.get("Counts") or [1.0] * len(values)
    if not values:
        raise InvalidParameterCombination(
            f"At least one of the parameters {where}.Value, {where}.Values or "
            f"{where}.StatisticValues must be specified.")
    if len(values) > MAX_VALUES:
        raise InvalidParameterValue(
            f"The collection {where}.Values must not have a size greater than {MAX_VALUES}.")
    if len(counts) != len(values):
        raise InvalidParameterValue(
            f"The parameters {where}.Values and {where}.Counts must be of the same size.")
    for i, (number, count) in enumerate(zip(values, counts, strict=True), 1):
        validate.value(number, f"{where}.Values.member.{i}")
        if not math.isfinite(count) or count < 0:
            raise InvalidParameterValue(
                f"The value {count} for parameter {where}.Counts.member.{i} is invalid.")
    return StatSet.of_values(values, counts)


def _statistic_set(given: dict[str, float], where: str) -> StatSet:
    for name in ("SampleCount", "Sum", "Minimum", "Maximum"):
        validate.value(given[name], f"{where}.{name}")
    if given["SampleCount"] <= 0:
        raise InvalidParameterValue(
            f"The parameter {where}.SampleCount must be greater than 0.")
    if given["Minimum"] > given["Maximum"]:
        raise InvalidParameterValue(
            f"The parameter {where}.Minimum must be less than or equal to {where}.Maximum.")
    return StatSet(given["SampleCount"], given["Sum"], given["Minimum"], given["Maximum"])


def _timestamp(datum: dict[str, Any], where: str, now: datetime) -> int:
    moment: datetime = datum.get("Timestamp") or now
    if moment < now - PAST:
        raise InvalidParameterValue(
            f"The parameter {where}.Timestamp must specify a time no more than two weeks "
            "in the past.")
    if moment > now + FUTURE:
        raise InvalidParameterValue(
            f"The parameter {where}.Timestamp must specify a time no more than two hours "
            "in the future.")
    return epoch(moment)


def datum_point(namespace: str, datum: dict[str, Any], where: str, now: datetime) -> Point:
    name = validate.text(datum["MetricName"], f"{where}.MetricName", 1, 255)
    dims = validate.dimensions(datum.get("Dimensions"), f"{where}.Dimensions")
    resolution = datum.get("StorageResolution", 60)
    if resolution not in (1, 60):
        raise InvalidParameterValue(
            f"The value {resolution} for parameter {where}.StorageResolution is invalid. "
            "Valid values are 1 and 60.")
    return Point(MetricKey(namespace, name, dims), _timestamp(datum, where, now),
                 validate.unit(datum.get("Unit"), f"{where}.Unit") or "None",
                 _datum_stats(datum, where), high_resolution=resolution == 1)


@operation("PutMetricData")
def put_metric_data(ctx: Context, params: Params) -> Result:
    namespace = validate.namespace(params["Namespace"])
    if namespace.startswith("AWS/"):
        raise InvalidParameterValue(f"The value {namespace} for parameter Namespace is invalid.")
    data = params.get("MetricData") or []
    if not data:
        raise InvalidParameterValue("The parameter MetricData is required.")
    if len(data) > 1000:
        raise InvalidParameterValue(
            "The collection MetricData must not have a size greater than 1000.")
    points = [datum_point(namespace, datum, f"MetricData.member.{i}", ctx.now)
              for i, datum in enumerate(data, 1)]
    put(ctx.session, ctx.account_id, points, epoch(ctx.now))
    return {}


def metric_key(metric: dict[str, Any], where: str) -> MetricKey:
    """A ``Metric`` / GetMetricStatistics-style (Namespace, MetricName, Dimensions)."""
    return MetricKey(validate.namespace(metric["Namespace"], f"{where}Namespace"),
                     validate.text(metric["MetricName"], f"{where}MetricName", 1, 255),
                     validate.dimensions(metric.get("Dimensions"), f"{where}Dimensions"))


def statistics_names(params: Params) -> tuple[list[str], list[str]]:
    stats = params.get("Statistics") or []
    extended = params.get("ExtendedStatistics") or []
    if bool(stats) == bool(extended):
        raise InvalidParameterCombination(
            "Must specify either Statistics or ExtendedStatistics, but not both.")
    if len(stats) > 5 or len(extended) > 10:
        raise InvalidParameterValue(
            "The collection Statistics must not have a size greater than 5, "
            "ExtendedStatistics 10.")
    for name in stats:
        if name not in STATISTICS:
            raise InvalidParameterValue(f"The value {name} for parameter Statistics is invalid.")
    for name in extended:
        if percentile_of(name) is None:
            raise InvalidParameterValue(
                f"The value {name} for parameter ExtendedStatistics is invalid.")
    return stats, extended


def check_datapoints(start: int, end: int, period: int) -> None:
    wanted = -(-(end - start) // period)
    if wanted > MAX_DATAPOINTS:
        raise InvalidParameterCombination(
            f"You have requested up to {wanted:,} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS:,}. You may reduce the datapoints requested by increasing Period, "
            "or decreasing the time range.")


def aligned_start(start: int, period: int) -> int:
    step = min(60, period)
    return start - start % step


@operation("GetMetricStatistics")
def get_metric_statistics(ctx: Context, params: Params) -> Result:
    key = metric_key(params, "")
    period = validate.period(params["Period"])
    stats, extended = statistics_names(params)
    unit = validate.unit(params.get("Unit"))
    validate.time_range(params["StartTime"], params["EndTime"])
    start, end = epoch(params["StartTime"]), math.ceil(params["EndTime"].timestamp())
    check_datapoints(start, end, period)
    result: dict[str, Any] = {"Label": key.name, "Datapoints": []}
    metric_id = find_metric(ctx.session, ctx.account_id, key)
    if metric_id is None:
        return result
    start = aligned_start(start, period)
    rows = read(ctx.session, metric_id, resolutions_for(period, start, epoch(ctx.now)),
                start, end, unit, sketches=bool(extended))
    for bucket in bucketize(rows, start, period):
        point: dict[str, Any] = {"Timestamp": datetime.fromtimestamp(bucket.ts, UTC),
                                 "Unit": bucket.unit}
        for name in stats:
            point[name] = statistic(bucket.stats, name)
        if extended:
            values = {n: statistic(bucket.stats, n) for n in extended}
            point["ExtendedStatistics"] = {n: v for n, v in values.items() if v is not None}
        result["Datapoints"].append(point)
    return result


def as_metric(row: CwMetric) -> dict[str, Any]:
    dims = [{"Name": n, "Value": v} for n, v in json.loads(row.dimensions)]
    return {"Namespace": row.namespace, "MetricName": row.metric_name, "Dimensions": dims}


@operation("ListMetrics")
def list_metrics(ctx: Context, params: Params) -> Result:
    now = epoch(ctx.now)
    query = select(CwMetric).where(CwMetric.account_id == ctx.account_id,
                                   CwMetric.last_put_at >= now - int(PAST.total_seconds()),
                                   CwMetric.id > (paging.decode(params.get("NextToken"), "after", int) or 0))
    if params.get("Namespace") is not None:
        query = query.where(CwMetric.namespace == validate.namespace(params["Namespace"]))
    if params.get("MetricName") is not None:
        query = query.where(CwMetric.metric_name == params["MetricName"])
    filters = params.get("Dimensions") or []
    if len(filters) > 10:
        raise InvalidParameterValue(
            "The collection Dimensions must not have a size greater than 10.")
    for dim in filters:
        match = (CwMetricDimension.metric_id == CwMetric.id) & (
            CwMetricDimension.name == dim["Name"])
        if dim.get("Value") is not None:
            match = match & (CwMetricDimension.value == dim["Value"])
        query = query.where(exists().where(match))
    if params.get("RecentlyActive") is not None:
        if params["RecentlyActive"] != "PT3H":
            raise InvalidParameterValue(
                f"The value {params['RecentlyActive']} for parameter RecentlyActive is invalid.")
        query = query.where(CwMetric.last_put_at >= now - 3 * 3600)
    rows = list(ctx.session.execute(query.order_by(CwMetric.id).limit(LIST_PAGE + 1)).scalars())
    result: dict[str, Any] = {"Metrics": [as_metric(r) for r in rows[:LIST_PAGE]]}
    if len(rows) > LIST_PAGE:
        result["NextToken"] = paging.encode("after", rows[LIST_PAGE - 1].id)
    return result
