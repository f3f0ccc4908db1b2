"""Server-side encryption with customer-provided keys (SSE-C): the request's key headers.

A client sends its 256-bit key with every write and every read of an SSE-C object, in three
headers (``x-amz-copy-source-`` ones name a copy's source key): the algorithm (``AES256``), the
key in base64 and the base64 MD5 of the key. The key is never stored: the object keeps a salt
and a verifier (``controller.s3.encryption``), and its bytes can be read only with the key.

As S3 requires, SSE-C requests must come over HTTPS: a request over plain HTTP is refused
unless it comes from the loopback address (the controller's own host) or the operator allows
plain HTTP (``s3_sse_c_allow_http``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from controller.s3 import errors

ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"
KEY = "x-amz-server-side-encryption-customer-key"
KEY_MD5 = "x-amz-server-side-encryption-customer-key-md5"
NAMES = (ALGORITHM, KEY, KEY_MD5)
COPY_SOURCE_NAMES = tuple(f"x-amz-copy-source-{name[len('x-amz-'):]}" for name in NAMES)
AES256 = "AES256"


@dataclass(frozen=True)
class CustomerKey:
    """A request's SSE-C key (32 bytes) and the MD5 it came with (base64, as sent)."""

    key: bytes
    md5: str

    def reply_headers(self) -> list[tuple[str, str]]:
        """What S3 answers to a request with this key: the algorithm and the key's MD5."""
        return [(ALGORITHM, AES256), ("x-amz-server-side-encryption-customer-key-MD5", self.md5)]


def sent(headers: Mapping[str, str], *, copy_source: bool = False) -> bool:
    """Whether the request sends any SSE-C header (of the copy source with ``copy_source``)."""
    return any(name in headers for name in (COPY_SOURCE_NAMES if copy_source else NAMES))


def of_request(headers: Mapping[str, str], *, copy_source: bool = False, secure: bool = True
               ) -> CustomerKey | None:
    """The request's SSE-C key (its copy source's with ``copy_source``), None when it sends
    none; the errors S3 gives for an incomplete or inconsistent set. ``secure``: whether the
    request may carry a key (see the module)."""
    algorithm_name, key_name, md5_name = COPY_SOURCE_NAMES if copy_source else NAMES
    algorithm = headers.get(algorithm_name)
    key_text = headers.get(key_name)
    md5 = headers.get(md5_name)
    if algorithm is None and key_text is None and md5 is None:
        return None
    if not secure:
        raise errors.InvalidRequest("Requests specifying Server Side Encryption with Customer "
                                    "provided keys must be made over a secure connection.")
    if algorithm is None:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide a valid encryption algorithm.", ArgumentName=algorithm_name)
    if algorithm != AES256:
        raise errors.InvalidEncryptionAlgorithmError(ArgumentName=algorithm_name,
                                                     ArgumentValue=algorithm[:64])
    if key_text is None:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide an appropriate secret key.", ArgumentName=key_name)
    if md5 is None:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide the client calculated MD5 of the secret key.", ArgumentName=md5_name)
    try:
        key = base64.b64decode(key_text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise errors.InvalidArgument("The secret key was invalid for the specified algorithm.",
                                     ArgumentName=key_name)
    if base64.b64encode(hashlib.md5(key).digest()).decode() != md5:
        raise errors.InvalidArgument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            ArgumentName=md5_name)
    return CustomerKey(key, md5)


def may_carry_keys(scheme: str, client_host: str, allow_http: bool) -> bool:
    """Whether a request may send SSE-C keys: over HTTPS, from loopback, or when allowed."""
    if scheme == "https" or allow_http:
        return True
    try:
        return ipaddress.ip_address(client_host).is_loopback
    except ValueError:
        return False
