"""The streaming multipart/form-data reader of POST uploads, and the form signatures."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator

import pytest

from controller.auth.errors import SignatureMismatch
from controller.auth.post_form import missing_field, parse_post_form
from controller.s3 import errors
from controller.s3.post_form import MAX_PRE_DATA, FormHead, FormReader, boundary_of

BOUNDARY = b"----xyz"


def _body(parts: list[tuple[str, bytes, str | None]]) -> bytes:
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += b"--" + BOUNDARY + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\n"
        out += value + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\n"


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def _read(data: bytes, size: int = 7) -> tuple[FormHead | None, bytes]:
    async def run() -> tuple[FormHead | None, bytes]:
        reader = FormReader(_chunks(data, size), BOUNDARY)
        head = await reader.head()
        if head is None:
            return None, b""
        return head, b"".join([chunk async for chunk in reader.file_chunks()])

    return asyncio.run(run())


def test_fields_then_file_in_small_chunks() -> None:
    content = bytes(range(256)) * 40 + b"\r\n--not-the-boundary"
    data = _body([("Key", b"a/${filename}", None), ("x-amz-meta-Who", b"Me", None),
                  ("file", content, "f.bin"), ("after", b"ignored", None)])
    head, body = _read(data)
    assert head is not None
    assert head.names == ["Key", "x-amz-meta-Who"]
    assert head.fields == {"key": "a/${filename}", "x-amz-meta-who": "Me"}
    assert head.filename == "f.bin"
    assert body == content


def test_no_file_part() -> None:
    assert _read(_body([("key", b"k", None)]))[0] is None


def test_pre_data_capped() -> None:
    with pytest.raises(errors.MaxPostPreDataLengthExceeded):
        _read(_body([("key", b"k" * (MAX_PRE_DATA + 1), None), ("file", b"x", "f")]), 4096)


def test_garbage_is_malformed() -> None:
    with pytest.raises(errors.MalformedPOSTRequest):
        _read(b"--" + BOUNDARY + b"\r\nno-colon-here\r\n\r\n" + b"x" * 100)


def test_boundary_required() -> None:
    assert boundary_of({"content-type": 'multipart/form-data; boundary="ab"'}) == b"ab"
    with pytest.raises(errors.PreconditionFailed):
        boundary_of({"content-type": "text/plain"})


def test_v2_and_v4_signatures() -> None:
    policy = base64.b64encode(b'{"expiration": "2099-01-01T00:00:00Z", "conditions": []}').decode()
    v2 = base64.b64encode(hmac.new(b"secret", policy.encode(), hashlib.sha1).digest()).decode()
    fields = {"policy": policy, "awsaccesskeyid": "AKIA1", "signature": v2}
    assert missing_field(fields) is None
    parse_post_form(fields).verify("secret")
    with pytest.raises(SignatureMismatch):
        parse_post_form(fields).verify("other")
    key = b"AWS4secret"
    for part in ("20990101", "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    v4 = {"policy": policy, "x-amz-algorithm": "AWS4-HMAC-SHA256",
          "x-amz-credential": "AKIA1/20990101/us-east-1/s3/aws4_request",
          "x-amz-date": "20990101T000000Z",
          "x-amz-signature": hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()}
    parsed = parse_post_form(v4)
    assert parsed.access_key_id == "AKIA1"
    parsed.verify("secret")
    with pytest.raises(SignatureMismatch):
        parsed.verify("other")
    assert missing_field({k: v for k, v in v4.items() if k != "x-amz-date"}) == "X-Amz-Date"
    assert missing_field({"policy": policy, "awsaccesskeyid": "A"}) == "Signature"
