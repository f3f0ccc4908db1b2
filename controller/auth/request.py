"""What a signature covers: a framework-free description of one HTTP request."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class HttpRequest:
    """One request as the signature verifiers see it.

    ``raw_path`` is the path exactly as on the wire (percent-encoded, no query).
    ``query`` holds the decoded pairs of the URL query string, in order. ``headers`` has
    lower-case names; repeated headers are joined with ``","``. ``form`` holds the decoded
    pairs of an ``application/x-www-form-urlencoded`` body (Query-protocol POSTs), else None.
    When the body is not buffered, pass ``body=b""`` and its hex SHA-256 in ``body_sha256``.
    ``virtual_host_bucket`` is set by S3 for virtual-hosted-style requests
    (``bucket.s3.example.com``): S3 Signature V2 puts the bucket in the signed resource.
    """

    method: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes = field(default=b"", repr=False)
    body_sha256: str | None = None
    form: list[tuple[str, str]] | None = None
    virtual_host_bucket: str | None = None

    def payload_sha256(self) -> str:
        """The hex SHA-256 of the body (precomputed if given)."""
        if self.body_sha256 is not None:
            return self.body_sha256
        return hashlib.sha256(self.body).hexdigest()

    @classmethod
    def from_asgi(
        cls, scope: Mapping[str, Any], body: bytes = b"", *, parse_form_body: bool = True,
        body_sha256: str | None = None, headers: dict[str, str] | None = None,
    ) -> HttpRequest:
        """Build from an ASGI HTTP scope and the (already read) body.

        Paths and query strings are decoded as UTF-8 with ``surrogateescape`` so that the
        signers can re-encode them byte for byte; header values are decoded as Latin-1,
        as HTTP and Python clients do. A POST form body is decoded into ``form`` unless
        ``parse_form_body`` is false (S3 must pass False: its bodies are never auth forms).
        ``headers``: the scope's headers already joined (:func:`join_headers`), if they were.
        """
        raw_path: bytes | None = scope.get("raw_path")
        if raw_path is not None:
            path = raw_path.decode("utf-8", "surrogateescape")
        else:
            path = quote(str(scope.get("path", "/")), safe="/~!$&'()*+,;=:@")
        query_string: bytes = scope.get("query_string", b"")
        if headers is None:
            headers = join_headers(scope.get("headers", ()))
        method = str(scope.get("method", "GET")).upper()
        form = parse_form(headers, body) if parse_form_body and method == "POST" else None
        return cls(
            method=method,
            raw_path=path,
            query=parse_pairs(query_string),
            headers=headers,
            body=body,
            body_sha256=body_sha256,
            form=form,
        )


def join_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case the names and join repeated headers with ``","``, in arrival order."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1").strip()
        previous = headers.get(name)
        headers[name] = value if previous is None else f"{previous},{value}"
    return headers


def parse_pairs(encoded: bytes) -> list[tuple[str, str]]:
    """Decode ``a=1&b=2`` into pairs, keeping blank values (``?acl`` → ``("acl", "")``)."""
    text = encoded.decode("utf-8", "surrogateescape")
    return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="surrogateescape")


def parse_form(headers: Mapping[str, str], body: bytes) -> list[tuple[str, str]] | None:
    """The decoded form pairs if the body is ``application/x-www-form-urlencoded``."""
    content_type = headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != FORM_CONTENT_TYPE:
        return None
    return parse_pairs(body)


def signed_text(header_value: str) -> str:
    """A header value as signers see it. Values are decoded as Latin-1 here, one character per
    byte; clients sign the text their bytes encode (botocore sends and signs UTF-8), so the
    canonical request gets the bytes as UTF-8 text, with bytes that are not UTF-8 kept by
    ``surrogateescape`` (encoding it back with that handler gives the bytes as sent)."""
    if header_value.isascii():
        return header_value
    return header_value.encode("latin-1").decode("utf-8", "surrogateescape")
