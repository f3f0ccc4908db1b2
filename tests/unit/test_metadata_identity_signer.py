"""The identity signer: one key per data directory, signatures that verify with its certificate."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from controller.metadata.identity_signer import FILE_NAME, IdentitySigner

DOCUMENT = '{\n  "instanceId" : "i-0123456789abcdef0"\n}'


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> IdentitySigner:
    return IdentitySigner.from_data_dir(tmp_path_factory.mktemp("data"), "us-east-1")


def _public_key(signer: IdentitySigner) -> rsa.RSAPublicKey:
    cert = x509.load_pem_x509_certificate(signer.certificate_pem().encode())
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def test_signature_verifies_with_the_certificate(signer: IdentitySigner) -> None:
    signature = base64.b64decode(signer.signature(DOCUMENT))
    _public_key(signer).verify(signature, DOCUMENT.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        _public_key(signer).verify(signature, DOCUMENT.replace("0", "1").encode(),
                                   padding.PKCS1v15(), hashes.SHA256())


def test_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = IdentitySigner.from_data_dir(tmp_path, "us-east-1")
    assert (tmp_path / FILE_NAME).stat().st_mode & 0o777 == 0o600
    again = IdentitySigner.from_data_dir(tmp_path, "us-east-1")
    assert again.certificate_pem() == first.certificate_pem()
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME]


def test_pkcs7_verifies_with_openssl(signer: IdentitySigner, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    pem = "-----BEGIN PKCS7-----\n" + signer.pkcs7(DOCUMENT) + "\n-----END PKCS7-----\n"
    (tmp_path / "doc.p7").write_text(pem)
    (tmp_path / "cert.pem").write_text(signer.certificate_pem())
    command = ["openssl", "smime", "-verify", "-in", str(tmp_path / "doc.p7"), "-inform", "PEM",
               "-certfile", str(tmp_path / "cert.pem"), "-noverify"]
    done = subprocess.run(command, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == DOCUMENT
    other = IdentitySigner.from_data_dir(tmp_path / "other", "us-east-1")
    (tmp_path / "cert.pem").write_text(other.certificate_pem())
    assert subprocess.run(command, capture_output=True, check=False).returncode != 0
