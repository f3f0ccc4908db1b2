"""SSE-S3 ciphers: keys per object, counter-mode streams that any range can be read from,
multipart objects made of separately encrypted parts, and which requests ask for what."""

from __future__ import annotations

import os

import pytest

from controller.s3 import encryption as enc
from controller.s3 import errors

KEY = bytes(range(32))


def _chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_keys_differ_per_salt_and_master() -> None:
    one, two = enc.Sealed.new(), enc.Sealed.new()
    keys = enc.Keys(b"m" * 32)
    assert len(keys.key(one)) == 32
    assert keys.key(one) == keys.key(enc.Sealed.parse(one.stored()))
    assert keys.key(one) != keys.key(two)
    assert enc.Keys(b"n" * 32).key(one) != keys.key(one)
    assert enc.Sealed.new(multipart=True).nonce == ""
    with pytest.raises(ValueError):
        enc.Sealed.parse("v9.a.b")


def test_any_range_decrypts_from_its_own_offset() -> None:
    plain = os.urandom(1000)
    nonce = enc.new_nonce()
    write = enc.encryptor(KEY, nonce)
    cipher = b"".join(write(chunk) for chunk in _chunked(plain, 77))  # any chunking
    assert len(cipher) == len(plain) and cipher != plain
    for start, end in ((0, 999), (1, 1), (15, 16), (16, 31), (333, 777), (999, 999)):
        chunks = _chunked(cipher[start:end + 1], 10)
        assert b"".join(enc.decrypt_range(chunks, KEY, [(0, nonce)], start)) == (
            plain[start:end + 1])


def test_the_counter_carries_across_the_top_of_its_range() -> None:
    top = enc._b64((2**128 - 1).to_bytes(16, "big"))  # the next block wraps to zero
    plain = os.urandom(64)
    cipher = enc.encryptor(KEY, top)(plain)
    assert b"".join(enc.decrypt_range([cipher[20:]], KEY, [(0, top)], 20)) == plain[20:]


def test_multipart_objects_switch_streams_at_part_boundaries() -> None:
    sizes = [100, 37, 64]
    parts = [os.urandom(n) for n in sizes]
    nonces = [enc.new_nonce() for _ in parts]
    stored = b"".join(enc.encryptor(KEY, n)(p) for p, n in zip(parts, nonces, strict=True))
    segments = enc.part_segments([[size, "etag", None, nonce]
                                  for size, nonce in zip(sizes, nonces, strict=True)])
    assert segments == [(0, nonces[0]), (100, nonces[1]), (137, nonces[2])]
    whole = b"".join(parts)
    for start, end in ((0, 200), (99, 100), (100, 136), (120, 150), (137, 200), (200, 200)):
        for size in (1, 7, 1000):
            chunks = _chunked(stored[start:end + 1], size)
            got = b"".join(enc.decrypt_range(chunks, KEY, segments, start))
            assert got == whole[start:end + 1], (start, end, size)


def test_what_a_write_asks_for() -> None:
    assert enc.requested({}, None) is None
    assert enc.requested({}, "AES256") == "AES256"  # the bucket's default
    assert enc.requested({"x-amz-server-side-encryption": "AES256"}, None) == "AES256"
    assert enc.requested({"x-amz-server-side-encryption": "aws:kms"}, "AES256") == "aws:kms"
    assert enc.requested({}, "aws:kms:dsse") == "aws:kms:dsse"
    with pytest.raises(errors.NotImplementedError_):  # SSE-C where keys are not taken
        enc.requested({"x-amz-server-side-encryption-customer-algorithm": "AES256"}, "AES256")
    for headers in ({"x-amz-server-side-encryption": "aes256"},
                    {"x-amz-server-side-encryption-aws-kms-key-id": "k"},
                    {"x-amz-server-side-encryption": "AES256",
                     "x-amz-server-side-encryption-context": "e30="}):
        with pytest.raises(errors.InvalidArgument):
            enc.requested(headers, "aws:kms")


def test_a_buckets_default() -> None:
    assert enc.default_of(None) is None
    assert enc.default_of('{"Rules": [{"ApplyServerSideEncryptionByDefault": '
                          '{"SSEAlgorithm": "AES256"}}]}') == "AES256"
    assert enc.default_of('{"Rules": []}') is None
    assert enc.default_of('{"Rules": [{"ApplyServerSideEncryptionByDefault": '
                          '{"SSEAlgorithm": "aws:kms"}}]}') == "aws:kms"
