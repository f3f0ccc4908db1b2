"""Fixtures shared by the end-to-end tests that run real guests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.hostcheck import require_real_host

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo image (deploy/images/build-demo.sh), built once per test session."""
    require_real_host("qemu-img", "dnsmasq", "nft", "ip", "mkfs.ext4", "fakeroot", "busybox")
    out = tmp_path_factory.mktemp("demo-image")
    subprocess.run([REPO / "deploy/images/build-demo.sh", out], check=True, timeout=180)
    return out
