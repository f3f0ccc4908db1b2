"""Signed DescribeKeyPairs requests/s and CPU per request on one worker, next to bare FastAPI.

Run by hand: ``.venv/bin/python bench/bench_query.py [--seconds 10] [--keys 10]``. Needs ``wrk``
(``apt-get install wrk``). The server runs pinned to CPU 0 and wrk to CPU 1, so each gets a core;
CPU per request is the server process's user+system time divided by the requests it answered.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.servers import free_port, ironbark_server, pinned, wait


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lua_script(headers: dict[str, str], body: str, path: Path) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(url: str, script: Path, seconds: int, pid: int) -> tuple[float, float, int]:
    subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c16", "-d2s", "-s", str(script), url],
                   check=True, capture_output=True)
    before = cpu_seconds(pid)
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(script), url],
        check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(pid) - before
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{non2xx.group(1)} failed responses:\n{out}")
    return rps, cpu / total * 1e6, total


def bench_ironbark(seconds: int, keys: int, workdir: Path) -> tuple[float, float, int]:
    with ironbark_server(workdir / "data") as server:
        endpoint = server.endpoint + "/"
        creds = {"access_key_id": server.access_key_id,
                 "secret_access_key": server.secret_access_key}
        ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id=creds["access_key_id"],
                           aws_secret_access_key=creds["secret_access_key"])
        for n in range(keys):
            ec2.create_key_pair(KeyName=f"bench-{n}")
        body = urlencode({"Action": "DescribeKeyPairs", "Version": "2016-11-15"})
        request = AWSRequest(method="POST", url=endpoint, data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials(creds["access_key_id"], creds["secret_access_key"]), "ec2",
                  "us-east-1").add_auth(request)
        check = httpx.post(endpoint, content=body, headers=dict(request.headers.items()))
        assert check.status_code == 200 and check.text.count("<keyName>") == keys, check.text
        script = lua_script(dict(request.headers.items()), body, workdir / "ironbark.lua")
        return run_wrk(endpoint, script, seconds, server.process.pid)


def bench_bare(seconds: int, workdir: Path) -> tuple[float, float, int]:
    port = free_port()
    with pinned([sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port),
                 "--log-level", "warning", "--no-access-log"]) as process:
        endpoint = f"http://127.0.0.1:{port}/"
        wait(endpoint)
        body = urlencode({"Action": "DescribeKeyPairs", "Version": "2016-11-15"})
        script = lua_script({"Content-Type": "application/x-www-form-urlencoded"}, body,
                            workdir / "bare.lua")
        return run_wrk(endpoint, script, seconds, process.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--keys", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bare = bench_bare(args.seconds, work)
        ours = bench_ironbark(args.seconds, args.keys, work)
    print(f"{'':34}{'req/s':>10}{'CPU µs/req':>12}{'requests':>10}")
    print(f"{'bare FastAPI endpoint':34}{bare[0]:>10.0f}{bare[1]:>12.0f}{bare[2]:>10}")
    print(f"{'ironbark DescribeKeyPairs (SigV4)':34}{ours[0]:>10.0f}{ours[1]:>12.0f}{ours[2]:>10}")
    print(f"CPU per request ratio: {ours[1] / bare[1]:.2f}x   throughput ratio: "
          f"{ours[0] / bare[0]:.2f}")


if __name__ == "__main__":
    main()
