"""Decode an EC2 Query request into the parameters of a botocore operation.

This is the exact inverse of ``botocore.serialize.EC2Serializer``:

* a member's wire name is its ``queryName``, else its capitalised ``locationName``, else the
  member name;
* lists are always flattened as ``Name.N`` (1-based; indices may arrive sparse and in any
  order and are sorted numerically), structures as ``Name.Member``;
* values are typed by shape: integers, booleans (``true``/``false``, any case), ISO 8601
  timestamps (aware ``datetime``), base64 blobs (``bytes``), floats, strings (enums are left to handlers).

:func:`parse_aws_query` decodes the plain Query protocol (``botocore.serialize.QuerySerializer``,
CloudWatch): wire names are the ``locationName`` else the member name, lists are ``Name.member.N``
(or flattened ``Name.N``) and an empty list is ``Name=`` with no value, maps are
``Name.entry.N.key`` / ``Name.entry.N.value``.

The result is keyed by botocore member names, ready to compare with what a botocore client
was given. Parsing is one pass that splits keys on ``.`` into a tree, then one walk of the
tree against the input shape. Each structure's wire-name table is computed once per shape
object, so an operation is compiled lazily on its first request and cached from then on.

The request envelope (``Action``, ``Version``, SigV2/SigV4 auth fields, see
:data:`ENVELOPE_PARAMS`) belongs to the caller: :func:`split_envelope` separates it, and
:func:`parse_ec2_query` skips any top-level envelope key it is still given. No EC2 input
member is named like an envelope parameter, so nothing is lost.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel, Shape

from controller.protocol.errors import (
    InvalidParameterValue,
    MissingParameter,
    ParameterTooLarge,
    UnknownParameter,
)

__all__ = [
    "ENVELOPE_PARAMS",
    "MAX_LIST_ITEMS",
    "MAX_PARAMS",
    "MAX_VALUE_LENGTH",
    "Params",
    "is_envelope_param",
    "parse_aws_query",
    "parse_ec2_query",
    "split_envelope",
]

#: Top-level keys that frame or authenticate a request rather than feed the operation
#: (plus any key starting with ``X-Amz-``, the SigV4 query-string auth fields).
ENVELOPE_PARAMS: frozenset[str] = frozenset(
    {
        "Action",
        "Version",
        "AWSAccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "Signature",
        "Timestamp",
        "Expires",
        "SecurityToken",
    }
)
MAX_PARAMS = 1000
MAX_QUERY_PARAMS = 100_000
MAX_LIST_ITEMS = 1000
MAX_VALUE_LENGTH = 64 * 1024

Params = Mapping[str, str] | Iterable[tuple[str, str]]
_Tree = dict[str, Any]  # values are either a str (a leaf) or another _Tree

_INT_LIMITS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_TRUTH = {"true": True, "false": False}


def is_envelope_param(name: str) -> bool:
    """Whether ``name`` is part of the request envelope rather than an operation parameter."""
    return name in ENVELOPE_PARAMS or name[:6].lower() == "x-amz-"


def split_envelope(params: Params) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Split request parameters into ``(envelope, operation parameters)``.

    For a repeated envelope key the first value wins.
    """
    envelope: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for key, value in _items(params):
        if is_envelope_param(key):
            envelope.setdefault(key, value)
        else:
            rest.append((key, value))
    return envelope, rest


@dataclass(frozen=True, slots=True)
class _Dialect:
    ec2: bool
    """EC2's flavour (always-flattened lists, capitalised ``locationName``) or plain Query."""
    max_params: int


_EC2 = _Dialect(ec2=True, max_params=MAX_PARAMS)
# A full PutMetricData (1,000 data, each with dimensions) is far over EC2's cap; the body size
# cap still bounds the request.
_QUERY = _Dialect(ec2=False, max_params=MAX_QUERY_PARAMS)


def parse_ec2_query(op: OperationModel, params: Params) -> dict[str, Any]:
    """Decode the wire parameters of ``op`` into a dict keyed by botocore member names.

    Raises a :class:`~controller.protocol.errors.ParameterError` subclass for a missing,
    unknown or malformed parameter, or for a request over the size caps.
    """
    return _parse(op, params, _EC2)


def parse_aws_query(op: OperationModel, params: Params) -> dict[str, Any]:
    """Decode a plain Query-protocol request (CloudWatch) the same way."""
    return _parse(op, params, _QUERY)


def _parse(op: OperationModel, params: Params, dialect: _Dialect) -> dict[str, Any]:
    tree = _build_tree(_items(params), dialect.max_params)
    shape: Shape | None = op.input_shape
    if shape is None:
        if tree:
            raise UnknownParameter(next(iter(tree)))
        return {}
    return _convert_structure(shape, tree, "", dialect)


def _items(params: Params) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        return list(params.items())
    return list(params)


def _build_tree(items: list[tuple[str, str]], max_params: int = MAX_PARAMS) -> _Tree:
    """Split every key on ``.`` into a nested dict; the leaves are the raw string values."""
    if len(items) > max_params:
        raise ParameterTooLarge("", f"It has more than {max_params} parameters.")
    root: _Tree = {}
    for key, value in items:
        if len(value) > MAX_VALUE_LENGTH:
            raise ParameterTooLarge(key, f"It is longer than {MAX_VALUE_LENGTH} characters.")
        *parents, last = key.split(".")
        if not parents and is_envelope_param(key):
            continue
        node = root
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise _conflict(key, value)
            node = child
        if last in node:
            raise _conflict(key, value)
        node[last] = value
    return root


def _conflict(key: str, value: str) -> InvalidParameterValue:
    return InvalidParameterValue(key, value, "The parameter is given more than once.")


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _convert(shape: Shape, node: str | _Tree, path: str, dialect: _Dialect) -> Any:
    kind: str = shape.type_name
    if kind == "structure":
        return _convert_structure(shape, node, path, dialect)
    if kind == "list":
        if not dialect.ec2:
            return _convert_query_list(shape, node, path, dialect)
        return _convert_list(shape, node, path, dialect)
    if kind == "map" and not dialect.ec2:
        return _convert_map(shape, node, path, dialect)
    if isinstance(node, dict):
        raise UnknownParameter(_join(path, next(iter(node))))
    convert = _SCALARS.get(kind)
    if convert is None:  # maps: the EC2 model has none; a test keeps it that way
        raise TypeError(f"unsupported input shape type {kind!r} at {path}")
    return convert(shape, node, path)


@dataclass(frozen=True, slots=True)
class _Structure:
    members: dict[str, tuple[str, Shape]]  # wire name -> (member name, member shape)
    required: tuple[tuple[str, str], ...]  # (member name, wire name)


def _wire_name(member: str, shape: Shape, ec2: bool) -> str:
    serialization: Mapping[str, str] = shape.serialization
    if not ec2:
        return serialization.get("name", member)
    if "queryName" in serialization:
        return serialization["queryName"]
    if "name" in serialization:
        name = serialization["name"]
        return name[0].upper() + name[1:]
    return member


@functools.lru_cache(maxsize=8192)
def _structure(shape: Shape, ec2: bool) -> _Structure:
    members: dict[str, tuple[str, Shape]] = {}
    wire_by_member: dict[str, str] = {}
    for name, member_shape in shape.members.items():
        wire = _wire_name(name, member_shape, ec2)
        members[wire] = (name, member_shape)
        wire_by_member[name] = wire
    required = tuple((name, wire_by_member[name]) for name in shape.required_members)
    return _Structure(members, required)


def _convert_structure(shape: Shape, node: str | _Tree, path: str,
                       dialect: _Dialect) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise UnknownParameter(path)
    table = _structure(shape, dialect.ec2)
    out: dict[str, Any] = {}
    for part, child in node.items():
        entry = table.members.get(part)
        if entry is None:
            raise UnknownParameter(_join(path, part))
        name, member_shape = entry
        out[name] = _convert(member_shape, child, _join(path, part), dialect)
    for name, wire in table.required:
        if name not in out:
            raise MissingParameter(_join(path, wire))
    return out


def _convert_query_list(shape: Shape, node: str | _Tree, path: str,
                        dialect: _Dialect) -> list[Any]:
    """``Name.member.N`` (``Name.N`` when flattened); ``Name=`` alone is the empty list."""
    if node == "":
        return []
    if shape.serialization.get("flattened"):
        return _convert_list(shape, node, path, dialect)
    item: str = shape.member.serialization.get("name", "member")
    if not isinstance(node, dict) or set(node) != {item}:
        raise UnknownParameter(path if not isinstance(node, dict)
                               else _join(path, next(k for k in node if k != item)))
    return _convert_list(shape, node[item], _join(path, item), dialect)


def _convert_map(shape: Shape, node: str | _Tree, path: str, dialect: _Dialect) -> dict[str, Any]:
    """``Name.entry.N.key`` / ``Name.entry.N.value``."""
    if node == "":
        return {}
    if not isinstance(node, dict) or set(node) != {"entry"}:
        raise UnknownParameter(path)
    key_name: str = shape.key.serialization.get("name", "key")
    value_name: str = shape.value.serialization.get("name", "value")
    out: dict[str, Any] = {}
    entries = node["entry"]
    if not isinstance(entries, dict):
        raise UnknownParameter(_join(path, "entry"))
    for index, entry in entries.items():
        where = f"{path}.entry.{index}"
        if not isinstance(entry, dict) or key_name not in entry:
            raise MissingParameter(f"{where}.{key_name}")
        key = _convert(shape.key, entry[key_name], f"{where}.{key_name}", dialect)
        out[key] = _convert(shape.value, entry.get(value_name, ""), f"{where}.{value_name}",
                            dialect)
    return out


def _convert_list(shape: Shape, node: str | _Tree, path: str, dialect: _Dialect) -> list[Any]:
    if not isinstance(node, dict):
        raise UnknownParameter(path)
    if len(node) > MAX_LIST_ITEMS:
        raise ParameterTooLarge(path, f"The list has more than {MAX_LIST_ITEMS} items.")
    indexed: list[tuple[int, str]] = []
    for part in node:
        if not (part.isascii() and part.isdigit() and part[0] != "0"):
            raise InvalidParameterValue(
                _join(path, part), None, "A list index must be a whole number of 1 or more."
            )
        indexed.append((int(part), part))
    indexed.sort()
    member: Shape = shape.member
    return [_convert(member, node[part], f"{path}.{part}", dialect) for _, part in indexed]


def _shown(shape: Shape, value: str) -> str | None:
    """The value to echo in an error message, or ``None`` for sensitive members."""
    return None if shape.metadata.get("sensitive") else value


# Characters XML 1.0 cannot carry (NUL and most C0 controls, lone surrogates, U+FFFE/U+FFFF): no
# response could echo them and PostgreSQL refuses NUL in text, so they are refused at the edge.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _string(shape: Shape, value: str, path: str) -> str:
    # Enums are not enforced here: botocore's lists lag what EC2 accepts (DescribeAccountAttributes
    # takes max-instances, which the model's enum lacks) and instance types are operator-defined.
    # Handlers validate the values they act on.
    if _NOT_XML.search(value) is not None:
        raise InvalidParameterValue(path, None, "It contains characters that are not allowed.")
    return value


def _check_range(shape: Shape, number: float, value: str, path: str) -> None:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and number < low:
        reason = f"Expecting a value greater than or equal to {low}."
        raise InvalidParameterValue(path, _shown(shape, value), reason)
    if high is not None and number > high:
        reason = f"Expecting a value less than or equal to {high}."
        raise InvalidParameterValue(path, _shown(shape, value), reason)


def _integer(shape: Shape, value: str, path: str) -> int:
    digits = value[1:] if value[:1] == "-" else value
    low, high = _INT_LIMITS[shape.type_name]
    if not (digits.isascii() and digits.isdigit()) or not low <= int(value) <= high:
        expected = "Integer" if shape.type_name == "integer" else "Long"
        raise InvalidParameterValue(path, _shown(shape, value), f"Expected: '{expected}'.")
    number = int(value)
    _check_range(shape, number, value, path)
    return number


def _float(shape: Shape, value: str, path: str) -> float:
    try:
        if "_" in value or value != value.strip():
            raise ValueError(value)
        number = float(value)
    except ValueError:
        raise InvalidParameterValue(path, _shown(shape, value), "Expected: 'Double'.") from None
    _check_range(shape, number, value, path)
    return number


def _boolean(shape: Shape, value: str, path: str) -> bool:
    truth = _TRUTH.get(value.lower())
    if truth is None:
        raise InvalidParameterValue(path, _shown(shape, value), "Expected: 'Boolean'.")
    return truth


def _timestamp(shape: Shape, value: str, path: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        reason = "Expected: an ISO 8601 timestamp."
        raise InvalidParameterValue(path, _shown(shape, value), reason) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _blob(shape: Shape, value: str, path: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterValue(path, None, "Invalid BASE64 encoding.") from None


_SCALARS: dict[str, Callable[[Shape, str, str], Any]] = {
    "string": _string,
    "integer": _integer,
    "long": _integer,
    "boolean": _boolean,
    "float": _float,
    "double": _float,
    "timestamp": _timestamp,
    "blob": _blob,
}
