"""Metric math expressions and alarm judgement."""

from __future__ import annotations

import pytest

from controller.cloudwatch.alarm_eval import evaluated_window, judge
from controller.cloudwatch.math_expr import ExpressionError, Series, Value, evaluate

SERIES: dict[str, Series] = {"m1": {0: 1.0, 60: 2.0, 120: 3.0}, "m2": {0: 10.0, 60: 20.0},
                             "errors": {0: 0.0, 60: 5.0}}


def run(text: str) -> Value:
    def resolve(name: str) -> Value:
        if name not in SERIES:
            raise ExpressionError(f"unknown {name}")
        return SERIES[name]

    def metrics(text: str) -> list[Series]:
        return [s for k, s in SERIES.items() if text in k]

    return evaluate(text, resolve, metrics)


@pytest.mark.parametrize(("text", "expected"), [
    ("m1+m2", {0: 11.0, 60: 22.0}),
    ("m1 * 2 + 1", {0: 3.0, 60: 5.0, 120: 7.0}),
    ("(m1 + 1) * 2", {0: 4.0, 60: 6.0, 120: 8.0}),
    ("-m1", {0: -1.0, 60: -2.0, 120: -3.0}),
    ("100 * errors / m2", {0: 0.0, 60: 25.0}),
    ("m2 / errors", {60: 4.0}),  # division by zero drops the point
    ("SUM(METRICS())", {0: 11.0, 60: 27.0, 120: 3.0}),
    ("MAX(METRICS('m'))", {0: 10.0, 60: 20.0, 120: 3.0}),
    ("AVG(m1, m2)", {0: 5.5, 60: 11.0, 120: 3.0}),
    ("ABS(m1 - 10)", {0: 9.0, 60: 8.0, 120: 7.0}),
    ("2 * 3 - 1", 5.0),
])
def test_expressions(text: str, expected: Value) -> None:
    assert run(text) == expected


@pytest.mark.parametrize("text", ["m1 +", "m1 $ m2", "FOO(m1)", "SUM(1)", "nope + 1", "(m1",
                                  "METRICS() + METRICS()", "SUM('x')"])
def test_bad_expressions(text: str) -> None:
    with pytest.raises(ExpressionError):
        run(text)


BASE = {"ComparisonOperator": "GreaterThanThreshold", "Threshold": 50.0, "EvaluationPeriods": 3}


@pytest.mark.parametrize(("spec", "values", "state"), [
    ({}, [60.0, 70.0, 80.0], "ALARM"),
    ({}, [60.0, 70.0, 10.0], "OK"),  # 3 of 3 needed
    ({"DatapointsToAlarm": 1}, [None, None, 80.0], "ALARM"),
    ({}, [None, None, None], "INSUFFICIENT_DATA"),
    ({"TreatMissingData": "breaching"}, [None, None, None], "ALARM"),
    ({"TreatMissingData": "notBreaching"}, [None, None, None], "OK"),
    ({"TreatMissingData": "ignore"}, [None, None, None], None),
    ({"DatapointsToAlarm": 2, "TreatMissingData": "breaching"}, [None, 60.0, 10.0], "ALARM"),
    ({"ComparisonOperator": "LessThanOrEqualToThreshold"}, [50.0, 1.0, 0.0], "ALARM"),
    ({"ComparisonOperator": "GreaterThanOrEqualToThreshold"}, [50.0, 50.0, 50.0], "ALARM"),
    ({"ComparisonOperator": "LessThanThreshold"}, [50.0, 50.0, 50.0], "OK"),
])
def test_judge(spec: dict[str, object], values: list[float | None], state: str | None) -> None:
    verdict = judge({**BASE, **spec}, values, "OK")
    assert verdict.state == state
    if state == "ALARM":
        assert verdict.reason.startswith("Threshold Crossed")


def test_evaluated_window_waits_for_the_newest_period_to_settle() -> None:
    minute = 1_800_000_000 - 1_800_000_000 % 60
    # at the boundary the minute that just ended is not yet evaluated (its samples are coming)
    assert evaluated_window(minute + 1, 60, 1) == (minute - 120, minute - 60)
    assert evaluated_window(minute + 9, 60, 1) == (minute - 120, minute - 60)
    assert evaluated_window(minute + 10, 60, 1) == (minute - 60, minute)
    assert evaluated_window(minute + 59, 60, 3) == (minute - 180, minute)
    assert evaluated_window(minute + 10, 300, 2)[1] % 300 == 0
