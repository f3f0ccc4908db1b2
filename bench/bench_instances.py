"""EC2 instances at scale: Ironbark with fake node agents next to moto server, one run.

Run by hand: ``.venv/bin/python bench/bench_instances.py [--moto PATH/moto_server]
[--moto-full] [--calls 200]``. Each server (``ironbark up`` with its default SQLite database,
or moto) runs pinned to CPU 0; the client, and for Ironbark the fake node agents
(``tests/e2e/fake_nodes.py``: ``nodeagent.fake`` command APIs under uvicorn on loopback ports,
registered and heart-beating through the real ``ControllerLink``), run on CPU 1. Ironbark keeps
its default reconcile (2 s) and heartbeat (10 s) intervals.

1. RunInstances calls/s: ``--calls`` sequential calls of one ``t1.micro`` each (the nodes have
   room for 10,000, so capacity never runs out).
2. DescribeInstances full enumeration (every page of boto3's paginator, 1,000 per page) with
   1,000 and then 10,000 instances, created with MaxCount=1,000 per call; on Ironbark the
   numbers are taken once every instance is ``running`` (the reconciler has launched them on the
   fake nodes). Best and median of 5 (3 at 10,000) enumerations, each checked to see every id.
3. DescribeInstances of one id at 10,000 instances: best and median of 50 calls.
4. A fresh Ironbark with 100 fake nodes: one RunInstances of 100, wall time until
   DescribeInstances shows all 100 ``running`` (polled every 50 ms), and how many nodes they
   landed on. moto has no launch to wait for: its instances are ``running`` at once.

Enumerations are timed twice: with boto3's paginator (its XML parsing is part of what a user
waits for, and costs the same for both servers), and as raw signed HTTP requests following
``nextToken`` without parsing (the server's time and the transfer). moto at 10,000 instances takes minutes, so it is measured at
10,000 only with ``--moto-full``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.servers import ironbark_server, moto_server
from tests.e2e.fake_nodes import FakeCluster, NodeShape
from tests.e2e.test_images import upload_image

ITYPE = "t1.micro"  # 1 vCPU, 128 MiB, no disk


def ec2_client(endpoint: str, key: str, secret: str) -> Any:
    return boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, read_timeout=600))


def s3_client(endpoint: str, key: str, secret: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}))


def timed(fn: Callable[[], Any], rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000, statistics.median(times) * 1000


def raw_enumerate(ec2: Any, http: httpx.Client, expect: int) -> None:
    """Every page over plain HTTP, SigV4-signed by botocore, no XML parsing: the server's time
    and the transfer."""
    endpoint = ec2.meta.endpoint_url
    credentials = ec2._request_signer._credentials
    seen = 0
    token = None
    while True:
        fields = {"Action": "DescribeInstances", "Version": "2016-11-15", "MaxResults": "1000"}
        if token:
            fields["NextToken"] = token
        body = urlencode(fields)
        request = AWSRequest(method="POST", url=endpoint, data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(credentials, "ec2", "us-east-1").add_auth(request)
        reply = http.post(endpoint, content=body, headers=dict(request.headers.items()))
        assert reply.status_code == 200, reply.text[:300]
        seen += reply.text.count("<instanceId>")
        found = re.search(r"<nextToken>([^<]+)</nextToken>", reply.text)
        if not found:
            break
        token = found.group(1)
    assert seen == expect, (seen, expect)


def enumerate_all(ec2: Any, expect: int) -> None:
    seen: set[str] = set()
    for page in ec2.get_paginator("describe_instances").paginate(
            PaginationConfig={"PageSize": 1000}):
        seen.update(i["InstanceId"] for r in page["Reservations"] for i in r["Instances"])
    assert len(seen) == expect, (len(seen), expect)


def count_state(ec2: Any, state: str) -> int:
    total = 0
    for page in ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": [state]}],
            PaginationConfig={"PageSize": 1000}):
        total += sum(len(r["Instances"]) for r in page["Reservations"])
    return total


def wait_running(ec2: Any, expect: int, timeout: float = 600) -> float:
    start = time.perf_counter()
    while count_state(ec2, "running") < expect:
        assert time.perf_counter() - start < timeout, "instances never all reached running"
        time.sleep(0.5)
    return time.perf_counter() - start


def fill(ec2: Any, image: str, have: int, want: int) -> int:
    while have < want:
        n = min(1000, want - have)
        ec2.run_instances(ImageId=image, InstanceType=ITYPE, MinCount=n, MaxCount=n)
        have += n
    return have


def measure(ec2: Any, image: str, calls: int, full: bool,
            running: Callable[[int], float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ec2.run_instances(ImageId=image, InstanceType=ITYPE, MinCount=1, MaxCount=1)  # warm
    start = time.perf_counter()
    for _ in range(calls):
        ec2.run_instances(ImageId=image, InstanceType=ITYPE, MinCount=1, MaxCount=1)
    out["run"] = calls / (time.perf_counter() - start)
    have = fill(ec2, image, calls + 1, 1000)
    out["settle1k"] = running(have)
    http = httpx.Client(trust_env=False, timeout=600)
    out["enum1k"] = timed(lambda: enumerate_all(ec2, 1000), 5)
    out["raw1k"] = timed(lambda: raw_enumerate(ec2, http, 1000), 5)
    if full:
        have = fill(ec2, image, have, 10_000)
        out["settle10k"] = running(have)
        out["enum10k"] = timed(lambda: enumerate_all(ec2, 10_000), 3)
        out["raw10k"] = timed(lambda: raw_enumerate(ec2, http, 10_000), 3)
        one = ec2.describe_instances(MaxResults=5)["Reservations"][0]["Instances"][0]["InstanceId"]
        out["one10k"] = timed(lambda: ec2.describe_instances(InstanceIds=[one]), 50)
    return out


def register_image(endpoint: str, creds: dict[str, str]) -> str:
    key, secret = creds["access_key_id"], creds["secret_access_key"]
    s3, ec2 = s3_client(endpoint, key, secret), ec2_client(endpoint, key, secret)
    s3.create_bucket(Bucket="bench-image")
    aki = ec2.register_image(Name="bench-k", ImageLocation=upload_image(
        s3, "bench-image", "k", "kernel", b"K" * 64))["ImageId"]
    location = upload_image(s3, "bench-image", "m", "machine", b"M" * 4096)
    return str(ec2.register_image(Name="bench", ImageLocation=location, KernelId=aki)["ImageId"])


def ironbark(work: Path, nodes: int, shape: Callable[[str], NodeShape],
             body: Callable[[Any, str, FakeCluster], dict[str, Any]]) -> dict[str, Any]:
    env = {"IRONBARK_PRIVATE_SUBNET": "10.64.0.0/16", "IRONBARK_METADATA_PORT": "0"}
    with ironbark_server(work, env) as server:
        creds = {"access_key_id": server.access_key_id,
                 "secret_access_key": server.secret_access_key}
        image = register_image(server.endpoint, creds)
        token = (work / "cluster-token").read_text().strip()
        cluster = FakeCluster(server.endpoint, token, work / "fakes")
        try:
            for n in range(nodes):
                cluster.add(shape(f"fake-{n:03d}"))
            ec2 = ec2_client(server.endpoint, server.access_key_id, server.secret_access_key)
            return body(ec2, image, cluster)
        finally:
            cluster.close()


def hundred_on_hundred(ec2: Any, image: str, cluster: FakeCluster) -> dict[str, Any]:
    start = time.perf_counter()
    reply = ec2.run_instances(ImageId=image, InstanceType=ITYPE, MinCount=100, MaxCount=100)
    ids = [i["InstanceId"] for i in reply["Instances"]]
    while True:
        states = [i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=ids)[
            "Reservations"] for i in r["Instances"]]
        if states.count("running") == 100:
            break
        assert time.perf_counter() - start < 120, states
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    used = sum(1 for fake in cluster.nodes.values() if set(ids) & set(fake.instances.specs))
    return {"hundred": elapsed, "nodes_used": used}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moto", help="path to moto_server (a venv with moto[server])")
    parser.add_argument("--moto-full", action="store_true", help="moto at 10,000 too")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)

        def big(name: str) -> NodeShape:
            return NodeShape(name, vcpus=1000, memory_mib=1000 * 128, disk_gib=1000,
                             max_instances=1000)

        def scale(ec2: Any, image: str, cluster: FakeCluster) -> dict[str, Any]:
            return measure(ec2, image, args.calls, True, lambda n: wait_running(ec2, n))

        results["ironbark"] = ironbark(work / "a", 11, big, scale)
        results["ironbark"].update(ironbark(work / "b", 100, NodeShape, hundred_on_hundred))
        if args.moto:
            with moto_server(args.moto) as endpoint:
                ec2 = ec2_client(endpoint, "AKIAIOSFODNN7EXAMPLE", "x" * 40)
                image = ec2.describe_images()["Images"][0]["ImageId"]
                results["moto"] = measure(ec2, image, args.calls, args.moto_full, lambda n: 0.0)
                start = time.perf_counter()
                ec2.run_instances(ImageId=image, InstanceType=ITYPE, MinCount=100, MaxCount=100)
                results["moto"]["hundred"] = time.perf_counter() - start
    print_table(results)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    def ms(pair: tuple[float, float] | None) -> str:
        return f"{pair[0]:8.1f} / {pair[1]:8.1f}" if pair else f"{'-':>19}"

    names = list(results)
    print(f"{'':44}" + "".join(f"{n:>22}" for n in names))
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("RunInstances, 1 per call (calls/s)", lambda r: f"{r['run']:19.1f}"),
        ("Describe all, 1,000 (ms best / median)", lambda r: ms(r.get("enum1k"))),
        ("  same, raw HTTP, no parsing (ms)", lambda r: ms(r.get("raw1k"))),
        ("Describe all, 10,000 (ms best / median)", lambda r: ms(r.get("enum10k"))),
        ("  same, raw HTTP, no parsing (ms)", lambda r: ms(r.get("raw10k"))),
        ("Describe 1 id at 10,000 (ms best / median)", lambda r: ms(r.get("one10k"))),
        ("100 on 100 nodes to running (s)", lambda r: f"{r['hundred']:19.2f}"),
    ]
    for label, cell in rows:
        print(f"{label:44}" + "".join(f"{cell(results[n]):>22}" for n in names))
    ib = results["ironbark"]
    print(f"ironbark: last of 1,000 running {ib['settle1k']:.1f} s after the fill, of 10,000 "
          f"{ib['settle10k']:.1f} s after; 100 instances landed on {ib['nodes_used']} nodes")


if __name__ == "__main__":
    main()
