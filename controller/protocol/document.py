"""Shape-driven decoding and encoding of JSON and CBOR documents (``json`` / awsJson1_0 and
``smithy-rpc-v2-cbor``): both carry the operation's input and output structures as plain maps
keyed by member names; they differ only in how timestamps and blobs travel.

* JSON: timestamps are epoch seconds (numbers), blobs base64 strings, non-finite doubles the
  strings ``NaN``, ``Infinity``, ``-Infinity``;
* CBOR: timestamps are tag 1 (``datetime`` once decoded), blobs byte strings.

Decoding checks types against the shape (unknown members are ignored, as Smithy servers do;
``null`` is absent) and raises :mod:`controller.protocol.errors`; encoding refuses keys the
shape does not know, like the XML serializers.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.model import Shape

from controller.protocol import cbor
from controller.protocol.errors import InvalidParameterValue, MissingParameter

__all__ = ["Flavour", "decode_document", "encode_document"]

Flavour = Literal["json", "cbor"]
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_INT_LIMITS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _wrong(path: str, expected: str) -> InvalidParameterValue:
    return InvalidParameterValue(path or "body", None, f"Expected: '{expected}'.")


def decode_document(shape: Shape | None, value: Any, flavour: Flavour) -> dict[str, Any]:
    """The operation input in ``value`` (a decoded JSON or CBOR map), typed by ``shape``."""
    if shape is None:
        return {}
    result = _decode(shape, value, "", flavour)
    assert isinstance(result, dict)
    return result


def _decode(shape: Shape, value: Any, path: str, flavour: Flavour) -> Any:
    kind: str = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _wrong(path, "Structure")
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            if value.get(name) is not None:
                out[name] = _decode(member, value[name], _join(path, name), flavour)
        for name in shape.required_members:
            if name not in out:
                raise MissingParameter(_join(path, name))
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _wrong(path, "List")
        return [_decode(shape.member, item, f"{path}.{i}", flavour)
                for i, item in enumerate(value, 1)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _wrong(path, "Map")
        return {_decode(shape.key, k, path, flavour): _decode(shape.value, v, _join(path, str(k)),
                                                               flavour)
                for k, v in value.items()}
    return _SCALARS[kind](shape, value, path, flavour)


def _string(shape: Shape, value: Any, path: str, flavour: Flavour) -> str:
    if not isinstance(value, str):
        raise _wrong(path, "String")
    if "\x00" in value:
        raise InvalidParameterValue(path, None, "It contains characters that are not allowed.")
    return value


def _range(shape: Shape, number: float, path: str) -> None:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and number < low:
        raise InvalidParameterValue(path, str(number),
                                    f"Expecting a value greater than or equal to {low}.")
    if high is not None and number > high:
        raise InvalidParameterValue(path, str(number),
                                    f"Expecting a value less than or equal to {high}.")


def _integer(shape: Shape, value: Any, path: str, flavour: Flavour) -> int:
    low, high = _INT_LIMITS[shape.type_name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _wrong(path, "Integer" if shape.type_name == "integer" else "Long")
    _range(shape, value, path)
    return value


def _double(shape: Shape, value: Any, path: str, flavour: Flavour) -> float:
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(path, "Double")
    number = float(value)
    if math.isfinite(number):
        _range(shape, number, path)
    return number


def _boolean(shape: Shape, value: Any, path: str, flavour: Flavour) -> bool:
    if not isinstance(value, bool):
        raise _wrong(path, "Boolean")
    return value


def _timestamp(shape: Shape, value: Any, path: str, flavour: Flavour) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _wrong(path, "Timestamp")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidParameterValue(path, str(value), "The timestamp is out of range.") from None


def _blob(shape: Shape, value: Any, path: str, flavour: Flavour) -> bytes:
    if flavour == "cbor" and isinstance(value, bytes):
        return value
    if flavour == "json" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterValue(path, None, "Invalid BASE64 encoding.") from None
    raise _wrong(path, "Blob")


_SCALARS: dict[str, Callable[[Shape, Any, str, Flavour], Any]] = {
    "string": _string, "integer": _integer, "long": _integer, "float": _double,
    "double": _double, "boolean": _boolean, "timestamp": _timestamp, "blob": _blob,
}


# --- encoding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Out:
    timestamp: Callable[[datetime], Any]
    blob: Callable[[bytes], Any]


def _json_time(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = moment.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def non_finite_text(value: Any) -> str | None:
    """A double member's value checked: AWS's spelling of NaN and the infinities, or None for
    a finite number (a bool or a non-number is a programming error)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return None


def _double_out(value: Any) -> Any:
    special = non_finite_text(value)
    return value if special is None else special


_OUT = {
    "json": _Out(_json_time, lambda b: base64.b64encode(b).decode("ascii")),
    "cbor": _Out(cbor.timestamp, bytes),
}


def encode_document(shape: Shape | None, data: Mapping[str, Any], flavour: Flavour) -> Any:
    """``data`` (keyed by member names, shaped like ``shape``) as a JSON/CBOR-ready value."""
    if shape is None:
        if data:
            raise ValueError(f"no output shape, yet got {sorted(data)}")
        return {}
    return _encode(shape, data, _OUT[flavour])


def _encode(shape: Shape, value: Any, out: _Out) -> Any:
    kind: str = shape.type_name
    if kind == "structure":
        unknown = set(value) - set(shape.members)
        if unknown:
            raise ValueError(f"{shape.name} has no members {sorted(unknown)}")
        return {name: _encode(shape.members[name], item, out)
                for name, item in value.items() if item is not None}
    if kind == "list":
        return [_encode(shape.member, item, out) for item in value]
    if kind == "map":
        return {key: _encode(shape.value, item, out) for key, item in value.items()}
    if kind == "timestamp":
        return out.timestamp(value)
    if kind == "blob":
        return out.blob(value)
    if kind in ("double", "float"):
        return _double_out(value)
    if kind in ("integer", "long") and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"expected an int, got {type(value).__name__}")
    return value
