"""Request bodies sent with ``Content-Encoding: gzip`` (botocore compresses CloudWatch
PutMetricData bodies over 10 KiB, after signing nothing else: the signature covers the
compressed bytes). Decompression is capped so a small bomb cannot become a huge body."""

from __future__ import annotations

import zlib
from collections.abc import Mapping

__all__ = ["BadEncoding", "TooLarge", "decoded_body", "is_gzip"]


class BadEncoding(ValueError):
    """The body is not valid gzip, or uses an encoding other than gzip."""


class TooLarge(ValueError):
    """The decompressed body exceeds the cap."""


def is_gzip(headers: Mapping[str, str]) -> bool:
    return bool(headers.get("content-encoding", "").strip())


def decoded_body(headers: Mapping[str, str], body: bytes, limit: int) -> bytes:
    """``body`` with its content encodings (only ``gzip``, possibly repeated) undone."""
    encodings = [e.strip().lower() for e in headers.get("content-encoding", "").split(",")
                 if e.strip()]
    for encoding in reversed(encodings):
        if encoding == "identity":
            continue
        if encoding != "gzip":
            raise BadEncoding(f"unsupported content encoding {encoding[:32]!r}")
        inflater = zlib.decompressobj(wbits=31)
        try:
            out = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise BadEncoding(f"not gzip: {exc}") from None
        if len(out) > limit or inflater.unconsumed_tail:
            raise TooLarge(f"decompressed body over {limit} bytes")
        if not inflater.eof:
            raise BadEncoding("truncated gzip body")
        body = out
    return body
