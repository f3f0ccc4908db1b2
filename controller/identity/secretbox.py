"""Encryption at rest for secret access keys (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import base64
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

MEMO_SIZE = 4096


class SecretBoxError(Exception):
    """The key cannot decrypt a stored secret (wrong or rotated key file)."""


class SecretBox:
    """Seal and open secrets. Opened plaintexts are memoised by ciphertext (which never changes
    for a stored key), so authentication does not pay for AES and HMAC on every request."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._raw = base64.urlsafe_b64decode(key)
        self._opened: dict[bytes, str] = {}

    def derivation_key(self, label: bytes) -> bytes:
        """A key for another purpose (``label``), derived from this box's key: S3's
        server-side encryption derives its object keys from it."""
        return hmac.digest(self._raw, b"ironbark/derive\0" + label, "sha256")

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        """Load the key, creating it (mode 0600) on first start."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def seal(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def open(self, token: bytes) -> str:
        plain = self._opened.get(token)
        if plain is not None:
            return plain
        try:
            plain = self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise SecretBoxError("stored secret cannot be decrypted with this key") from exc
        if len(self._opened) >= MEMO_SIZE:
            self._opened.clear()
        self._opened[token] = plain
        return plain
