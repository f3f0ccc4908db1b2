"""A mergeable log-bucket histogram (DDSketch-style) that percentiles come from.

A value ``v > 0`` falls in bucket ``ceil(log(v) / log(GAMMA))``, so every value in a bucket is
within 1 % of the bucket's representative; negative values mirror that, zero has its own count.
Merging two sketches adds their counts, so 1-minute sketches roll up into 5-minute and 1-hour
ones exactly as statistic sets do. Serialised as compact JSON for the ``sketch`` column.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import accumulate

ACCURACY = 0.01
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
_TINY = 1e-300  # below this, a value counts as zero


def _key(magnitude: float) -> int:
    return math.ceil(math.log(magnitude) / _LOG_GAMMA)


def _representative(key: int) -> float:
    return 2 * GAMMA ** key / (GAMMA + 1)


def _position(buckets: dict[int, float], keys: list[int], rank: float) -> int:
    """The index in ``keys`` of the bucket where the running count reaches ``rank``."""
    cumulative = list(accumulate(buckets[k] for k in keys))
    return min(bisect_left(cumulative, rank), len(keys) - 1)


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

    def quantile(self, q: float, low: float, high: float) -> float | None:
        """The ``q`` (0..1) quantile by nearest rank, clamped into the exact ``[low, high]``."""
        negative = sum(self.negative.values())
        positive = sum(self.positive.values())
        total = negative + self.zero + positive
        if total <= 0:
            return None
        rank = max(math.ceil(q * total - 1e-9), 1) - 1e-9
        if rank <= negative:
            keys = sorted(self.negative, reverse=True)
            value = -_representative(keys[_position(self.negative, keys, rank)])
        elif rank <= negative + self.zero:
            value = 0.0
        else:
            keys = sorted(self.positive)
            value = _representative(keys[_position(self.positive, keys, rank - negative
                                                   - self.zero)])
        return min(max(value, low), high)

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
