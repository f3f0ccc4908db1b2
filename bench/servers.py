"""The servers benchmarks measure: ``ironbark up`` and moto's server, each pinned to CPU 0
(``taskset``) with logs silenced, started on a free port and stopped when the block ends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPUS = os.environ.get("BENCH_SERVER_CPUS", "0")
"""The CPUs servers run on (``taskset -c``): CPU 0 unless ``BENCH_SERVER_CPUS`` says
otherwise (``0,1`` lets a server use both cores, shared with the client)."""
SERVER_SETTINGS = dict(item.split("=", 1) for item in
                       os.environ.get("BENCH_IRONBARK_SETTINGS", "").split(",") if "=" in item)
"""Settings for ``ironbark up`` (``IRONBARK_*`` variables of the environment are not passed on):
``BENCH_IRONBARK_SETTINGS=IRONBARK_HTTP_BUSY_POLL_US=0,...`` for an A/B run."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(url: str) -> None:
    """Until ``url`` answers at all (any status), for at most 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1, trust_env=False)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


@dataclass(frozen=True)
class Ironbark:
    endpoint: str  # http://127.0.0.1:PORT, no trailing slash
    process: subprocess.Popen[bytes]
    data_dir: Path
    access_key_id: str
    secret_access_key: str


@contextmanager
def pinned(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["taskset", "-c", SERVER_CPUS, *args], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        process.wait()


@contextmanager
def ironbark_server(data_dir: Path, env_extra: dict[str, str] | None = None) -> Iterator[Ironbark]:
    """``ironbark up`` on a fresh data directory, with the admin credentials."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRONBARK_")}
    env |= {"IRONBARK_LOG_LEVEL": "WARNING", "IRONBARK_DEMO_IMAGE": "off", **SERVER_SETTINGS,
            **(env_extra or {})}
    with pinned([sys.executable, "-m", "controller.cli.main", "up", "--data-dir", str(data_dir),
                 "--port", str(port)], env) as process:
        endpoint = f"http://127.0.0.1:{port}"
        wait(f"{endpoint}/_ironbark/health")
        creds = json.loads((data_dir / "admin-credentials.json").read_text())
        yield Ironbark(endpoint, process, data_dir, creds["access_key_id"],
                       creds["secret_access_key"])


@contextmanager
def moto_server(moto: str) -> Iterator[str]:
    """moto's server (benchmarks only, never a dependency); its endpoint, no trailing slash."""
    port = free_port()
    with pinned([moto, "-p", str(port)]):
        endpoint = f"http://127.0.0.1:{port}"
        wait(f"{endpoint}/")
        yield endpoint
