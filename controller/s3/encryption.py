"""Server-side encryption with S3-managed keys (SSE-S3, ``AES256``): keys, ciphers, headers.

Every encrypted object has a key of its own: 256 bits derived from the controller's master key
(the key file that also seals secret access keys) and a random 128-bit salt stored with the
object, with HMAC-SHA256 as the derivation function. Bytes are encrypted with AES-256 in CTR
mode, so ciphertext and plaintext have the same length and any range is read by starting the
counter at its block: Range GETs, ``partNumber`` and copies of ranges read only what they need.
A single-part object has one random counter block (``nonce``); a multipart object shares its
upload's key, and each part has a random counter block of its own, kept in the object's part
list. ETags and checksums are computed on the plaintext, as S3 computes them.

The stored form (``sse_key`` columns): ``v1.<salt>.<nonce>`` in unpadded URL-safe base64; the
nonce is empty for a multipart object or upload.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from controller.s3 import errors
from storage.objects.writer import Transform

AES256 = "AES256"
HEADER = "x-amz-server-side-encryption"
_KMS = ("aws:kms", "aws:kms:dsse")
_SSE_C: tuple[str, ...] = ("x-amz-server-side-encryption-customer-algorithm",
          "x-amz-server-side-encryption-customer-key",
          "x-amz-server-side-encryption-customer-key-md5")
_SSE_C += tuple(f"x-amz-copy-source-{name[len('x-amz-'):]}" for name in _SSE_C)
_KMS_HEADERS = ("x-amz-server-side-encryption-aws-kms-key-id",
                "x-amz-server-side-encryption-context")
_LABEL = b"ironbark/s3/sse-s3/v1\0"
_BLOCK = 16

def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_nonce() -> str:
    return _b64(os.urandom(_BLOCK))


@dataclass(frozen=True)
class Sealed:
    """An encrypted object's (or upload's) key material as stored: ``salt`` and, for a
    single-part object, its counter block."""

    salt: str
    nonce: str = ""

    def stored(self) -> str:
        return f"v1.{self.salt}.{self.nonce}"

    @classmethod
    def parse(cls, text: str) -> Sealed:
        version, salt, nonce = text.split(".")
        if version != "v1":
            raise ValueError(f"unknown SSE key format {version!r}")
        return cls(salt, nonce)

    @classmethod
    def new(cls, multipart: bool = False) -> Sealed:
        return cls(_b64(os.urandom(_BLOCK)), "" if multipart else new_nonce())


class Keys:
    """Derives object keys from the master key (the controller's key file)."""

    def __init__(self, master: bytes) -> None:
        self._master = master

    def key(self, sealed: Sealed) -> bytes:
        return hmac.digest(self._master, _LABEL + _unb64(sealed.salt), "sha256")


def _counter(key: bytes, nonce: str, offset: int) -> Any:
    """An AES-256-CTR context positioned at byte ``offset`` of a stream begun at ``nonce``."""
    block = (int.from_bytes(_unb64(nonce), "big") + offset // _BLOCK) % (1 << 128)
    context = Cipher(algorithms.AES(key), modes.CTR(block.to_bytes(_BLOCK, "big"))).encryptor()
    if offset % _BLOCK:
        context.update(bytes(offset % _BLOCK))
    return context


def encryptor(key: bytes, nonce: str) -> Transform:
    """Encrypts a stream from its first byte, chunk after chunk (in order)."""
    context = _counter(key, nonce, 0)
    return lambda data: context.update(data)


def decrypt_range(chunks: Iterable[bytes], key: bytes, segments: Sequence[tuple[int, str]],
                  start: int) -> Iterator[bytes]:
    """Plaintext of ``chunks``, the ciphertext from byte ``start`` on. ``segments``: where each
    separately encrypted stream begins and its counter block, in order (``[(0, nonce)]`` for a
    single-part object; one per part for a multipart one)."""
    index = max(i for i, (begin, _) in enumerate(segments) if begin <= start)
    position = start
    context = _counter(key, segments[index][1], position - segments[index][0])
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            end = segments[index + 1][0] if index + 1 < len(segments) else None
            take = len(view) if end is None else min(len(view), end - position)
            if take == 0:  # at the next part: its own stream
                index += 1
                context = _counter(key, segments[index][1], 0)
                continue
            yield context.update(view[:take])
            view, position = view[take:], position + take


def part_segments(parts_json: Sequence[Sequence[Any]]) -> list[tuple[int, str]]:
    """``[(start, nonce), ...]`` of a multipart object's parts (size, etag, checksum, nonce)."""
    segments, begin = [], 0
    for part in parts_json:
        segments.append((begin, str(part[3])))
        begin += int(part[0])
    return segments


def requested(headers: Mapping[str, str], bucket_default: str | None) -> str | None:
    """The SSE a write asks for, explicitly or through its bucket's default encryption: AES256
    or None. SSE-KMS and SSE-C are NotImplemented (never stored unencrypted); a method S3 does
    not know is InvalidArgument."""
    method = headers.get(HEADER)
    if method is not None and method != AES256 and method not in _KMS:
        raise errors.InvalidArgument("The encryption method specified is not supported",
                                     ArgumentName=HEADER, ArgumentValue=method[:64])
    if method in _KMS or any(name in headers for name in _KMS_HEADERS):
        raise errors.NotImplementedError_("Server-side encryption with AWS KMS keys is not "
                                          "supported; use AES256.")
    if any(name in headers for name in _SSE_C):
        raise errors.NotImplementedError_("Server-side encryption with customer-provided keys "
                                          "is not supported; use AES256.")
    return AES256 if method == AES256 else bucket_default


def reply_headers(sse: str | None) -> list[tuple[str, str]]:
    return [(HEADER, sse)] if sse else []


def default_of(stored: str | None) -> str | None:
    """The algorithm a bucket's stored configuration applies by default (AES256), or None."""
    if not stored:
        return None
    rules: list[dict[str, Any]] = json.loads(stored).get("Rules") or []
    for rule in rules:
        algorithm = (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
        if algorithm == AES256:
            return AES256
    return None
