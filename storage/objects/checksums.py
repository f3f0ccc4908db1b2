"""Incremental digests: MD5/SHA-256 from hashlib and the S3 additional checksums.

S3 checksums (``x-amz-checksum-*``) are the base64 of the big-endian digest bytes.
CRC32C uses the ``crc32c`` package (hardware CRC) when it is installed, else a table-driven
pure-Python fallback that is correct but slow (about 10 MB/s). CRC64NVME (CRC-64/NVME, the
newest S3 default) is table-driven pure Python, as slow.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import zlib
from collections.abc import Callable
from typing import Protocol, cast

CHECKSUM_ALGORITHMS = frozenset({"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"})

_Buffer = bytes | bytearray | memoryview
_CrcFunction = Callable[[_Buffer, int], int]


class Hasher(Protocol):
    def update(self, data: _Buffer, /) -> None: ...

    def digest(self) -> bytes: ...


def _reflected_table(polynomial: int) -> tuple[int, ...]:
    """The byte table of a reflected CRC with ``polynomial`` (in reflected form)."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ polynomial if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _reflected_table(0x82F63B78)  # CRC-32C
_TABLE64 = _reflected_table(0x9A6C9329AC4BC9B5)  # CRC-64/NVME
_MASK64 = 0xFFFFFFFFFFFFFFFF


def crc64nvme(data: _Buffer, value: int = 0) -> int:
    """CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5) continuing from ``value``."""
    table = _TABLE64
    crc = value ^ _MASK64
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _MASK64


def crc32c_pure(data: _Buffer, value: int = 0) -> int:
    """CRC32C (Castagnoli) continuing from ``value``, like ``zlib.crc32``; pure Python."""
    table = _TABLE
    crc = value ^ 0xFFFFFFFF
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


@functools.cache
def _crc32c_function() -> _CrcFunction:
    """google-crc32c (a dependency; hardware CRC, GB/s), else ``crc32c``, else pure Python."""
    try:
        google = importlib.import_module("google_crc32c")  # untyped here on purpose
    except ImportError:
        pass
    else:
        extend = google.extend

        def google_crc32c(data: _Buffer, value: int = 0) -> int:
            return cast(int, extend(value, bytes(data)))  # it refuses memoryviews

        return google_crc32c
    try:
        module = importlib.import_module("crc32c")
    except ImportError:
        return crc32c_pure
    return cast(_CrcFunction, module.crc32c)


def crc32c_is_native() -> bool:
    return _crc32c_function() is not crc32c_pure


def crc32c(data: _Buffer, value: int = 0) -> int:
    """CRC32C continuing from ``value``; the fastest implementation available."""
    return _crc32c_function()(data, value)


class _Crc:
    def __init__(self, function: _CrcFunction, width: int = 4) -> None:
        self._function = function
        self._width = width
        self._value = 0

    def update(self, data: _Buffer, /) -> None:
        self._value = self._function(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


_REFLECTED = {"CRC32": (0xEDB88320, 32), "CRC32C": (0x82F63B78, 32),
              "CRC64NVME": (0x9A6C9329AC4BC9B5, 64)}
"""The CRCs whose checksums combine: reflected polynomial and width (all with all-ones
initial value and final XOR)."""


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, column) for column in matrix]


def crc_combine(algorithm: str, first: int, second: int, second_length: int) -> int:
    """The CRC of ``A‖B`` from ``crc(A)``, ``crc(B)`` and ``len(B)`` (zlib's crc32_combine for
    any of :data:`_REFLECTED`): what S3's FULL_OBJECT multipart checksums are made of."""
    polynomial, width = _REFLECTED[algorithm]
    if second_length == 0:
        return first
    odd = [polynomial] + [1 << n for n in range(width - 1)]  # one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    length = second_length
    while True:
        even = _gf2_square(odd)  # a zero byte, then ever longer runs
        if length & 1:
            first = _gf2_times(even, first)
        length >>= 1
        if not length:
            break
        odd = _gf2_square(even)
        if length & 1:
            first = _gf2_times(odd, first)
        length >>= 1
        if not length:
            break
    return first ^ second


def combinable(algorithm: str) -> bool:
    """Whether ``algorithm`` allows S3's FULL_OBJECT checksum type (the CRCs)."""
    return algorithm in _REFLECTED


def new_hasher(algorithm: str) -> Hasher:
    """A fresh hasher for ``MD5`` or ``SHA256`` or one of :data:`CHECKSUM_ALGORITHMS`."""
    if algorithm == "CRC32":
        return _Crc(zlib.crc32)
    if algorithm == "CRC32C":
        return _Crc(crc32c)
    if algorithm == "CRC64NVME":
        return _Crc(crc64nvme, 8)
    if algorithm in ("MD5", "SHA1", "SHA256"):
        return hashlib.new(algorithm.lower())
    raise ValueError(f"unsupported checksum algorithm: {algorithm!r}")
