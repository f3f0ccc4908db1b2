"""s3cmd (2.4, from PyPI) against the real server, with Signature V4 and with V2: buckets,
uploads (single and multipart), listing, download, sync, ACLs, deletes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from controller.identity.service import Credentials
from tests.conftest import Server

S3CMD = Path(sys.executable).with_name("s3cmd")


def run(config: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, str(S3CMD), "-c", str(config), *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={"PATH": os.environ.get("PATH", ""), "HOME": str(config.parent)})
    assert done.returncode == 0, f"s3cmd {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.mark.parametrize("signature_v2", [False, True], ids=["sigv4", "sigv2"])
def test_s3cmd_round_trip(server: Server, account: Credentials, tmp_path: Path,
                          signature_v2: bool) -> None:
    config = tmp_path / "s3cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {account.access_key_id}\nsecret_key = {account.secret_access_key}\n"
        f"host_base = 127.0.0.1:{server.port}\nhost_bucket = 127.0.0.1:{server.port}\n"
        f"use_https = False\nsignature_v2 = {signature_v2}\nmultipart_chunk_size_mb = 5\n")
    bucket = f"s3cmd-{uuid.uuid4().hex[:12]}"
    small, big = tmp_path / "small.txt", tmp_path / "big.bin"
    small.write_bytes(b"hello s3cmd\n")
    big.write_bytes(os.urandom(12 * 1024 * 1024))  # over the chunk size: multipart
    run(config, "mb", f"s3://{bucket}")
    run(config, "put", str(small), f"s3://{bucket}/dir/small.txt")
    run(config, "put", str(big), f"s3://{bucket}/big.bin")
    listing = run(config, "ls", "-r", f"s3://{bucket}")
    assert f"s3://{bucket}/dir/small.txt" in listing and f"s3://{bucket}/big.bin" in listing
    fetched = tmp_path / "fetched.bin"
    run(config, "get", "--force", f"s3://{bucket}/big.bin", str(fetched))
    assert fetched.read_bytes() == big.read_bytes()
    run(config, "sync", str(small), f"s3://{bucket}/sync/")
    run(config, "setacl", "--acl-public", f"s3://{bucket}/dir/small.txt")
    assert "12582936       3 objects" in run(config, "du", f"s3://{bucket}")  # 12 MiB + 2 x 12 B
    run(config, "del", "--recursive", "--force", f"s3://{bucket}")
    run(config, "rb", f"s3://{bucket}")
