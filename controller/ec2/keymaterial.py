"""Key pair cryptography: generation, OpenSSH public key parsing, and AWS's fingerprints.

AWS fingerprints: a created RSA key shows the SHA-1 of its private key (PKCS#8 DER); an imported
RSA key the MD5 of its public key (SubjectPublicKeyInfo DER); ED25519 keys the base64 SHA-256 of
the OpenSSH public key blob, as OpenSSH prints it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

RSA_BITS = 2048
RSA_IMPORT_BITS = (1024, 4096)


class KeyFormatError(ValueError):
    """Public key material that is not an RSA or ED25519 key in a format AWS accepts."""


@dataclass(frozen=True)
class GeneratedKey:
    private_pem: str
    public_openssh: str
    fingerprint: str


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def _sha256_b64(openssh_line: str) -> str:
    blob = base64.b64decode(openssh_line.split()[1])
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()


def generate(key_type: str) -> GeneratedKey:
    if key_type == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
        public = private.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()
        return GeneratedKey(pem, public, _sha256_b64(public))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    pkcs8 = rsa_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    return GeneratedKey(pem.rstrip("\n"), public, _colon_hex(hashlib.sha1(pkcs8).digest()))


@dataclass(frozen=True)
class ImportedKey:
    key_type: str
    public_openssh: str
    fingerprint: str


def _load_public(material: bytes) -> object:
    text = material.strip()
    try:
        if text.startswith((b"ssh-", b"ecdsa-")):
            return serialization.load_ssh_public_key(b" ".join(text.split()[:2]))
        if text.startswith(b"---- BEGIN SSH2 PUBLIC KEY"):
            return _load_rfc4716(text)
        if text.startswith(b"-----BEGIN"):
            return serialization.load_pem_public_key(text)
        # base64 tools wrap lines (``base64`` at 76 columns): whitespace is not part of the data
        return serialization.load_der_public_key(base64.b64decode(b"".join(text.split()),
                                                                  validate=True))
    except (ValueError, UnsupportedAlgorithm, binascii.Error, IndexError) as exc:
        raise KeyFormatError(str(exc)) from None


def _load_rfc4716(text: bytes) -> object:
    """Headers (``Tag: value``, continued onto the next line by a trailing ``\\``), then base64."""
    body: list[bytes] = []
    continued = False
    for line in (raw.strip() for raw in text.splitlines()[1:]):
        if line.startswith(b"----"):
            break
        if continued or (not body and b":" in line):
            continued = line.endswith(b"\\")
        elif line:
            body.append(line)
    blob = base64.b64decode(b"".join(body), validate=True)
    kind = blob[4 : 4 + int.from_bytes(blob[:4], "big")]
    return serialization.load_ssh_public_key(kind + b" " + base64.b64encode(blob))


def parse_public_key(material: bytes) -> ImportedKey:
    """Accept OpenSSH, RFC 4716 (SSH2), PEM or base64 DER public keys of RSA or ED25519 type."""
    key = _load_public(material)
    if isinstance(key, rsa.RSAPublicKey):
        if not RSA_IMPORT_BITS[0] <= key.key_size <= RSA_IMPORT_BITS[1]:
            raise KeyFormatError(f"RSA key length {key.key_size} is not supported")
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        openssh = key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()
        return ImportedKey("rsa", openssh, _colon_hex(hashlib.md5(der).digest()))
    if isinstance(key, ed25519.Ed25519PublicKey):
        openssh = key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()
        return ImportedKey("ed25519", openssh, _sha256_b64(openssh))
    raise KeyFormatError("only RSA and ED25519 keys are supported")
