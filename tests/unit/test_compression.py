"""Request bodies with Content-Encoding: gzip."""

from __future__ import annotations

import gzip

import pytest

from controller.protocol.compression import BadEncoding, TooLarge, decoded_body, is_gzip


def test_gzip_round_trip_and_identity() -> None:
    body = b"Action=PutMetricData&" * 100
    assert decoded_body({"content-encoding": "gzip"}, gzip.compress(body), 10_000) == body
    assert decoded_body({}, body, 10_000) == body
    assert decoded_body({"content-encoding": "identity"}, body, 10_000) == body
    assert is_gzip({"content-encoding": "gzip"}) and not is_gzip({})


def test_bombs_and_garbage_are_refused() -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(TooLarge):
        decoded_body({"content-encoding": "gzip"}, bomb, 1_000_000)
    with pytest.raises(BadEncoding):
        decoded_body({"content-encoding": "gzip"}, b"not gzip", 1000)
    with pytest.raises(BadEncoding):
        decoded_body({"content-encoding": "gzip"}, gzip.compress(b"x" * 100)[:-6], 1000)
    with pytest.raises(BadEncoding):
        decoded_body({"content-encoding": "br"}, b"x", 1000)
