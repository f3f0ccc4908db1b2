"""One large object through Ironbark's S3 API (PUT and GET MB/s, server memory), next to nginx
serving the same bytes from a file, in one run.

Run by hand: ``.venv/bin/python bench/bench_s3_large.py [--mib 1024] [--sse]``. Needs ``nginx``
(``apt-get install nginx-light``) for the comparison, otherwise only Ironbark is measured. The
server runs pinned to CPU 0 and the client to CPU 1. The client is curl (C, no Python in the data
path); the PUT is signed with ``UNSIGNED-PAYLOAD`` and ``Content-MD5`` is not sent, so the server
computes MD5 (the ETag) in its single pass, as for every PUT. Peak server RSS is sampled from
``/proc`` every 50 ms during each transfer.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from typing import Self

from bench.servers import ROOT, free_port, ironbark_server, wait


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def curl(args: list[str]) -> float:
    """Run curl pinned to CPU 1; return seconds taken."""
    start = time.perf_counter()
    subprocess.run(["taskset", "-c", "1", "curl", "-sS", "-f", "-o", "/dev/null", *args],
                   check=True)
    return time.perf_counter() - start


class _UnsignedPayload(S3SigV4Auth):
    def _should_sha256_sign_payload(self, request: AWSRequest) -> bool:
        return False


def signed_headers(method: str, url: str, key: str, secret: str, extra: dict[str, str]) -> list[str]:
    request = AWSRequest(method=method, url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                                                          **extra})
    _UnsignedPayload(Credentials(key, secret), "s3", "us-east-1").add_auth(request)
    flags: list[str] = []
    for name, value in request.headers.items():
        flags += ["-H", f"{name}: {value}"]
    return flags


def bench_ironbark(payload: Path, size: int, work: Path, sse: bool = False) -> dict[str, float]:
    with ironbark_server(work / "data") as server:
        base, key, secret = server.endpoint, server.access_key_id, server.secret_access_key
        boto3.client("s3", endpoint_url=base, region_name="us-east-1", aws_access_key_id=key,
                     aws_secret_access_key=secret).create_bucket(Bucket="bench")
        url = f"{base}/bench/large"
        pid = server.process.pid
        idle = rss_mib(pid)
        with PeakRss(pid) as put_rss:
            put = curl(["-X", "PUT", "-T", str(payload), *signed_headers(
                "PUT", url, key, secret, {"Content-Length": str(size), **(
                    {"x-amz-server-side-encryption": "AES256"} if sse else {})}), url])
        with PeakRss(pid) as get_rss:
            get = curl([*signed_headers("GET", url, key, secret, {}), url])
        return {"put_mbs": size / put / 1e6, "get_mbs": size / get / 1e6, "idle_rss": idle,
                "put_rss": put_rss.peak, "get_rss": get_rss.peak}


def bench_nginx(payload: Path, size: int, work: Path) -> dict[str, float] | None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        return None
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(f"""daemon off; user root; worker_processes 1; pid {work}/nginx.pid;
error_log {work}/nginx-error.log; events {{ worker_connections 64; }}
http {{ access_log off; sendfile on; server {{ listen 127.0.0.1:{port};
  root {payload.parent}; }} }}
""")
    proc = subprocess.Popen(["taskset", "-c", "0", nginx, "-c", str(conf), "-p", str(work)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(f"http://127.0.0.1:{port}/")
        get = curl([f"http://127.0.0.1:{port}/{payload.name}"])
        return {"get_mbs": size / get / 1e6}
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--sse", action="store_true",
                        help="also PUT and GET the object encrypted (SSE-S3, AES256)")
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        work = Path(tmp)
        payload = work / "payload.bin"
        with payload.open("wb") as out:
            block = os.urandom(1 << 20)
            for _ in range(args.mib):
                out.write(block)
        ours = bench_ironbark(payload, size, work)
        sealed = bench_ironbark(payload, size, work, sse=True) if args.sse else None
        peer = bench_nginx(payload, size, work)
    print(f"object: {args.mib} MiB")
    print(f"ironbark PUT {ours['put_mbs']:8.0f} MB/s   GET {ours['get_mbs']:8.0f} MB/s   "
          f"RSS idle {ours['idle_rss']:.0f} MiB, peak during PUT {ours['put_rss']:.0f} MiB, "
          f"during GET {ours['get_rss']:.0f} MiB")
    if sealed is not None:
        print(f"SSE-S3   PUT {sealed['put_mbs']:8.0f} MB/s   GET {sealed['get_mbs']:8.0f} MB/s   "
              f"RSS peak during PUT {sealed['put_rss']:.0f} MiB, during GET "
              f"{sealed['get_rss']:.0f} MiB")
    if peer is not None:
        print(f"nginx                        GET {peer['get_mbs']:8.0f} MB/s   "
              f"(ironbark/nginx GET {ours['get_mbs'] / peer['get_mbs']:.2f})")


if __name__ == "__main__":
    main()
