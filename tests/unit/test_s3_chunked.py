"""aws-chunked bodies: AWS's documented chunk-signature example, re-splitting, tampering,
truncation, trailers and size limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import zlib
from collections.abc import AsyncIterator

import pytest

from controller.auth.sigv4 import signing_key
from controller.s3 import errors
from controller.s3.chunked import (
    ChunkSigning,
    announced_checksum,
    chunk_signature,
    decode_aws_chunked,
    is_aws_chunked,
    trailer_signature,
)

# "Signature Calculations for the Authorization Header: Transferring Payload in Multiple
# Chunks" (AWS S3 API reference): 66,560 bytes of 'a' in a 64 KiB and a 1 KiB chunk.
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20130524T000000Z"
SCOPE = "20130524/us-east-1/s3/aws4_request"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGS = ("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
              "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
              "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")
# The trailing-headers variant of the same example (x-amz-checksum-crc32c trailer).
TRAILER_SEED = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
TRAILER_CHUNK_SIGS = ("b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                      "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                      "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992")
TRAILER = ("x-amz-checksum-crc32c", "sOO8/Q==")
TRAILER_SIG = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
DATA = (b"a" * 65536, b"a" * 1024)


def _signing(seed: str = SEED) -> ChunkSigning:
    return ChunkSigning(seed, AMZ_DATE, SCOPE, signing_key(SECRET, "20130524", "us-east-1", "s3"))


def _body(sigs: tuple[str, ...] = CHUNK_SIGS, trailers: bytes = b"") -> bytes:
    parts = [b"%x;chunk-signature=%s\r\n%s\r\n" % (len(d), s.encode(), d)
             for d, s in zip(DATA, sigs, strict=False)]
    return b"".join(parts) + b"0;chunk-signature=%s\r\n" % sigs[2].encode() + trailers + b"\r\n"


def _trailer_body() -> bytes:
    lines = (f"{TRAILER[0]}:{TRAILER[1]}\r\nx-amz-trailer-signature:{TRAILER_SIG}\r\n").encode()
    return _body(TRAILER_CHUNK_SIGS, lines)


async def _pieces(body: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    at = 0
    for size in sizes:
        yield body[at:at + size]
        at += size
    if at < len(body):
        yield body[at:]


def _decode(body: bytes, signing: ChunkSigning | None, sizes: list[int] | None = None,
            expected: int | None = 66560) -> tuple[bytes, dict[str, str]]:
    async def run() -> tuple[bytes, dict[str, str]]:
        decoded = decode_aws_chunked(_pieces(body, sizes or [len(body)]), signing=signing,
                                     expected_length=expected)
        out = b"".join([piece async for piece in decoded])
        return out, decoded.trailers

    return asyncio.run(run())


def test_documented_chunk_signatures() -> None:
    signing = _signing()
    previous = SEED
    for data, expected in zip((*DATA, b""), CHUNK_SIGS, strict=True):
        previous = chunk_signature(signing, previous, hashlib.sha256(data).hexdigest())
        assert previous == expected


def test_documented_body_decodes() -> None:
    data, trailers = _decode(_body(), _signing())
    assert data == b"a" * 66560
    assert trailers == {}


def test_documented_trailer_signature_and_body() -> None:
    signing = _signing(TRAILER_SEED)
    assert trailer_signature(signing, TRAILER_CHUNK_SIGS[2], dict([TRAILER])) == TRAILER_SIG
    data, trailers = _decode(_trailer_body(), signing)
    assert data == b"a" * 66560
    assert trailers == dict([TRAILER])


@pytest.mark.parametrize("seed", range(12))
def test_any_split_of_the_input(seed: int) -> None:
    body = _trailer_body()
    rng = random.Random(seed)
    sizes = [rng.choice((1, 2, 3, 7, 64, 1000, 70000)) for _ in range(400)]
    data, trailers = _decode(body, _signing(TRAILER_SEED), sizes)
    assert data == b"a" * 66560 and trailers == dict([TRAILER])


def test_byte_by_byte() -> None:
    small = b"3\r\nabc\r\n2\r\nde\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n"
    data, trailers = _decode(small, None, [1] * len(small), expected=5)
    assert data == b"abcde" and trailers == {"x-amz-checksum-crc32": "AAAA"}


@pytest.mark.parametrize("body", [
    _body().replace(b"a\r\n400;", b"b\r\n400;", 1),
    _body().replace(CHUNK_SIGS[1].encode(), b"0" * 64),
    _body().replace(CHUNK_SIGS[2].encode(), CHUNK_SIGS[1].encode()),
    _body().replace(b"400;chunk-signature=" + CHUNK_SIGS[1].encode(), b"400"),
    _body()[:-2] + b"x-amz-checksum-crc32:AAAA\r\n\r\n",  # an unsigned trailer added
], ids=["data", "chunk-sig", "final-sig", "missing-sig", "added-trailer"])
def test_tampering_breaks_the_chain(body: bytes) -> None:
    with pytest.raises(errors.SignatureDoesNotMatch):
        _decode(body, _signing())


@pytest.mark.parametrize("body", [
    _trailer_body().replace(b"sOO8/Q==", b"AAAAAA=="),
    _trailer_body().replace(TRAILER_SIG.encode(), TRAILER_SEED.encode()),
    _trailer_body().replace(b"sOO8/Q==\r\n", b"sOO8/Q==\r\nx-amz-meta-x:1\r\n"),
    _trailer_body().replace(f"{TRAILER[0]}:{TRAILER[1]}\r\n".encode(), b""),
], ids=["value", "signature", "added", "dropped"])
def test_trailer_tampering(body: bytes) -> None:
    with pytest.raises(errors.SignatureDoesNotMatch):
        _decode(body, _signing(TRAILER_SEED))


@pytest.mark.parametrize("cut", [0, 10, 90, 5000, 65628, 65630, 66700, -3, -1])
def test_truncated_body(cut: int) -> None:
    with pytest.raises(errors.IncompleteBody):
        _decode(_body()[:cut], _signing())


def test_decoded_length_must_match() -> None:
    with pytest.raises(errors.IncompleteBody):
        _decode(_body(), _signing(), expected=66559)
    with pytest.raises(errors.IncompleteBody):
        _decode(_body(), _signing(), expected=66561)


@pytest.mark.parametrize("body", [
    b"zz\r\nab\r\n0\r\n\r\n",               # not hex
    b"2\r\nabc\r\n0\r\n\r\n",               # data longer than its size
    b"1000001\r\n",                         # over the 16 MiB cap
    b"2\r\nab\r\n0\r\nno-colon\r\n\r\n",     # malformed trailer
    b"2\r\nab\r\n0\r\n\r\nextra",           # data after the end
    b"2" * 5000 + b"\r\n",                  # an endless header line
])
def test_malformed_framing(body: bytes) -> None:
    with pytest.raises(errors.InvalidRequest):
        _decode(body, None, expected=None)


def test_unsigned_trailer_crc32() -> None:
    payload = b"hello world" * 1000
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    body = b"%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % (len(payload), payload,
                                                                  crc.encode())
    data, trailers = _decode(body, None, [333] * 100, expected=len(payload))
    assert data == payload and trailers == {"x-amz-checksum-crc32": crc}


def test_header_helpers() -> None:
    assert is_aws_chunked({"content-encoding": "gzip, aws-chunked",
                           "x-amz-decoded-content-length": "5"})
    assert not is_aws_chunked({"content-encoding": "aws-chunked"})  # a plain body, so labelled
    assert is_aws_chunked({"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})
    assert not is_aws_chunked({"content-encoding": "gzip", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert announced_checksum({"x-amz-trailer": "x-amz-checksum-crc32c"}) == "CRC32C"
    assert announced_checksum({}) is None
    with pytest.raises(errors.InvalidRequest):
        announced_checksum({"x-amz-trailer": "x-amz-meta-foo"})
