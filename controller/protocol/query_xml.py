"""Render plain Query-protocol responses and errors (CloudWatch, later IAM/STS) from the
botocore output shape, with lxml elements:

* ``<OpResponse xmlns=NS><OpResult>members</OpResult><ResponseMetadata><RequestId>`` (no
  ``OpResult`` when the operation has no output);
* elements named by ``locationName`` else the member name; lists wrap one ``<member>`` per
  entry (flattened lists repeat the element), maps ``<entry><key/><value/></entry>``;
* timestamps ISO 8601 UTC, whole seconds as ``2026-11-21T07:00:00Z`` (boto 2 parses exactly
  that), otherwise with milliseconds; booleans ``true``/``false``.

Errors are ``<ErrorResponse xmlns=NS><Error><Type>Sender|Receiver</Type><Code/><Message/>
</Error><RequestId/></ErrorResponse>``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel, Shape
from lxml import etree

from controller.protocol.document import non_finite_text

__all__ = ["serialize_query_error", "serialize_query_response", "timestamp_text"]

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def serialize_query_response(op: OperationModel, data: Mapping[str, Any], *, request_id: str,
                             namespace: str) -> bytes:
    root = etree.Element(f"{op.name}Response", nsmap=_default_namespace(namespace))
    shape: Shape | None = op.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{op.name}Result")
        _structure(etree.SubElement(root, wrapper), shape, data)
    elif data:
        raise ValueError(f"{op.name} has no output, yet got {sorted(data)}")
    meta = etree.SubElement(root, "ResponseMetadata")
    _text(etree.SubElement(meta, "RequestId"), request_id)
    return _DECLARATION + etree.tostring(root, encoding="UTF-8")


def serialize_query_error(code: str, message: str, sender_fault: bool, request_id: str,
                          namespace: str) -> bytes:
    root = etree.Element("ErrorResponse", nsmap=_default_namespace(namespace))
    error = etree.SubElement(root, "Error")
    _text(etree.SubElement(error, "Type"), "Sender" if sender_fault else "Receiver")
    _text(etree.SubElement(error, "Code"), code)
    _text(etree.SubElement(error, "Message"), message)
    _text(etree.SubElement(root, "RequestId"), request_id)
    return _DECLARATION + etree.tostring(root, encoding="UTF-8")


def _default_namespace(namespace: str) -> Any:
    """``{None: namespace}``: the element and its unprefixed children in ``namespace``
    (lxml-stubs types nsmap keys as ``str`` only)."""
    return {None: namespace}


def _text(element: etree._Element, text: str) -> None:
    element.text = _INVALID.sub("\ufffd", text)


def _structure(parent: etree._Element, shape: Shape, data: Mapping[str, Any]) -> None:
    unknown = set(data) - set(shape.members)
    if unknown:
        raise ValueError(f"{shape.name} has no members {sorted(unknown)}")
    for name, member in shape.members.items():
        value = data.get(name)
        if value is not None:
            _member(parent, member.serialization.get("name", name), member, value)


def _member(parent: etree._Element, tag: str, shape: Shape, value: Any) -> None:
    kind: str = shape.type_name
    if kind == "list":
        member: Shape = shape.member
        if shape.serialization.get("flattened"):
            for item in value:
                _member(parent, member.serialization.get("name", tag), member, item)
            return
        wrapper = etree.SubElement(parent, tag)
        for item in value:
            _member(wrapper, member.serialization.get("name", "member"), member, item)
    elif kind == "map":
        wrapper = etree.SubElement(parent, tag)
        for key, item in value.items():
            entry = etree.SubElement(wrapper, "entry")
            _member(entry, shape.key.serialization.get("name", "key"), shape.key, key)
            _member(entry, shape.value.serialization.get("name", "value"), shape.value, item)
    elif kind == "structure":
        _structure(etree.SubElement(parent, tag), shape, value)
    else:
        _text(etree.SubElement(parent, tag), _scalar(kind, value))


def timestamp_text(value: datetime) -> str:
    moment = value.astimezone(UTC) if value.tzinfo else value
    if moment.microsecond == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _scalar(kind: str, value: Any) -> str:
    if kind == "boolean":
        if not isinstance(value, bool):
            raise TypeError(f"expected a bool, got {type(value).__name__}")
        return "true" if value else "false"
    if kind == "timestamp":
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        return timestamp_text(value)
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an int, got {type(value).__name__}")
        return str(value)
    if kind in ("double", "float"):
        special = non_finite_text(value)
        if special is not None:
            return special
        number = float(value)
        return repr(number) if not number.is_integer() else str(number)
    if kind == "blob":
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return str(value)
