from __future__ import annotations

from typing import Any

import pytest

from controller.ec2.errors import InvalidParameterValue
from controller.ec2.filters import apply_filters, matches

ITEMS = [
    {"id": "a-1", "name": "web-1", "on": True, "ports": [22, 80], "tags": {"env": "prod", "x": ""}},
    {"id": "a-2", "name": "web-2", "on": False, "ports": [443], "tags": {"env": "dev"}},
    {"id": "a-3", "name": "db*1", "on": True, "ports": [], "tags": {}},
]
SPEC: dict[str, Any] = {
    "id": lambda i: i["id"], "name": lambda i: i["name"], "on": lambda i: i["on"],
    "port": lambda i: i["ports"],
}


def run(*filters: tuple[str, list[str]]) -> list[str]:
    result = apply_filters(ITEMS, [{"Name": n, "Values": v} for n, v in filters], SPEC,
                           lambda i: i["tags"])
    return [i["id"] for i in result]


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    ("web-*", "web-1", True), ("web-?", "web-12", False), ("*", "", True),
    ("db\\*1", "db*1", True), ("db\\*1", "dbx1", False), ("a.b", "axb", False),
    ("WEB-1", "web-1", False), ("x\\?", "x?", True),
])
def test_wildcards(pattern: str, text: str, expected: bool) -> None:
    assert matches([text], [pattern]) is expected


def test_values_are_ored_and_filters_anded() -> None:
    assert run(("name", ["web-1", "web-2"])) == ["a-1", "a-2"]
    assert run(("name", ["web-*"]), ("on", ["true"])) == ["a-1"]
    assert run() == ["a-1", "a-2", "a-3"]


def test_lists_and_numbers_and_booleans() -> None:
    assert run(("port", ["80"])) == ["a-1"]
    assert run(("on", ["false"])) == ["a-2"]


def test_tag_filters() -> None:
    assert run(("tag:env", ["prod"])) == ["a-1"]
    assert run(("tag:env", ["*"])) == ["a-1", "a-2"]
    assert run(("tag-key", ["x"])) == ["a-1"]
    assert run(("tag-value", ["dev", "prod"])) == ["a-1", "a-2"]
    assert run(("tag:x", [""])) == ["a-1"]


def test_unknown_filter_name_is_refused() -> None:
    with pytest.raises(InvalidParameterValue, match="The filter 'colour' is invalid"):
        run(("colour", ["red"]))
    with pytest.raises(InvalidParameterValue):
        apply_filters(ITEMS, [{"Values": ["x"]}], SPEC)


def test_tag_filters_need_taggable_items() -> None:
    with pytest.raises(InvalidParameterValue):
        apply_filters(ITEMS, [{"Name": "tag:env", "Values": ["prod"]}], SPEC)
