"""The cloud's instance-identity signing key: signs ``dynamic/instance-identity/document``.

One RSA-2048 key and a self-signed certificate per cloud, generated into the data directory on
first use (``DATA/metadata-identity.pem``, mode 0600, created atomically so two controllers
starting at once end up with the same key); every controller sharing the data directory signs
with it. Operators hand the certificate (``ironbark admin metadata-certificate``) to guests,
which verify the signatures with it as they verify EC2's with AWS's published certificate.
"""

from __future__ import annotations

import base64
import datetime
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

FILE_NAME = "metadata-identity.pem"
CERT_YEARS = 30


def _generate(common_name: str) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ironbark"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365 * CERT_YEARS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem_key + cert.public_bytes(serialization.Encoding.PEM)


def _load_or_create(path: Path, common_name: str) -> bytes:
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_generate(common_name))
    try:
        os.link(temp, path)  # fails if another process got there first: use its key
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return path.read_bytes()


def _base64_lines(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\n".join(text[i:i + 64] for i in range(0, len(text), 64))


class IdentitySigner:
    def __init__(self, pem: bytes) -> None:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("the metadata identity key is not an RSA key")
        self.key = key
        self.certificate = x509.load_pem_x509_certificate(pem)

    @classmethod
    def from_data_dir(cls, data_dir: Path, region: str) -> IdentitySigner:
        return cls(_load_or_create(data_dir / FILE_NAME, f"Ironbark {region} instance identity"))

    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def signature(self, document: str) -> str:
        """Base64 RSA (PKCS #1 v1.5) SHA-256 signature of the document's bytes."""
        raw = self.key.sign(document.encode(), padding.PKCS1v15(), hashes.SHA256())
        return _base64_lines(raw)

    def pkcs7(self, document: str) -> str:
        """A PKCS #7 signed-data (DER, base64 in 64-column lines, no PEM armour, as EC2 serves
        it) holding the document, signed with SHA-256; the certificate is left out: guests
        verify with the one the operator gave them (``openssl smime -verify -certfile``)."""
        der = (pkcs7.PKCS7SignatureBuilder().set_data(document.encode())
               .add_signer(self.certificate, self.key, hashes.SHA256())
               .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.NoCerts,
                                                  pkcs7.PKCS7Options.Binary]))
        return _base64_lines(der)
