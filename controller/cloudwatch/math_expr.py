"""Metric math for GetMetricData: a small expression language over the queries' series.

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := "-" unary | atom
    atom   := NUMBER | ID | FUNC "(" [arg ("," arg)*] ")" | "(" expr ")"
    FUNC   := METRICS | SUM | AVG | MIN | MAX | ABS

``METRICS()`` is every MetricStat query's series (``METRICS('x')``: those whose Id contains
``x``); SUM/AVG/MIN/MAX of several series is one series, per timestamp; arithmetic between two
series keeps the timestamps both have, with a scalar applies to every point; a division by zero
drops the point. Values are a series (``dict`` timestamp → value), a list of series or a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Series = dict[int, float]
Value = float | Series | list[Series]

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|"
                    r"('[^']*'|\"[^\"]*\")|(\S))")


class ExpressionError(ValueError):
    """The expression cannot be parsed or evaluated; the message says why."""


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "str", "op", "end"
    text: str


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            break
        number, name, string, op = match.groups()
        position = match.end()
        if number is not None:
            out.append(Token("num", number))
        elif name is not None:
            out.append(Token("name", name))
        elif string is not None:
            out.append(Token("str", string[1:-1]))
        elif op is not None:
            if op not in "+-*/(),":
                raise ExpressionError(f"Unexpected character '{op}' in the expression.")
            out.append(Token("op", op))
    out.append(Token("end", ""))
    return out


Resolve = Callable[[str], Value]


class _Parser:
    def __init__(self, text: str, resolve: Resolve, metrics: Callable[[str], list[Series]]):
        self.tokens = tokens(text)
        self.at = 0
        self.resolve = resolve
        self.metrics = metrics

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self, text: str | None = None) -> Token:
        token = self.tokens[self.at]
        if text is not None and token.text != text:
            raise ExpressionError(f"Expected '{text}' but found '{token.text or 'the end'}'.")
        self.at += 1
        return token

    def parse(self) -> Value:
        value = self.expr()
        if self.peek().kind != "end":
            raise ExpressionError(f"Unexpected '{self.peek().text}' in the expression.")
        return value

    def expr(self) -> Value:
        value = self.term()
        while self.peek().text in ("+", "-"):
            op = self.take().text
            value = combine(value, self.term(), op)
        return value

    def term(self) -> Value:
        value = self.unary()
        while self.peek().text in ("*", "/"):
            op = self.take().text
            value = combine(value, self.unary(), op)
        return value

    def unary(self) -> Value:
        if self.peek().text == "-":
            self.take()
            return combine(-1.0, self.unary(), "*")
        return self.atom()

    def atom(self) -> Value:
        token = self.take()
        if token.kind == "num":
            return float(token.text)
        if token.text == "(":
            value = self.expr()
            self.take(")")
            return value
        if token.kind != "name":
            raise ExpressionError(f"Unexpected '{token.text or 'end of expression'}'.")
        if self.peek().text != "(":
            return self.resolve(token.text)
        self.take("(")
        args: list[Value | str] = []
        while self.peek().text != ")":
            args.append(self.take().text if self.peek().kind == "str" else self.expr())
            if self.peek().text != ")":
                self.take(",")
        self.take(")")
        return self.call(token.text.upper(), args)

    def call(self, name: str, args: Sequence[Value | str]) -> Value:
        if name == "METRICS":
            text = args[0] if args else ""
            if len(args) > 1 or not isinstance(text, str):
                raise ExpressionError("METRICS takes at most one string.")
            return self.metrics(text)
        if any(isinstance(a, str) for a in args):
            raise ExpressionError(f"{name} does not take a string.")
        values = [a for a in args if not isinstance(a, str)]
        if name == "ABS":
            if len(values) != 1:
                raise ExpressionError("ABS takes one argument.")
            return apply(values[0], abs)
        reduce = _REDUCERS.get(name)
        if reduce is None:
            raise ExpressionError(f"Unknown function {name}.")
        series: list[Series] = []
        for value in values:
            if isinstance(value, list):
                series.extend(value)
            elif isinstance(value, dict):
                series.append(value)
            else:
                raise ExpressionError(f"{name} takes time series, not numbers.")
        return across(series, reduce)


_REDUCERS: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum, "AVG": lambda v: sum(v) / len(v), "MIN": min, "MAX": max,
}


def across(series: Sequence[Series], reduce: Callable[[list[float]], float]) -> Series:
    stamps: dict[int, list[float]] = {}
    for one in series:
        for ts, value in one.items():
            stamps.setdefault(ts, []).append(value)
    return {ts: reduce(values) for ts, values in sorted(stamps.items())}


def apply(value: Value, fn: Callable[[float], float]) -> Value:
    if isinstance(value, list):
        return [{ts: fn(v) for ts, v in s.items()} for s in value]
    if isinstance(value, dict):
        return {ts: fn(v) for ts, v in value.items()}
    return fn(value)


def _op(a: float, b: float, op: str) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b if b else math.nan


def _clean(series: Series) -> Series:
    return {ts: v for ts, v in series.items() if math.isfinite(v)}


def combine(left: Value, right: Value, op: str) -> Value:
    if isinstance(left, list) or isinstance(right, list):
        if isinstance(left, list) and isinstance(right, list):
            raise ExpressionError("Arithmetic between two arrays of time series is not allowed.")
        if isinstance(left, list):
            return [_clean(combine(s, right, op)) for s in left]  # type: ignore[arg-type]
        assert isinstance(right, list)
        return [_clean(combine(left, s, op)) for s in right]  # type: ignore[arg-type]
    if isinstance(left, dict) and isinstance(right, dict):
        return _clean({ts: _op(v, right[ts], op) for ts, v in left.items() if ts in right})
    if isinstance(left, dict):
        assert not isinstance(right, dict)
        return _clean({ts: _op(v, right, op) for ts, v in left.items()})
    if isinstance(right, dict):
        return _clean({ts: _op(left, v, op) for ts, v in right.items()})
    return _op(left, right, op)


def evaluate(text: str, resolve: Resolve, metrics: Callable[[str], list[Series]]) -> Value:
    return _Parser(text, resolve, metrics).parse()
