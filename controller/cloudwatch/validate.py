"""Checks shared by the CloudWatch operations, worded as CloudWatch words them."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from controller.cloudwatch.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from controller.cloudwatch.store import Dimensions

UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
})
MAX_DIMENSIONS = 30
_LIMIT = 2.0 ** 360
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)


def text(value: str, name: str, low: int, high: int) -> str:
    if not low <= len(value) <= high:
        raise InvalidParameterValue(
            f"The parameter {name} must be between {low} and {high} characters long.")
    return value


_NAMESPACE = re.compile(r"[0-9A-Za-z.\-_/#: ]*[0-9A-Za-z.\-_/#:][0-9A-Za-z.\-_/#: ]*")


def namespace(value: str, name: str = "Namespace") -> str:
    """ASCII letters, digits, ``. - _ / # :`` and spaces, not only spaces (CloudWatch's rule)."""
    text(value, name, 1, 255)
    if _NAMESPACE.fullmatch(value) is None:
        raise InvalidParameterValue(f"The value {value} for parameter {name} is invalid.")
    return value


def unit(value: str | None, name: str = "Unit") -> str | None:
    if value is not None and value not in UNITS:
        raise InvalidParameterValue(f"The value {value} for parameter {name} is invalid.")
    return value


def dimensions(values: Sequence[dict[str, Any]] | None, name: str) -> Dimensions:
    given = values or []
    if len(given) > MAX_DIMENSIONS:
        raise InvalidParameterValue(
            f"The collection {name} must not have a size greater than {MAX_DIMENSIONS}.")
    out: dict[str, str] = {}
    for i, dim in enumerate(given, 1):
        where = f"{name}.member.{i}"
        key = text(dim["Name"], f"{where}.Name", 1, 255)
        if dim.get("Value") is None:
            raise MissingParameter(f"The parameter {where}.Value is required.")
        value = text(dim["Value"], f"{where}.Value", 1, 1024)
        if key in out:
            raise InvalidParameterValue(
                f"No Metric may specify the same dimension name twice: {key}")
        out[key] = value
    return tuple(sorted(out.items()))


def value(number: float, name: str) -> float:
    if not math.isfinite(number) or abs(number) > _LIMIT:
        raise InvalidParameterValue(
            f"The value {number} for parameter {name} is invalid.")
    return number


def period(seconds: int, name: str = "Period") -> int:
    if seconds < 1:
        raise InvalidParameterValue(f"The parameter {name} must be greater than 0.")
    if seconds < 60 and seconds not in HIGH_RESOLUTION_PERIODS or (
            seconds >= 60 and seconds % 60):
        raise InvalidParameterValue(
            f"The parameter {name} must be 1, 5, 10, 30, or a multiple of 60.")
    return seconds


def time_range(start: datetime, end: datetime) -> None:
    if start >= end:
        raise InvalidParameterValue(
            "The parameter StartTime must be less than the parameter EndTime.")


def exactly_one(params: dict[str, Any], first: str, second: str) -> None:
    if (params.get(first) is None) == (params.get(second) is None):
        raise InvalidParameterCombination(
            f"Must specify either {first} or {second}, but not both.")
