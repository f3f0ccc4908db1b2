from __future__ import annotations

import pytest

from controller.ec2.errors import InvalidPaginationToken, InvalidParameterValue
from controller.ec2.pagination import decode_token, encode_token, paginate

ITEMS = [f"item-{n:03d}" for n in range(23)]


def test_pages_cover_everything_once_in_order() -> None:
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page, token = paginate(list(reversed(ITEMS)), str, 5, token)
        seen.extend(page)
        pages += 1
        if token is None:
            break
    assert seen == ITEMS
    assert pages == 5


def test_no_max_results_returns_all_without_token() -> None:
    assert paginate(ITEMS, str, None, None) == (ITEMS, None)
    assert paginate(ITEMS, str, 23, None) == (ITEMS, None)


@pytest.mark.parametrize("bad", [0, 4, 1001, -1])
def test_bounds(bad: int) -> None:
    with pytest.raises(InvalidParameterValue):
        paginate(ITEMS, str, bad, None)


@pytest.mark.parametrize("token", ["%%%", "bm90LWpzb24", encode_token("x")[:-2] + "!!", "e30"])
def test_bad_tokens(token: str) -> None:
    with pytest.raises(InvalidPaginationToken):
        paginate(ITEMS, str, 5, token)


def test_token_round_trip() -> None:
    assert decode_token(encode_token("sg-123\x00k")) == "sg-123\x00k"
