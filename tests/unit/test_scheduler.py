"""Placement over a capacity snapshot: policies, zones, MinCount/MaxCount."""

from __future__ import annotations

import pytest

from controller.ec2.scheduler import Demand, NodeRoom, fits, place

SMALL = Demand(vcpus=1, memory_mib=256, disk_gib=2)


def room(node: str, zone: str = "a", vcpus: int = 4, used: int = 0, instances: int = 10,
         memory: int = 4096) -> NodeRoom:
    return NodeRoom(node, zone, vcpus - used, memory, 100, instances, used / vcpus, vcpus)


def test_least_loaded_spreads() -> None:
    assert place([room("n1"), room("n2")], SMALL, None, 1, 4) == ["n1", "n2", "n1", "n2"]
    assert place([room("n1", used=3), room("n2")], SMALL, None, 1, 1) == ["n2"]


def test_packing_fills_the_fullest_node_first() -> None:
    rooms = [room("n1", used=2), room("n2")]
    assert place(rooms, SMALL, None, 1, 3, "packing") == ["n1", "n1", "n2"]


def test_as_many_as_fit_between_min_and_max() -> None:
    rooms = [room("n1", vcpus=2), room("n2", vcpus=1)]
    assert len(place(rooms, SMALL, None, 1, 10)) == 3
    assert place(rooms, SMALL, None, 4, 10) == []  # MinCount cannot be met: nothing


@pytest.mark.parametrize("limit", ["memory", "instances"])
def test_every_dimension_limits(limit: str) -> None:
    r = room("n1", memory=300) if limit == "memory" else room("n1", instances=1)
    assert place([r], SMALL, None, 1, 5) == ["n1"]


def test_zones() -> None:
    rooms = [room("a1", "a", vcpus=1), room("b1", "b", vcpus=3)]
    assert place(rooms, SMALL, "a", 1, 5) == ["a1"]
    assert place(rooms, SMALL, None, 1, 5) == ["b1"] * 3  # one zone, the roomiest
    assert place(rooms, SMALL, "c", 1, 1) == []


def test_fits_and_unknown_policy() -> None:
    assert not fits(room("n", instances=0), SMALL)
    with pytest.raises(ValueError):
        place([room("n")], SMALL, None, 1, 1, "random")
