"""Generation and validation of every AWS-shaped identifier, in one place."""

from __future__ import annotations

import os
import random
import re
import secrets
import string

_HEX17 = re.compile(r"[0-9a-f]{8}(?:[0-9a-f]{9})?")
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"

def new_resource_id(prefix: str) -> str:
    """``prefix-`` followed by 17 lower-case hex digits, like AWS's long ids."""
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def is_resource_id(value: str, prefix: str) -> bool:
    """True for ``prefix-`` + 8 or 17 hex digits (AWS still accepts the short form)."""
    head, sep, tail = value.partition("-")
    return sep == "-" and head == prefix and _HEX17.fullmatch(tail) is not None


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def is_account_id(value: str) -> bool:
    return len(value) == 12 and value.isdigit()


def _base32(n: int) -> str:
    return "".join(secrets.choice(_BASE32) for _ in range(n))


def new_access_key_id() -> str:
    """``AKIA`` + 16 base-32 characters: 20 characters, as AWS issues them."""
    return "AKIA" + _base32(16)


def is_access_key_id(value: str) -> bool:
    return len(value) == 20 and value.startswith("AKIA") and all(c in _BASE32 for c in value[4:])


def new_user_id() -> str:
    """``AIDA`` + 17 base-32 characters, the shape of IAM user ids."""
    return "AIDA" + _base32(17)


def new_secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def new_canonical_user_id() -> str:
    return secrets.token_hex(32)


_REQUEST_IDS = random.Random(secrets.randbits(256))
os.register_at_fork(after_in_child=lambda: _REQUEST_IDS.seed(secrets.randbits(256)))


def new_request_id() -> str:
    """A UUID-shaped request id, as EC2 returns. Request ids need to be unique, not secret:
    they come from a generator seeded once from the system's randomness, which costs no
    system call per request (every request has one)."""
    h = f"{_REQUEST_IDS.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_token(nbytes: int) -> str:
    """A URL-safe random token (S3 version and upload ids) that never starts with ``-``:
    command-line tools would take ``--version-id -x...`` for an option."""
    while True:
        candidate = secrets.token_urlsafe(nbytes)
        if candidate[0] != "-":
            return candidate
