"""GetMetricData: MetricStat queries and metric math expressions, paged by datapoints."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.cloudwatch import math_expr, paging, validate
from controller.cloudwatch.errors import InvalidParameterCombination, InvalidParameterValue
from controller.cloudwatch.math_expr import ExpressionError, Series, Value
from controller.cloudwatch.metrics import aligned_start, epoch, metric_key
from controller.cloudwatch.registry import Context, Params, Result, operation
from controller.cloudwatch.stats import (
    STATISTICS,
    bucketize,
    percentile_of,
    resolutions_for,
    statistic,
)
from controller.cloudwatch.store import find_metric, read

MAX_QUERIES = 500
MAX_DATAPOINTS = 100_800
_ID = re.compile(r"[a-z][a-zA-Z0-9_]{0,254}")


@dataclass
class _Query:
    index: int
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.spec["Id"])

    @property
    def where(self) -> str:
        return f"MetricDataQueries.member.{self.index}"


def _check(queries: list[_Query]) -> None:
    if not queries:
        raise InvalidParameterValue("The parameter MetricDataQueries is required.")
    if len(queries) > MAX_QUERIES:
        raise InvalidParameterValue(
            f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.")
    seen: set[str] = set()
    for query in queries:
        if _ID.fullmatch(query.id) is None:
            raise InvalidParameterValue(
                f"The value {query.id} for parameter {query.where}.Id is invalid. It must start "
                "with a lowercase letter and contain only letters, numbers and underscores.")
        if query.id in seen:
            raise InvalidParameterValue(f"The value {query.id} is used more than once as an Id.")
        seen.add(query.id)
        if (query.spec.get("MetricStat") is None) == (query.spec.get("Expression") is None):
            raise InvalidParameterCombination(
                f"Exactly one of {query.where}.MetricStat and {query.where}.Expression must be "
                "specified.")
        stat = query.spec.get("MetricStat")
        if stat is not None:
            validate.period(stat["Period"], f"{query.where}.MetricStat.Period")
            if stat["Stat"] not in STATISTICS and percentile_of(stat["Stat"]) is None:
                raise InvalidParameterValue(
                    f"The value {stat['Stat']} for parameter {query.where}.MetricStat.Stat is "
                    "invalid.")
            validate.unit(stat.get("Unit"), f"{query.where}.MetricStat.Unit")
    if not any(q.spec.get("ReturnData", True) for q in queries):
        raise InvalidParameterValue("At least one query must have ReturnData set to true.")


def _metric_series(ctx: Context, query: _Query, start: int, end: int) -> Series:
    stat = query.spec["MetricStat"]
    key = metric_key(stat["Metric"], f"{query.where}.MetricStat.Metric.")
    period = int(stat["Period"])
    metric_id = find_metric(ctx.session, ctx.account_id, key)
    if metric_id is None:
        return {}
    first = aligned_start(start, period)
    rows = read(ctx.session, metric_id, resolutions_for(period, first, epoch(ctx.now)),
                first, end, stat.get("Unit"), sketches=percentile_of(stat["Stat"]) is not None)
    series: Series = {}
    for bucket in bucketize(rows, first, period):
        value = statistic(bucket.stats, stat["Stat"])
        if value is not None:
            series[bucket.ts] = series.get(bucket.ts, 0.0) + value
    return series


def _evaluator(ctx: Context, queries: list[_Query], start: int,
               end: int) -> Callable[[str], Series]:
    by_id = {q.id: q for q in queries}
    done: dict[str, Series] = {}
    busy: set[str] = set()

    def series_of(query_id: str) -> Series:
        if query_id in done:
            return done[query_id]
        query = by_id.get(query_id)
        if query is None:
            raise ExpressionError(f"Unknown metric or expression id {query_id}.")
        if query_id in busy:
            raise ExpressionError(f"The expression of {query_id} refers to itself.")
        busy.add(query_id)
        if query.spec.get("MetricStat") is not None:
            done[query_id] = _metric_series(ctx, query, start, end)
        else:
            done[query_id] = _single(math_expr.evaluate(query.spec["Expression"], resolve,
                                                        metrics), query)
        busy.discard(query_id)
        return done[query_id]

    def resolve(name: str) -> Value:
        return series_of(name)

    def metrics(text: str) -> list[Series]:
        return [series_of(q.id) for q in queries
                if q.spec.get("MetricStat") is not None and text in q.id]

    return series_of


def _single(value: Value, query: _Query) -> Series:
    if isinstance(value, dict):
        return value
    raise ExpressionError(
        f"The expression of {query.id} must return a single time series; it returns "
        f"{'several time series' if isinstance(value, list) else 'a number'}.")


def _label(query: _Query) -> str:
    if query.spec.get("Label"):
        return str(query.spec["Label"])
    stat = query.spec.get("MetricStat")
    return str(stat["Metric"]["MetricName"]) if stat else query.id


@operation("GetMetricData")
def get_metric_data(ctx: Context, params: Params) -> Result:
    queries = [_Query(i, q) for i, q in enumerate(params.get("MetricDataQueries") or [], 1)]
    _check(queries)
    validate.time_range(params["StartTime"], params["EndTime"])
    start, end = epoch(params["StartTime"]), math.ceil(params["EndTime"].timestamp())
    limit = params.get("MaxDatapoints") or MAX_DATAPOINTS
    if limit < 1:
        raise InvalidParameterValue("The parameter MaxDatapoints must be greater than 0.")
    descending = params.get("ScanBy", "TimestampDescending") != "TimestampAscending"
    series_of = _evaluator(ctx, queries, start, end)
    returned = [q for q in queries if q.spec.get("ReturnData", True)]
    try:
        computed = [(q, sorted(series_of(q.id).items(), reverse=descending)) for q in returned]
    except ExpressionError as exc:
        raise InvalidParameterValue(str(exc)) from None
    offset = paging.decode(params.get("NextToken"), "after", int) or 0
    results, position, left = [], 0, limit
    for query, points in computed:
        skip = min(max(offset - position, 0), len(points))
        page = points[skip:skip + left]
        left -= len(page)
        position += len(points)
        complete = skip + len(page) == len(points)
        results.append({"Id": query.id, "Label": _label(query),
                        "Timestamps": [datetime.fromtimestamp(ts, UTC) for ts, _ in page],
                        "Values": [v for _, v in page],
                        "StatusCode": "Complete" if complete else "PartialData",
                        "Messages": []})
    result: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
    if offset + limit < position:
        result["NextToken"] = paging.encode("after", offset + limit)
    return result
