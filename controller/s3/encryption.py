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
nonce is empty for a multipart object or upload. SSE-KMS objects (``controller.s3.kms``) are
encrypted the same way; ``b1.<salt>.<nonce>`` marks one written with an S3 Bucket Key.

SSE-C (customer-provided keys, ``sse`` column ``SSE-C``): the object's key is derived the same
way from the customer's key instead of the master key, and is never stored. What is stored,
``c1.<salt>.<nonce>.<verifier>``, adds a verifier, an HMAC of the customer's key under the
master key, which tells whether a later request brings the same key without keeping anything
that decrypts the object. The ETag of an SSE-C object is not the MD5 of its plaintext (which
anyone allowed to list the bucket could read), as in S3: it is an HMAC of that MD5 under the
object's key.
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

from controller.s3 import customer_keys, errors, kms
from controller.s3.customer_keys import CustomerKey
from storage.objects.writer import Transform

AES256 = "AES256"
SSE_C = "SSE-C"
"""The ``sse`` column of an object encrypted with a customer-provided key."""
HEADER = "x-amz-server-side-encryption"
_KMS_HEADERS = (kms.KEY_ID, kms.CONTEXT)
_LABEL = b"ironbark/s3/sse-s3/v1\0"
_CUSTOMER_LABEL = b"ironbark/s3/sse-c/v1\0"
_VERIFIER_LABEL = b"ironbark/s3/sse-c/verifier/v1\0"
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
    verifier: str = ""
    """SSE-C only: what tells whether a customer's key is the object's (see the module)."""
    bucket_key: bool = False
    """SSE-KMS only: the write asked for an S3 Bucket Key (``controller.s3.kms``)."""

    def stored(self) -> str:
        if self.verifier:
            return f"c1.{self.salt}.{self.nonce}.{self.verifier}"
        return f"{'b1' if self.bucket_key else 'v1'}.{self.salt}.{self.nonce}"

    @classmethod
    def parse(cls, text: str) -> Sealed:
        version, *fields = text.split(".")
        if version in ("v1", "b1") and len(fields) == 2:
            return cls(fields[0], fields[1], bucket_key=version == "b1")
        if version == "c1" and len(fields) == 3:
            return cls(fields[0], fields[1], fields[2])
        raise ValueError(f"unknown SSE key format {version!r}")

    @classmethod
    def new(cls, multipart: bool = False, bucket_key: bool = False) -> Sealed:
        return cls(_b64(os.urandom(_BLOCK)), "" if multipart else new_nonce(),
                   bucket_key=bucket_key)


class Keys:
    """Derives object keys from the master key (the controller's key file)."""

    def __init__(self, master: bytes) -> None:
        self._master = master

    def key(self, sealed: Sealed) -> bytes:
        return hmac.digest(self._master, _LABEL + _unb64(sealed.salt), "sha256")

    def _verifier(self, salt: str, customer: bytes) -> str:
        return _b64(hmac.digest(self._master, _VERIFIER_LABEL + _unb64(salt) + customer,
                                "sha256"))

    def seal_customer(self, customer: bytes, multipart: bool = False) -> Sealed:
        """New key material for an object (or upload) encrypted with ``customer``'s key."""
        sealed = Sealed.new(multipart)
        return Sealed(sealed.salt, sealed.nonce, self._verifier(sealed.salt, customer))

    def customer_key(self, sealed: Sealed, customer: bytes) -> bytes | None:
        """The object key of an SSE-C object, None when ``customer`` is not its key."""
        if not hmac.compare_digest(self._verifier(sealed.salt, customer), sealed.verifier):
            return None
        return hmac.digest(customer, _CUSTOMER_LABEL + _unb64(sealed.salt), "sha256")


def customer_etag(object_key: bytes, md5_hex: str) -> str:
    """The ETag of an SSE-C object (or part) whose plaintext has MD5 ``md5_hex``: 32 hex
    digits that do not reveal it (see the module)."""
    return f'"{hmac.digest(object_key, bytes.fromhex(md5_hex), "md5").hex()}"'


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


def requested(headers: Mapping[str, str], bucket_default: str | None,
              customer: CustomerKey | None = None, sse_c_blocked: bool = False) -> str | None:
    """The SSE a write asks for, explicitly or through its bucket's default encryption: AES256,
    ``aws:kms`` or ``aws:kms:dsse`` (whose key the caller checks: ``controller.s3.kms``), SSE-C
    (``customer``: the request's key, see ``customer_keys``) or None. A method S3 does not
    know is InvalidArgument; SSE-C where the bucket blocks it is AccessDenied, as in S3."""
    if customer is not None:
        if HEADER in headers:
            raise errors.InvalidArgument(
                "Server Side Encryption with Customer provided key is incompatible with the "
                "encryption method specified", ArgumentName=HEADER,
                ArgumentValue=headers[HEADER][:64])
        if sse_c_blocked:
            raise errors.AccessDenied("Requests specifying Server Side Encryption with Customer "
                                      "provided keys are blocked for this bucket.")
        return SSE_C
    method = headers.get(HEADER)
    if method is not None and method != AES256 and method not in kms.ALGORITHMS:
        raise errors.InvalidArgument("The encryption method specified is not supported",
                                     ArgumentName=HEADER, ArgumentValue=method[:64])
    if method not in kms.ALGORITHMS and any(name in headers for name in _KMS_HEADERS):
        raise errors.InvalidArgument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms", ArgumentName=HEADER,
            ArgumentValue=(method or "null")[:64])
    if customer_keys.sent(headers):  # a caller that does not take keys: never unencrypted
        raise errors.NotImplementedError_("Server-side encryption with customer-provided keys "
                                          "is not supported by this operation.")
    return method if method is not None else bucket_default


def reply_headers(sse: str | None, customer: CustomerKey | None = None,
                  key: kms.KeyRef | None = None) -> list[tuple[str, str]]:
    """The encryption headers of a reply about an object encrypted with ``sse`` (``key``: its
    KMS key, for SSE-KMS)."""
    if sse == SSE_C:
        return (customer.reply_headers() if customer is not None
                else [(customer_keys.ALGORITHM, AES256)])
    return [(HEADER, sse), *(key.headers() if key is not None else [])] if sse else []


def reply_members(sse: str | None, customer: CustomerKey | None,
                  key: kms.KeyRef | None = None) -> dict[str, object]:
    """The encryption members of an output shape (``ServerSideEncryption`` and, for SSE-KMS,
    ``SSEKMSKeyId``; for SSE-C ``SSECustomerAlgorithm`` and ``SSECustomerKeyMD5``)."""
    if sse == SSE_C:
        return {"SSECustomerAlgorithm": AES256, **(
            {"SSECustomerKeyMD5": customer.md5} if customer is not None else {})}
    if not sse:
        return {}
    return {"ServerSideEncryption": sse, **(key.members() if key is not None else {})}


def _rules(stored: str | None) -> list[dict[str, Any]]:
    """The rules of a bucket's stored default-encryption configuration (``Bucket.encryption``)."""
    rules: list[dict[str, Any]] = json.loads(stored).get("Rules") or [] if stored else []
    return rules


def sse_c_blocked(stored: str | None, blocked_by_default: bool) -> bool:
    """Whether a bucket's stored default-encryption configuration blocks SSE-C writes
    (``BlockedEncryptionTypes``); without one, ``blocked_by_default``."""
    for rule in _rules(stored):
        types = (rule.get("BlockedEncryptionTypes") or {}).get("EncryptionType")
        if types:
            return SSE_C in types
    return blocked_by_default


def default_rule(stored: str | None) -> dict[str, Any]:
    """The rule of a bucket's stored default-encryption configuration that applies an
    algorithm (``{}``: none)."""
    for rule in _rules(stored):
        if (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm"):
            return rule
    return {}


def default_of(stored: str | None) -> str | None:
    """The algorithm a bucket's stored configuration applies by default (AES256, ``aws:kms``,
    ``aws:kms:dsse``), or None."""
    algorithm = (default_rule(stored).get("ApplyServerSideEncryptionByDefault") or {}).get(
        "SSEAlgorithm")
    return algorithm if algorithm == AES256 or algorithm in kms.ALGORITHMS else None
