"""4 KiB PUT and GET operations/s against Ironbark and moto server, side by side in one run.

Run by hand: ``.venv/bin/python bench/bench_s3.py --moto /path/to/venv-with-moto/bin/moto_server``.
Needs ``wrk``. Each server is pinned to CPU 0 and wrk to CPU 1. Requests are signed once with
SigV4 (payload hash included) and replayed, so the client costs nothing per request.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.servers import ironbark_server, moto_server

BODY = base64.b64encode(os.urandom(3072))  # 4 KiB of ASCII: wrk's Lua strings take it as is
KEYS = 64


def signed(method: str, url: str, key: str, secret: str, body: bytes) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers={
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    S3SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def wrk(requests: list[tuple[str, str, dict[str, str], bytes]], url: str, conns: int,
        seconds: int, workdir: Path) -> float:
    """Replay ``requests`` (method, path, headers, body) round robin: distinct keys, so that
    concurrent connections never write one key at once."""
    method = requests[0][0]
    script = workdir / f"{method}-{conns}.lua"
    lines = ["local reqs = {}", "local i = 0", "init = function(args)"]
    for m, path, headers, body in requests:
        table = "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()
                                ) + "}"
        lua_body = json.dumps(body.decode("ascii")) if body else "nil"
        lines.append(f"  reqs[#reqs + 1] = wrk.format({json.dumps(m)}, {json.dumps(path)}, "
                     f"{table}, {lua_body})")
    lines += ["end", "request = function()", "  i = i % #reqs + 1", "  return reqs[i]", "end"]
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s",
                          "-s", str(script), url], check=True, capture_output=True,
                         text=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"failed responses from {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def measure(endpoint: str, key: str, secret: str, seconds: int, workdir: Path) -> dict[str, float]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=key, aws_secret_access_key=secret)
    s3.create_bucket(Bucket="bench")
    base = endpoint.rstrip("/")
    keys = [f"obj-{n:03d}" for n in range(KEYS)]
    for name in keys:
        s3.put_object(Bucket="bench", Key=name, Body=BODY)
    puts = [("PUT", f"/bench/{k}", signed("PUT", f"{base}/bench/{k}", key, secret, BODY), BODY)
            for k in keys]
    gets = [("GET", f"/bench/{k}", signed("GET", f"{base}/bench/{k}", key, secret, b""), b"")
            for k in keys]
    return {f"{reqs[0][0]} c={c}": wrk(reqs, base + "/", c, seconds, workdir)
            for reqs in (puts, gets) for c in (1, 8)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moto", help="path to moto_server (a venv with moto[server])")
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with ironbark_server(work / "data") as server:
            results["ironbark"] = measure(server.endpoint + "/", server.access_key_id,
                                          server.secret_access_key, args.seconds, work)
        if args.moto:
            with moto_server(args.moto) as endpoint:
                results["moto"] = measure(endpoint + "/", "AKIAIOSFODNN7EXAMPLE", "x" * 40,
                                          args.seconds, work)
    names = list(results["ironbark"])
    print(f"{'ops/s':12}" + "".join(f"{n:>12}" for n in names))
    for name, row in results.items():
        print(f"{name:12}" + "".join(f"{row[n]:>12.0f}" for n in names))
    if "moto" in results:
        print(f"{'ratio':12}" + "".join(
            f"{results['ironbark'][n] / results['moto'][n]:>11.1f}x" for n in names))


if __name__ == "__main__":
    main()
