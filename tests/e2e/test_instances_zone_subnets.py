"""Private addresses from a subnet per availability zone (``zone_subnets``, else
``private_subnet``): each zone's instances get its addresses, never one twice, a full subnet
refuses with InsufficientFreeAddressesInSubnet, and a terminated instance's address is given
again. boto3, the AWS CLI and boto 2 against a real server with fake node agents."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import AwsCli, Server, running_server
from tests.e2e import test_instances as base
from tests.e2e.fake_nodes import FakeCluster, NodeShape, fake_cluster
from tests.e2e.test_instances import code_of, wait_for

image = base.image  # the fixture: aki + ari + ami, on this module's fake nodes

ZONE_A, ZONE_B = "us-east-1a", "us-east-1b"
SUBNET_A, SUBNET_B = "127.77.0.0/24", "127.78.0.0/29"  # B: .2 to .6 (.1 is the gateway)


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"IRONBARK_NODE_HEARTBEAT_SECONDS": "0.3",
           "IRONBARK_INSTANCE_RECONCILE_SECONDS": "0.2",
           "IRONBARK_AVAILABILITY_ZONES": json.dumps([ZONE_A, ZONE_B]),
           "IRONBARK_NODE_ZONES": json.dumps({"node-b": ZONE_B}),
           "IRONBARK_PRIVATE_SUBNET": SUBNET_A,
           "IRONBARK_ZONE_SUBNETS": json.dumps({ZONE_B: SUBNET_B})}
    with running_server(db_backend, tmp_path_factory, env) as srv:
        yield srv


@pytest.fixture(scope="module")
def cluster(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCluster]:
    shapes = [NodeShape("node-a"), NodeShape("node-b")]
    with fake_cluster(server, tmp_path_factory.mktemp("fakes"), shapes) as fakes:
        yield fakes


def addresses(reply: dict[str, Any]) -> list[str]:
    return [i["PrivateIpAddress"] for i in reply["Instances"]]


def inside(subnet: str, address: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(subnet)


def test_each_zone_gets_its_subnets_addresses(ec2: Any, aws: AwsCli, boto2: Any,
                                              image: dict[str, str]) -> None:
    in_a = ec2.run_instances(ImageId=image["ami"], MinCount=3, MaxCount=3,
                             InstanceType="t1.micro", Placement={"AvailabilityZone": ZONE_A})
    in_b = aws("ec2", "run-instances", "--image-id", image["ami"], "--count", "4",
               "--instance-type", "t1.micro", "--placement", f"AvailabilityZone={ZONE_B}")
    last_b = boto2.run_instances(image["ami"], instance_type="t1.micro", placement=ZONE_B)
    assert all(inside(SUBNET_A, a) for a in addresses(in_a))
    b_addresses = addresses(in_b) + [last_b.instances[0].private_ip_address]
    assert sorted(b_addresses) == [f"127.78.0.{n}" for n in range(2, 7)]  # lowest free first
    assert [i["Placement"]["AvailabilityZone"] for i in in_b["Instances"]] == [ZONE_B] * 4
    # zone B's subnet is full; zone A's is not
    assert code_of(lambda: ec2.run_instances(
        ImageId=image["ami"], MinCount=1, MaxCount=1, InstanceType="t1.micro",
        Placement={"AvailabilityZone": ZONE_B})) == "InsufficientFreeAddressesInSubnet"
    more_a = ec2.run_instances(ImageId=image["ami"], MinCount=1, MaxCount=1,
                               InstanceType="t1.micro", Placement={"AvailabilityZone": ZONE_A})
    assert inside(SUBNET_A, addresses(more_a)[0])
    everything = addresses(in_a) + b_addresses + addresses(more_a)
    assert len(set(everything)) == len(everything)  # never one twice

    # a terminated instance's address is released and given again
    freed = in_b["Instances"][1]
    ec2.terminate_instances(InstanceIds=[freed["InstanceId"]])
    wait_for(ec2, [freed["InstanceId"]], "terminated")
    again = ec2.run_instances(ImageId=image["ami"], MinCount=1, MaxCount=1,
                              InstanceType="t1.micro", Placement={"AvailabilityZone": ZONE_B})
    assert addresses(again) == [freed["PrivateIpAddress"]]
    described = ec2.describe_instances(Filters=[
        {"Name": "private-ip-address", "Values": [freed["PrivateIpAddress"]]}])
    owners = [i["InstanceId"] for r in described["Reservations"] for i in r["Instances"]]
    assert owners == [again["Instances"][0]["InstanceId"]]  # the terminated one shows none
    ids = [i["InstanceId"] for r in (in_a, in_b, more_a, again) for i in r["Instances"]]
    ec2.terminate_instances(InstanceIds=[*ids, last_b.instances[0].id])
