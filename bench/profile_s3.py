"""CPU per 4 KiB S3 request with no network: the ASGI application called in process.

Run by hand: ``.venv/bin/python bench/profile_s3.py [--profile put|get] [-n N]``. It builds the
controller's runtime on a fresh SQLite data directory, signs one PUT and one GET per key with
SigV4 (as ``bench_s3.py`` does), then drives ``Dispatch`` with ASGI scopes and prints the CPU
microseconds per request (``time.process_time``). ``--profile`` runs cProfile over that loop and
prints the 60 costliest functions (``--sort``: internal time by default). The numbers leave out uvicorn's HTTP parsing
and the socket system calls; they are what the server's own code costs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import hashlib
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from controller.app import Dispatch, Frontend, _warm_up_and_freeze
from controller.config import Settings
from controller.provisioning import ADMIN_CREDENTIALS_FILE
from controller.runtime import build_runtime

BODY = base64.b64encode(os.urandom(3072))
KEYS = 64
HOST = "127.0.0.1:8773"


def signed(method: str, path: str, creds: Credentials, body: bytes) -> list[tuple[bytes, bytes]]:
    request = AWSRequest(method=method, url=f"http://{HOST}{path}", data=body, headers={
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
    headers = [(k.lower().encode(), v.encode() if isinstance(v, str) else v)
               for k, v in request.headers.items()]
    headers.insert(0, (b"host", HOST.encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    return headers


def scope_of(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8773)}


async def call(app: Dispatch, scope: dict[str, Any], body: bytes) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def run(app: Dispatch, requests: list[tuple[dict[str, Any], bytes]], n: int) -> float:
    for scope, body in requests:  # warm-up, and every status checked once
        status = await call(app, scope, body)
        if status != 200:
            raise SystemExit(f"{scope['method']} {scope['path']}: HTTP {status}")
    if not n:
        return 0.0
    start, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        scope, body = requests[i % len(requests)]
        await call(app, scope, body)
    micros = (time.process_time() - start) / n * 1e6
    print(f"  ({(time.perf_counter() - wall) / n * 1e6:.0f} us wall per request)")
    return micros


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=("put", "get"))
    parser.add_argument("--sort", default="tottime", help="pstats order: tottime, cumtime, ...")
    parser.add_argument("--only", choices=("put", "get"), help="measure one kind only")
    parser.add_argument("--callees", help="with --profile: also print what functions matching this call")
    parser.add_argument("--callers", help="with --profile: also print what calls functions matching this")
    parser.add_argument("-n", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), log_level="WARNING", metadata_port=0)
        runtime = build_runtime(settings)
        creds_file = json.loads((Path(tmp) / ADMIN_CREDENTIALS_FILE).read_text())
        creds = Credentials(creds_file["access_key_id"], creds_file["secret_access_key"])
        app = Dispatch(None, Frontend(settings, {"runtime": runtime}))  # type: ignore[arg-type]
        _warm_up_and_freeze()
        create = scope_of("PUT", "/bench", signed("PUT", "/bench", creds, b""))
        loop = asyncio.new_event_loop()
        loop.run_until_complete(call(app, create, b""))
        keys = [f"/bench/obj-{n:03d}" for n in range(KEYS)]
        puts = [(scope_of("PUT", k, signed("PUT", k, creds, BODY)), BODY) for k in keys]
        gets = [(scope_of("GET", k, signed("GET", k, creds, b"")), b"") for k in keys]
        for name, reqs in (("put", puts), ("get", gets)):
            if args.only not in (None, name):
                loop.run_until_complete(run(app, reqs, 0))  # the objects a GET reads
                continue
            if args.profile == name:
                profiler = cProfile.Profile()
                profiler.enable()
            micros = loop.run_until_complete(run(app, reqs, args.n))
            if args.profile == name:
                profiler.disable()
                stats = pstats.Stats(profiler).sort_stats(args.sort)
                stats.print_stats(60)
                if args.callees:
                    stats.print_callees(args.callees)
                if args.callers:
                    stats.print_callers(args.callers)
            print(f"{name.upper()}: {micros:.0f} us CPU per request")
        runtime.close()


if __name__ == "__main__":
    main()
