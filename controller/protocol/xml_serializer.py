"""Render EC2 responses and error envelopes exactly as real EC2 sends them.

Handlers return plain data keyed by botocore member names, shaped like the operation's
output shape; this module walks that shape with a plan built once per shape and writes escaped text
(the error envelope is built with lxml):

* every element is named by the member's ``locationName`` (the member name if absent) and
  lives in the ``http://ec2.amazonaws.com/doc/{version}/`` namespace;
* lists are a wrapper element holding one ``<item>`` (the list member's ``locationName``)
  per entry, and an empty list is an empty wrapper (``<keySet/>``);
* booleans are ``true``/``false``, timestamps ISO 8601 UTC with milliseconds, blobs base64,
  numbers ``str``; ``None`` members are left out.

A key in the data that the shape does not know is a programming error and raises
``ValueError``, so a typo in a handler fails its tests instead of silently vanishing.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from botocore.model import OperationModel, Shape
from lxml import etree

__all__ = ["serialize_ec2_error", "serialize_ec2_response"]

# lxml writes its declaration with single quotes; EC2 (and this constant) use double quotes.
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def serialize_ec2_response(
    op: OperationModel, data: Mapping[str, Any], *, request_id: str, api_version: str
) -> bytes:
    """The XML body answering ``op`` with ``data`` (keyed by botocore member names).

    ``api_version`` (``YYYY-MM-DD``, normally the request's ``Version``) names the namespace.
    """
    if len(api_version) != 10 or not _is_date(api_version):
        raise ValueError(f"not an API version: {api_version!r}")
    root = f"{op.name}Response"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<', root,
        ' xmlns="http://ec2.amazonaws.com/doc/', api_version, '/"><requestId>',
        _escape(request_id), "</requestId>",
    ]
    shape: Shape | None = op.output_shape
    if shape is not None:
        _write_members(out, shape, data)
    elif data:
        raise ValueError(f"{op.name} has no output, yet got {sorted(data)}")
    out += ["</", root, ">"]
    return "".join(out).encode("utf-8")


def serialize_ec2_error(code: str, message: str, request_id: str) -> bytes:
    """The EC2 error envelope, as read by botocore's EC2 parser and by boto 2."""
    root = etree.Element("Response")
    error = etree.SubElement(etree.SubElement(root, "Errors"), "Error")
    _set_text(etree.SubElement(error, "Code"), code)
    _set_text(etree.SubElement(error, "Message"), message)
    _set_text(etree.SubElement(root, "RequestID"), request_id)
    return _DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


_ToText = Callable[[Any], str]

# Characters XML 1.0 cannot carry; they are replaced with U+FFFD (messages may echo user input).
_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


# One character class (not an alternation): the regex engine then scans in a tight loop.
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(text: str) -> str:
    if _SPECIAL.search(text) is None:  # the common case: one C-level scan, no copy
        return text
    return _INVALID.sub("\ufffd", text).translate(_ESCAPES)


_SCALAR, _STRUCTURE, _LIST = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    open: str
    close: str
    empty: str  # an empty list is an empty wrapper: <keySet/>
    shape: Shape
    kind: int  # _SCALAR, _STRUCTURE or _LIST
    to_text: _ToText | None
    escape: bool  # only strings can hold what XML must escape; numbers, dates and base64 cannot


@dataclass(frozen=True, slots=True)
class _Structure:
    shape: Shape
    rank: dict[str, int]  # member name -> place in the write order
    members: dict[str, _Member]
    plans: dict[tuple[str, ...], tuple[_Member, ...]]
    """The members to write, in order, for each set of keys the data came with (handlers build
    their dicts the same way every time, so a page of 1,000 instances uses a handful)."""


_MAX_PLANS = 256


def _member(name: str, xml_name: str, shape: Shape) -> _Member:
    to_text = _converter(shape)
    kind = _SCALAR if to_text is not None else (
        _STRUCTURE if shape.type_name == "structure" else _LIST)
    return _Member(name, f"<{xml_name}>", f"</{xml_name}>", f"<{xml_name}/>", shape, kind,
                   to_text, shape.type_name == "string")


@functools.lru_cache(maxsize=8192)
def _structure(shape: Shape) -> _Structure:
    """The write plan of a structure: scalar members first, then lists and structures.

    boto 2's SAX handlers end an object at the first nested ``</item>`` they do not know, so
    scalars written after a nested list (say a key pair's ``tagSet``) would be lost to it."""
    members = [
        _member(name, member.serialization.get("name", name), member)
        for name, member in shape.members.items()
    ]
    members.sort(key=lambda m: m.to_text is None)
    return _Structure(shape, {m.name: n for n, m in enumerate(members)},
                      {m.name: m for m in members}, {})


def _plan(table: _Structure, data: Mapping[str, Any]) -> tuple[_Member, ...]:
    keys = tuple(data)
    plan = table.plans.get(keys)
    if plan is None:
        unknown = sorted(str(key) for key in keys if key not in table.rank)
        if unknown:
            raise ValueError(f"{table.shape.name} has no members {unknown}")
        plan = tuple(sorted((table.members[key] for key in keys),
                            key=lambda m: table.rank[m.name]))
        if len(table.plans) < _MAX_PLANS:
            table.plans[keys] = plan
    return plan


@functools.lru_cache(maxsize=8192)
def _list_item(shape: Shape) -> _Member:
    member: Shape = shape.member
    return _member("", member.serialization.get("name", "item"), member)


def _converter(shape: Shape) -> _ToText | None:
    """How to render a scalar shape as text; ``None`` for structures and lists."""
    kind: str = shape.type_name
    if kind in ("structure", "list"):
        return None
    to_text = _TEXT.get(kind)
    if to_text is None:  # maps: the EC2 model has none; a test keeps it that way
        raise TypeError(f"unsupported output shape type {kind!r} ({shape.name})")
    return to_text


def _write_members(out: list[str], shape: Shape, data: Mapping[str, Any]) -> None:
    search = _SPECIAL.search
    for member in _plan(_structure(shape), data):
        value = data[member.name]
        if value is None:
            continue
        if member.kind == _SCALAR:  # inline: most of a response is scalars
            if member.escape:  # a string member
                text = value if type(value) is str else str(value)
                if search(text) is not None:
                    text = _INVALID.sub("\ufffd", text).translate(_ESCAPES)
            else:
                text = member.to_text(value)  # type: ignore[misc]
            out += (member.open, text, member.close)
        else:
            _write(out, member, value)


def _write(out: list[str], member: _Member, value: Any) -> None:
    if member.kind == _SCALAR:
        out += (member.open, _escape(member.to_text(value)), member.close)  # type: ignore[misc]
    elif member.kind == _STRUCTURE:
        out.append(member.open)
        _write_members(out, member.shape, value)
        out.append(member.close)
    elif not value:
        out.append(member.empty)
    else:
        item = _list_item(member.shape)
        out.append(member.open)
        if item.kind == _STRUCTURE:
            for entry in value:
                out.append(item.open)
                _write_members(out, item.shape, entry)
                out.append(item.close)
        else:
            for entry in value:
                _write(out, item, entry)
        out.append(member.close)


def _set_text(element: etree._Element, text: str) -> None:
    """Set ``text`` on an lxml element, replacing characters XML 1.0 cannot carry."""
    element.text = _INVALID.sub("\ufffd", text)


def _integer_text(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an int, got {type(value).__name__}")
    return str(value)


def _float_text(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return str(value)


def _boolean_text(value: Any) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool, got {type(value).__name__}")
    return "true" if value else "false"


def _timestamp_text(value: Any) -> str:
    """ISO 8601 in UTC with milliseconds; a naive datetime is taken to be UTC already."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    moment: datetime = value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def _blob_text(value: Any) -> str:
    if isinstance(value, str):
        return base64.b64encode(value.encode("utf-8")).decode("ascii")
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes, got {type(value).__name__}")
    encoded: bytes = base64.b64encode(value)
    return encoded.decode("ascii")


_TEXT: dict[str, Callable[[Any], str]] = {
    "string": str,
    "integer": _integer_text,
    "long": _integer_text,
    "float": _float_text,
    "double": _float_text,
    "boolean": _boolean_text,
    "timestamp": _timestamp_text,
    "blob": _blob_text,
}
