"""RunInstances' BlockDeviceMappings end to end (fake node agents over real HTTP): ephemeral
disks in the node's spec and in the metadata service, ``NoDevice`` suppressing an image's
mapping, and EC2's errors, with boto3, the AWS CLI and boto 2."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from boto.ec2.blockdevicemapping import BlockDeviceMapping, BlockDeviceType
from boto.exception import EC2ResponseError

from tests.conftest import AwsCli
from tests.e2e import test_instances as base
from tests.e2e.fake_nodes import FakeCluster
from tests.e2e.test_images import upload_image
from tests.e2e.test_instances import code_of, wait_for

# the server, fake nodes and images of tests/e2e/test_instances.py
server, cluster, image, metadata_port = base.server, base.cluster, base.image, base.metadata_port

EPHEMERAL0 = {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}


def node_spec(cluster: FakeCluster, instance_id: str) -> Any:
    return next(fake.instances.specs[instance_id] for fake in cluster.nodes.values()
                if instance_id in fake.instances.specs)


@contextmanager
def guest(address: str, port: int) -> Iterator[httpx.Client]:
    """An HTTP client of the metadata service sending from the instance's own address."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, base_url=f"http://127.0.0.1:{port}",
                      trust_env=False) as client:
        yield client


def devices(address: str, port: int) -> dict[str, str]:
    with guest(address, port) as client:
        listing = client.get("/latest/meta-data/block-device-mapping/")
        assert listing.status_code == 200, listing.text
        return {name: client.get(f"/latest/meta-data/block-device-mapping/{name}").text
                for name in listing.text.splitlines()}


def _image_with_mappings(ec2: Any, s3: Any, image: dict[str, str],
                         mappings: list[dict[str, Any]]) -> str:
    location = upload_image(s3, image["bucket"], f"bdm-{uuid.uuid4().hex[:6]}", "machine",
                            b"B" * 512)
    return str(ec2.register_image(Name=f"bdm-{uuid.uuid4().hex[:8]}", ImageLocation=location,
                                  KernelId=image["aki"], RootDeviceName="/dev/sda1",
                                  BlockDeviceMappings=mappings)["ImageId"])


def test_an_ephemeral_disk_from_the_request(ec2: Any, image: dict[str, str],
                                            cluster: FakeCluster, metadata_port: int) -> None:
    """m1.small has one 2 GiB instance-store disk: ephemeral0 becomes the node's vdb,
    ephemeral1 is ignored as EC2 ignores mappings beyond the type's instance store."""
    reply = ec2.run_instances(ImageId=image["ami"], MinCount=1, MaxCount=1,
                              InstanceType="m1.small", BlockDeviceMappings=[
                                  EPHEMERAL0, {"DeviceName": "xvdc", "VirtualName": "ephemeral1"}])
    instance = reply["Instances"][0]
    iid, address = instance["InstanceId"], instance["PrivateIpAddress"]
    described = wait_for(ec2, [iid], "running")[0]
    spec = node_spec(cluster, iid)
    assert [(d.name, d.device, d.size_gib) for d in spec.ephemeral] == [("ephemeral0", "vdb", 2)]
    assert devices(address, metadata_port) == {"ami": "/dev/sda1", "ephemeral0": "sdb",
                                               "root": "/dev/sda1"}
    # DescribeInstances and the attribute list EBS volumes only, as on EC2
    assert described["BlockDeviceMappings"] == [] and instance["BlockDeviceMappings"] == []
    attribute = ec2.describe_instance_attribute(InstanceId=iid, Attribute="blockDeviceMapping")
    assert attribute["BlockDeviceMappings"] == []
    ec2.terminate_instances(InstanceIds=[iid])


def test_no_device_suppresses_the_images_mapping(aws: AwsCli, ec2: Any, s3: Any,
                                                 image: dict[str, str], cluster: FakeCluster,
                                                 metadata_port: int) -> None:
    ami = _image_with_mappings(ec2, s3, image, [EPHEMERAL0])
    plain = aws("ec2", "run-instances", "--image-id", ami, "--instance-type", "m1.small")
    suppressed = aws("ec2", "run-instances", "--image-id", ami, "--instance-type", "m1.small",
                     "--block-device-mappings", "DeviceName=/dev/sdb,NoDevice=")
    none_here = aws("ec2", "run-instances", "--image-id", ami, "--instance-type", "t1.micro")
    ids = [r["Instances"][0]["InstanceId"] for r in (plain, suppressed, none_here)]
    addresses = [r["Instances"][0]["PrivateIpAddress"] for r in (plain, suppressed, none_here)]
    wait_for(ec2, ids, "running")
    assert [len(node_spec(cluster, iid).ephemeral) for iid in ids] == [1, 0, 0]
    assert "ephemeral0" in devices(addresses[0], metadata_port)
    assert devices(addresses[1], metadata_port) == {"ami": "/dev/sda1", "root": "/dev/sda1"}
    assert devices(addresses[2], metadata_port) == {"ami": "/dev/sda1", "root": "/dev/sda1"}
    aws("ec2", "terminate-instances", "--instance-ids", *ids)


@pytest.mark.parametrize(("mappings", "code"), [
    ([{"DeviceName": "/dev/foo", "VirtualName": "ephemeral0"}], "InvalidBlockDeviceMapping"),
    ([{"DeviceName": "/dev/sdb1", "VirtualName": "ephemeral0"}], "InvalidBlockDeviceMapping"),
    ([{"VirtualName": "ephemeral0"}], "InvalidBlockDeviceMapping"),
    ([EPHEMERAL0, {"DeviceName": "xvdb", "VirtualName": "ephemeral1"}],
     "InvalidBlockDeviceMapping"),
    ([{"DeviceName": "/dev/sdb", "VirtualName": "swap"}], "InvalidBlockDeviceMapping"),
    ([{"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0", "NoDevice": ""}],
     "InvalidBlockDeviceMapping"),
    ([{"DeviceName": "/dev/sda1", "VirtualName": "ephemeral0"}], "InvalidBlockDeviceMapping"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {}}], "InvalidBlockDeviceMapping"),
])
def test_refused_mappings(ec2: Any, image: dict[str, str], mappings: list[dict[str, Any]],
                          code: str) -> None:
    before = len(ec2.describe_instances()["Reservations"])
    assert code_of(lambda: ec2.run_instances(ImageId=image["ami"], MinCount=1, MaxCount=1,
                                             InstanceType="m1.small",
                                             BlockDeviceMappings=mappings)) == code
    assert len(ec2.describe_instances()["Reservations"]) == before  # nothing launched


def test_an_image_with_an_ebs_mapping(aws: AwsCli, ec2: Any, s3: Any, image: dict[str, str],
                                      cluster: FakeCluster) -> None:
    """An image's Ebs mapping is a volume of each instance (docs/ebs.md), unless the request
    suppresses it."""
    ami = _image_with_mappings(ec2, s3, image, [
        {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}])
    with_volume = aws("ec2", "run-instances", "--image-id", ami, "--instance-type",
                      "m1.small")["Instances"][0]["InstanceId"]
    reply = aws("ec2", "run-instances", "--image-id", ami, "--instance-type", "m1.small",
                "--block-device-mappings", '[{"DeviceName": "/dev/sdf", "NoDevice": ""}]')
    iid = reply["Instances"][0]["InstanceId"]
    wait_for(ec2, [iid, with_volume], "running", timeout=60)
    shown = {i["InstanceId"]: i["BlockDeviceMappings"] for r in ec2.describe_instances(
        InstanceIds=[iid, with_volume])["Reservations"] for i in r["Instances"]}
    assert [m["DeviceName"] for m in shown[with_volume]] == ["/dev/sdf"]
    assert shown[with_volume][0]["Ebs"]["Status"] == "attached"
    assert shown[iid] == []
    aws("ec2", "terminate-instances", "--instance-ids", iid, with_volume)


def test_boto2_block_device_map(boto2: Any, ec2: Any, image: dict[str, str],
                                cluster: FakeCluster, metadata_port: int) -> None:
    mapping = BlockDeviceMapping()
    mapping["/dev/sdb"] = BlockDeviceType(ephemeral_name="ephemeral0")
    reservation = boto2.run_instances(image["ami"], instance_type="m1.small",
                                      block_device_map=mapping)
    instance = reservation.instances[0]
    wait_for(ec2, [instance.id], "running")
    assert [d.name for d in node_spec(cluster, instance.id).ephemeral] == ["ephemeral0"]
    assert devices(instance.private_ip_address, metadata_port)["ephemeral0"] == "sdb"
    ebs = BlockDeviceMapping()
    ebs["/dev/sdf"] = BlockDeviceType(size=0)
    with pytest.raises(EC2ResponseError) as refused:
        boto2.run_instances(image["ami"], instance_type="m1.small", block_device_map=ebs)
    assert refused.value.error_code == "InvalidBlockDeviceMapping"
    boto2.terminate_instances(instance_ids=[instance.id])
