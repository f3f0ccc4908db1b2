"""1,000 instances on 50 fake node agents: a real controller, the fake agents over real HTTP,
boto3 and the AWS CLI. Every instance reaches ``running`` on the node the controller chose,
and DescribeInstances enumerates them exactly (pagination, filters by zone and state)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import AwsCli, Server, running_server
from tests.e2e.fake_nodes import FakeCluster, NodeShape, fake_cluster
from tests.e2e.test_images import upload_image

ZONE_A, ZONE_B = "us-east-1a", "us-east-1b"
NODES, PER_NODE = 50, 20  # room for exactly 1,000 t1.micro
NODES_B = {f"scale-{n:02d}" for n in range(NODES // 2, NODES)}


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "IRONBARK_NODE_HEARTBEAT_SECONDS": "1",
        "IRONBARK_INSTANCE_RECONCILE_SECONDS": "0.3",
        "IRONBARK_AVAILABILITY_ZONES": json.dumps([ZONE_A, ZONE_B]),
        "IRONBARK_NODE_ZONES": json.dumps({name: ZONE_B for name in sorted(NODES_B)}),
        "IRONBARK_PRIVATE_SUBNET": "10.64.0.0/20",
        "IRONBARK_METADATA_PORT": "0",
    }
    with running_server(db_backend, tmp_path_factory, env) as srv:
        yield srv


@pytest.fixture(scope="module")
def cluster(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCluster]:
    shapes = [NodeShape(f"scale-{n:02d}", vcpus=PER_NODE, memory_mib=PER_NODE * 128,
                        max_instances=PER_NODE) for n in range(NODES)]
    with fake_cluster(server, tmp_path_factory.mktemp("fakes"), shapes) as fakes:
        yield fakes


def all_pages(ec2: Any, page_size: int, **params: Any) -> list[dict[str, Any]]:
    pages = list(ec2.get_paginator("describe_instances").paginate(
        PaginationConfig={"PageSize": page_size}, **params))
    return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


def state_filter(state: str) -> list[dict[str, Any]]:
    return [{"Name": "instance-state-name", "Values": [state]}]


def wait_all(ec2: Any, state: str, count: int, timeout: float = 45) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = all_pages(ec2, 1000, Filters=state_filter(state))
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} of {count} {state}"
        time.sleep(0.5)


def test_a_thousand_instances_on_fifty_nodes(ec2: Any, s3: Any, aws: AwsCli,
                                             cluster: FakeCluster) -> None:
    bucket = f"img-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    aki = ec2.register_image(Name="scale-k", ImageLocation=upload_image(
        s3, bucket, "k", "kernel", b"K" * 64))["ImageId"]
    ami = ec2.register_image(Name="scale", KernelId=aki, ImageLocation=upload_image(
        s3, bucket, "m", "machine", b"M" * 512))["ImageId"]
    launched: dict[str, set[str]] = {}
    for zone in (ZONE_A, ZONE_B):
        reply = ec2.run_instances(ImageId=ami, InstanceType="t1.micro", MinCount=500,
                                  MaxCount=500, Placement={"AvailabilityZone": zone})
        assert len(reply["Instances"]) == 500
        assert {i["State"]["Name"] for i in reply["Instances"]} == {"pending"}
        launched[zone] = {i["InstanceId"] for i in reply["Instances"]}
    everyone = launched[ZONE_A] | launched[ZONE_B]
    assert len(everyone) == 1000
    # the cloud is full: one more finds no room and launches nothing
    with pytest.raises(ClientError) as info:
        ec2.run_instances(ImageId=ami, InstanceType="t1.micro", MinCount=1, MaxCount=1)
    assert info.value.response["Error"]["Code"] == "InsufficientInstanceCapacity"

    running = wait_all(ec2, "running", 1000)
    assert {i["InstanceId"] for i in running} == everyone
    # each node runs exactly its share, and only in its own zone
    on_node = {name: set(fake.instances.specs) for name, fake in cluster.nodes.items()}
    assert {name: len(ids) for name, ids in on_node.items()} == {n: PER_NODE for n in on_node}
    assert set().union(*(on_node[n] for n in NODES_B)) == launched[ZONE_B]
    assert set().union(*(ids for n, ids in on_node.items() if n not in NODES_B)) == launched[ZONE_A]
    assert {state for fake in cluster.nodes.values()
            for state in fake.instances.states.values()} == {"running"}
    assert len({i["PrivateIpAddress"] for i in running}) == 1000

    # pagination: every page at most the page size, the ids all there, none twice
    pages = list(ec2.get_paginator("describe_instances").paginate(
        PaginationConfig={"PageSize": 150}))
    sizes = [sum(len(r["Instances"]) for r in p["Reservations"]) for p in pages]
    assert len(pages) == 7 and max(sizes) == 150 and sum(sizes) == 1000
    listed = [i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"]]
    assert len(listed) == len(set(listed)) == 1000 and set(listed) == everyone
    assert "NextToken" not in pages[-1] and all("NextToken" in p for p in pages[:-1])
    # filters by the zone the scheduler placed in, by state, and both together
    for zone in (ZONE_A, ZONE_B):
        found = all_pages(ec2, 200, Filters=[{"Name": "availability-zone", "Values": [zone]}])
        assert {i["InstanceId"] for i in found} == launched[zone]
        assert {i["Placement"]["AvailabilityZone"] for i in found} == {zone}
    assert all_pages(ec2, 1000, Filters=state_filter("pending")) == []

    # terminate 100 in zone B: states and zones still enumerate exactly
    gone = sorted(launched[ZONE_B])[:100]
    ec2.terminate_instances(InstanceIds=gone)
    done = wait_all(ec2, "terminated", 100)
    assert {i["InstanceId"] for i in done} == set(gone)
    still = all_pages(ec2, 300, Filters=[*state_filter("running"),
                                         {"Name": "availability-zone", "Values": [ZONE_B]}])
    assert {i["InstanceId"] for i in still} == launched[ZONE_B] - set(gone)
    assert not set(gone) & {i for fake in cluster.nodes.values() for i in fake.instances.specs}

    # the AWS CLI pages through everything on its own (250 per request)
    reply = aws("ec2", "describe-instances", "--page-size", "250", "--filters",
                "Name=instance-state-name,Values=running,terminated", timeout=120)
    cli_ids = [i["InstanceId"] for r in reply["Reservations"] for i in r["Instances"]]
    assert len(cli_ids) == len(set(cli_ids)) == 1000 and set(cli_ids) == everyone
