"""A mergeable log-bucket histogram (DDSketch-style) that percentiles come from.

A value ``v > 0`` falls in bucket ``ceil(log(v) / log(GAMMA))``, so every value in a bucket is
within 1 % of the bucket's representative; negative values mirror that, zero has its own count.
Merging two sketches adds their counts, so 1-minute sketches roll up into 5-minute and 1-hour
ones exactly as statistic sets do. Serialised as compact JSON for the ``sketch`` column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

ACCURACY = 0.01
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
_TINY = 1e-300  # below this, a value counts as zero


def _key(magnitude: float) -> int:
    return math.ceil(math.log(magnitude) / _LOG_GAMMA)


def _representative(key: int) -> float:
    return 2 * GAMMA ** key / (GAMMA + 1)


@dataclass
class Sketch:
    positive: dict[int, float] = field(default_factory=dict)
    negative: dict[int, float] = field(default_factory=dict)
    zero: float = 0.0

    def add(self, value: float, count: float = 1.0) -> None:
        if abs(value) < _TINY:
            self.zero += count
        elif value > 0:
            key = _key(value)
            self.positive[key] = self.positive.get(key, 0.0) + count
        else:
            key = _key(-value)
            self.negative[key] = self.negative.get(key, 0.0) + count

    def merge(self, other: Sketch) -> None:
        for key, count in other.positive.items():
            self.positive[key] = self.positive.get(key, 0.0) + count
        for key, count in other.negative.items():
            self.negative[key] = self.negative.get(key, 0.0) + count
        self.zero += other.zero

    @property
    def count(self) -> float:
        return sum(self.positive.values()) + sum(self.negative.values()) + self.zero

    def _ordered(self) -> Iterable[tuple[float, float]]:
        for key in sorted(self.negative, reverse=True):
            yield -_representative(key), self.negative[key]
        if self.zero:
            yield 0.0, self.zero
        for key in sorted(self.positive):
            yield _representative(key), self.positive[key]

    def quantile(self, q: float, low: float, high: float) -> float | None:
        """The ``q`` (0..1) quantile by nearest rank, clamped into the exact ``[low, high]``."""
        total = self.count
        if total <= 0:
            return None
        rank = max(math.ceil(q * total - 1e-9), 1)
        seen = 0.0
        for value, count in self._ordered():
            seen += count
            if seen >= rank - 1e-9:
                return min(max(value, low), high)
        return high

    def dumps(self) -> str:
        """``{"p": [first key, count, count, ...], "n": [...], "z": zeros}`` (dense runs:
        real data fills neighbouring buckets, and lists of numbers parse fastest)."""
        data: dict[str, object] = {}
        if self.positive:
            data["p"] = _dense(self.positive)
        if self.negative:
            data["n"] = _dense(self.negative)
        if self.zero:
            data["z"] = _number(self.zero)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> Sketch:
        data = json.loads(text)
        return cls(positive=_sparse(data.get("p")), negative=_sparse(data.get("n")),
                   zero=float(data.get("z", 0.0)))


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _dense(buckets: dict[int, float]) -> list[float | int]:
    first, last = min(buckets), max(buckets)
    return [first, *(_number(buckets.get(k, 0.0)) for k in range(first, last + 1))]


def _sparse(dense: list[float] | None) -> dict[int, float]:
    if not dense:
        return {}
    first = int(dense[0])
    return {k: float(c) for k, c in zip(range(first, first + len(dense) - 1), dense[1:],
                                        strict=True) if c}
