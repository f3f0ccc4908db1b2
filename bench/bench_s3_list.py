"""ListObjectsV2: one 1,000-key page out of 10,000 keys, Ironbark next to moto server, one run.

Run by hand: ``.venv/bin/python bench/bench_s3_list.py [--moto PATH/moto_server]``. Each server
runs pinned to CPU 0; the client (on CPU 1) times each request from sending it to having the
whole XML body, over a kept-alive connection, with a presigned URL (so the time is the
server's and the transfer's, not a client library's XML parsing); the best and the median of 20
requests are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.servers import ironbark_server, moto_server

KEYS = 10_000


def client(endpoint: str, key: str, secret: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"},
                                      max_pool_connections=16))


def measure(endpoint: str, key: str, secret: str) -> tuple[float, float]:
    s3 = client(endpoint, key, secret)
    s3.create_bucket(Bucket="bench")
    names = [f"dir{n % 10}/obj-{n:06d}" for n in range(KEYS)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket="bench", Key=k, Body=b"x"), names))
    url = s3.generate_presigned_url("list_objects_v2", Params={
        "Bucket": "bench", "MaxKeys": 1000, "StartAfter": "dir5/"}, ExpiresIn=600)
    times = []
    with httpx.Client(trust_env=False, timeout=60) as http:
        for n in range(22):
            start = time.perf_counter()
            reply = http.get(url)
            times.append(time.perf_counter() - start)
            assert reply.status_code == 200 and reply.text.count("<Key>") == 1000, reply.text[:300]
    times = times[2:]
    return min(times) * 1000, statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moto", help="path to moto_server (a venv with moto[server])")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with ironbark_server(Path(tmp) / "data") as server:
            results["ironbark"] = measure(server.endpoint, server.access_key_id,
                                          server.secret_access_key)
        if args.moto:
            with moto_server(args.moto) as endpoint:
                results["moto"] = measure(endpoint, "AKIAIOSFODNN7EXAMPLE", "x" * 40)
    print(f"ListObjectsV2, one 1,000-key page of {KEYS:,} keys (ms per request)")
    for name, (best, median) in results.items():
        print(f"{name:10} best {best:7.1f}   median {median:7.1f}")


if __name__ == "__main__":
    main()
