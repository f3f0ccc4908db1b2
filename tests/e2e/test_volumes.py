"""EBS volumes end to end: a real controller (its volume reconciler making sparse files and
qemu-nbd exports), fake node agents over real HTTP, boto3, the AWS CLI and boto 2.

Zone A has the node ``store-1``, named like the storage host (``IRONBARK_VOLUME_HOST``): its
volumes attach by path. Zone B has ``far-1``, another host: its volumes attach over NBD.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server, running_server
from tests.e2e.fake_nodes import FakeCluster, NodeShape, fake_cluster
from tests.e2e.test_instances import code_of, image, run, wait_for

__all__ = ["image"]
ZONE_A, ZONE_B = "us-east-1a", "us-east-1b"
STORE, FAR = "store-1", "far-1"


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "IRONBARK_NODE_HEARTBEAT_SECONDS": "0.3",
        "IRONBARK_INSTANCE_RECONCILE_SECONDS": "0.2",
        "IRONBARK_VOLUME_RECONCILE_SECONDS": "0.2",
        "IRONBARK_AVAILABILITY_ZONES": json.dumps([ZONE_A, ZONE_B]),
        "IRONBARK_NODE_ZONES": json.dumps({FAR: ZONE_B}),
        "IRONBARK_PRIVATE_SUBNET": "127.78.0.0/24",
        "IRONBARK_METADATA_PORT": "0",
        "IRONBARK_VOLUME_HOST": STORE,
        "IRONBARK_VOLUME_NBD_PORTS": json.dumps([11700, 11799]),
    }
    with running_server(db_backend, tmp_path_factory, env) as srv:
        yield srv


@pytest.fixture(scope="module")
def cluster(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCluster]:
    shapes = [NodeShape(STORE), NodeShape(FAR)]
    with fake_cluster(server, tmp_path_factory.mktemp("fakes"), shapes) as fakes:
        yield fakes


def wait_volume(ec2: Any, volume_id: str, state: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        volume: dict[str, Any] = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
        attached = volume["Attachments"][0]["State"] if volume["Attachments"] else None
        if state in (volume["State"], attached):
            return volume
        assert time.monotonic() < deadline, volume
        time.sleep(0.1)



def _exists(ec2: Any, volume_id: str) -> bool:
    return any(v["VolumeId"] == volume_id for v in ec2.describe_volumes()["Volumes"])


def new_volume(ec2: Any, zone: str = ZONE_A, **extra: Any) -> str:
    volume_id = str(ec2.create_volume(AvailabilityZone=zone, Size=extra.pop("Size", 1),
                                      **extra)["VolumeId"])
    wait_volume(ec2, volume_id, "available")
    return volume_id


def running_instance(ec2: Any, image: dict[str, str], zone: str) -> str:
    iid = str(run(ec2, image, Placement={"AvailabilityZone": zone})["Instances"][0]["InstanceId"])
    wait_for(ec2, [iid], "running")
    return iid


def test_create_describe_filter_page_delete(ec2: Any, server: Server, cluster: FakeCluster) -> None:
    reply = ec2.create_volume(AvailabilityZone=ZONE_A, Size=8, VolumeType="gp3", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "data"}]}])
    volume_id = reply["VolumeId"]
    assert volume_id.startswith("vol-") and len(volume_id) == 21
    assert reply["State"] == "creating" and reply["Size"] == 8 and reply["Encrypted"] is False
    assert (reply["Iops"], reply["Throughput"], reply["VolumeType"]) == (3000, 125, "gp3")
    assert reply["Tags"] == [{"Key": "Name", "Value": "data"}] and reply["Attachments"] == []
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id],
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    path = server.data_dir / "volumes" / f"{volume_id}.raw"
    assert path.stat().st_size == 8 * 1024**3 and path.stat().st_blocks == 0  # sparse
    others = [ec2.create_volume(AvailabilityZone=ZONE_B, Size=n, VolumeType=t)["VolumeId"]
              for n, t in [(2, "gp2"), (130, "st1"), (5, "io1")] if t != "io1"]
    others.append(ec2.create_volume(AvailabilityZone=ZONE_B, Size=5, VolumeType="io1",
                                    Iops=200)["VolumeId"])

    def ids(*filters: tuple[str, list[str]]) -> set[str]:
        got = ec2.describe_volumes(Filters=[{"Name": n, "Values": v} for n, v in filters])
        return {v["VolumeId"] for v in got["Volumes"]}

    assert ids(("tag:Name", ["da*"])) == {volume_id}
    assert ids(("tag-key", ["Name"])) == {volume_id}
    assert ids(("volume-type", ["gp3", "st1"])) == {volume_id, others[1]}
    assert ids(("size", ["130"])) == {others[1]}
    assert ids(("availability-zone", [ZONE_B])) == set(others)
    assert ids(("volume-id", [volume_id])) == {volume_id}
    assert ids(("encrypted", ["false"])) >= {volume_id, *others}
    assert ids(("snapshot-id", [""])) >= {volume_id}
    assert ids(("create-time", [reply["CreateTime"].strftime("%Y-%m-%dT*")])) >= {volume_id}
    assert ids(("status", ["available", "creating"]), ("size", ["8"])) == {volume_id}
    assert ids(("attachment.instance-id", ["i-*"])) == set()
    io1 = ec2.describe_volumes(VolumeIds=[others[2]])["Volumes"][0]
    assert (io1["Iops"], io1["VolumeType"]) == (200, "io1")
    assert ec2.describe_volumes(VolumeIds=[others[0]])["Volumes"][0]["Iops"] == 100  # gp2 base
    pages = list(ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 5}))
    listed = [v["VolumeId"] for p in pages for v in p["Volumes"]]
    assert len(listed) == len(set(listed)) and {volume_id, *others} <= set(listed)
    assert code_of(lambda: ec2.describe_volumes(Filters=[{"Name": "bogus", "Values": ["x"]}])) \
        == "InvalidParameterValue"
    status = ec2.describe_volume_status(VolumeIds=[volume_id])["VolumeStatuses"][0]
    assert status["VolumeStatus"]["Status"] == "ok" and status["AvailabilityZone"] == ZONE_A
    attr = ec2.describe_volume_attribute(VolumeId=volume_id, Attribute="autoEnableIO")
    assert attr["AutoEnableIO"] == {"Value": False}
    ec2.modify_volume_attribute(VolumeId=volume_id, AutoEnableIO={"Value": True})
    attr = ec2.describe_volume_attribute(VolumeId=volume_id, Attribute="autoEnableIO")
    assert attr["AutoEnableIO"] == {"Value": True}
    assert ec2.describe_volume_attribute(VolumeId=volume_id,
                                         Attribute="productCodes")["ProductCodes"] == []
    for vid in [volume_id, *others]:
        wait_volume(ec2, vid, "available")
        ec2.delete_volume(VolumeId=vid)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[volume_id],
                                          WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    assert not path.exists()
    assert code_of(lambda: ec2.describe_volumes(VolumeIds=[volume_id])) == "InvalidVolume.NotFound"
    assert code_of(lambda: ec2.delete_volume(VolumeId=volume_id)) == "InvalidVolume.NotFound"


@pytest.mark.parametrize(("args", "code"), [
    ({"Size": 1}, "MissingParameter"),
    ({"AvailabilityZone": "us-east-1x", "Size": 1}, "InvalidZone.NotFound"),
    ({"AvailabilityZone": ZONE_A}, "MissingParameter"),
    ({"AvailabilityZone": ZONE_A, "Size": 16385}, "InvalidParameterValue"),
    ({"AvailabilityZone": ZONE_A, "Size": 0}, "InvalidParameterValue"),
    ({"AvailabilityZone": ZONE_A, "Size": 1, "VolumeType": "sc1"}, "InvalidParameterValue"),
    ({"AvailabilityZone": ZONE_A, "Size": 1, "VolumeType": "gp9"}, "InvalidParameterValue"),
    ({"AvailabilityZone": ZONE_A, "Size": 10, "Iops": 300}, "InvalidParameterCombination"),
    ({"AvailabilityZone": ZONE_A, "Size": 10, "VolumeType": "io1"}, "InvalidParameterCombination"),
    ({"AvailabilityZone": ZONE_A, "Size": 10, "VolumeType": "io2", "Iops": 9000},
     "InvalidParameterValue"),
    ({"AvailabilityZone": ZONE_A, "Size": 10, "VolumeType": "gp3", "Throughput": 2000},
     "InvalidParameterValue"),
    ({"AvailabilityZone": ZONE_A, "Size": 10, "Encrypted": True}, "UnsupportedOperation"),
    ({"AvailabilityZone": ZONE_A, "SnapshotId": "snap-0123456789abcdef0"},
     "InvalidSnapshot.NotFound"),
    ({"AvailabilityZone": ZONE_A, "SnapshotId": "snap-nothex"}, "InvalidSnapshotID.Malformed"),
])
def test_create_refusals(ec2: Any, args: dict[str, Any], code: str) -> None:
    before = len(ec2.describe_volumes()["Volumes"])
    assert code_of(lambda: ec2.create_volume(**args)) == code
    assert len(ec2.describe_volumes()["Volumes"]) == before


def test_client_token_makes_create_idempotent(ec2: Any) -> None:
    token = uuid.uuid4().hex
    first = ec2.create_volume(AvailabilityZone=ZONE_A, Size=3, ClientToken=token)
    again = ec2.create_volume(AvailabilityZone=ZONE_A, Size=3, ClientToken=token)
    assert again["VolumeId"] == first["VolumeId"]
    assert code_of(lambda: ec2.create_volume(AvailabilityZone=ZONE_A, Size=4,
                                             ClientToken=token)) == "IdempotentParameterMismatch"
    listed = ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [first["VolumeId"]]}])
    assert len(listed["Volumes"]) == 1
    wait_volume(ec2, first["VolumeId"], "available")
    ec2.delete_volume(VolumeId=first["VolumeId"])


def node_attachments(cluster: FakeCluster, name: str, instance_id: str) -> dict[str, Any]:
    return {a.volume_id: a for a in cluster.nodes[name].instances.attached.get(instance_id, [])}


def test_attach_by_path_detach_and_refusals(ec2: Any, image: dict[str, str], server: Server,
                                            cluster: FakeCluster) -> None:
    iid = running_instance(ec2, image, ZONE_A)
    volume_id, second = new_volume(ec2), new_volume(ec2)
    far_volume = new_volume(ec2, ZONE_B)
    reply = ec2.attach_volume(VolumeId=volume_id, InstanceId=iid, Device="/dev/sdf")
    assert (reply["State"], reply["Device"], reply["InstanceId"]) == ("attaching", "/dev/sdf", iid)
    shown = wait_volume(ec2, volume_id, "attached")
    assert shown["State"] == "in-use" and shown["Attachments"][0]["DeleteOnTermination"] is False
    record = node_attachments(cluster, STORE, iid)[volume_id]
    assert record.path == str(server.data_dir / "volumes" / f"{volume_id}.raw") and not record.nbd
    mappings = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
        "BlockDeviceMappings"]
    assert [(m["DeviceName"], m["Ebs"]["VolumeId"], m["Ebs"]["Status"]) for m in mappings] == [
        ("/dev/sdf", volume_id, "attached")]
    for name, value in [("attachment.instance-id", iid), ("attachment.device", "/dev/sdf"),
                        ("attachment.status", "attached"), ("status", "in-use"),
                        ("attachment.delete-on-termination", "false")]:
        got = ec2.describe_volumes(Filters=[{"Name": name, "Values": [value]}])["Volumes"]
        assert [v["VolumeId"] for v in got] == [volume_id], name
    # refusals
    assert code_of(lambda: ec2.delete_volume(VolumeId=volume_id)) == "VolumeInUse"
    assert code_of(lambda: ec2.attach_volume(VolumeId=volume_id, InstanceId=iid,
                                             Device="/dev/sdg")) == "VolumeInUse"
    assert code_of(lambda: ec2.attach_volume(VolumeId=second, InstanceId=iid,
                                             Device="/dev/xvdf")) == "InvalidParameterValue"
    assert code_of(lambda: ec2.attach_volume(VolumeId=second, InstanceId=iid,
                                             Device="/dev/sda1")) == "InvalidParameterValue"
    assert code_of(lambda: ec2.attach_volume(VolumeId=second, InstanceId=iid,
                                             Device="/dev/foo")) == "InvalidParameterValue"
    assert code_of(lambda: ec2.attach_volume(VolumeId=far_volume, InstanceId=iid,
                                             Device="/dev/sdh")) == "InvalidVolume.ZoneMismatch"
    assert code_of(lambda: ec2.attach_volume(VolumeId="vol-0123456789abcdef0", InstanceId=iid,
                                             Device="/dev/sdh")) == "InvalidVolume.NotFound"
    assert code_of(lambda: ec2.attach_volume(VolumeId="vol-x", InstanceId=iid,
                                             Device="/dev/sdh")) == "InvalidVolumeID.Malformed"
    assert code_of(lambda: ec2.attach_volume(VolumeId=second, InstanceId="i-0123456789abcdef0",
                                             Device="/dev/sdh")) == "InvalidInstanceID.NotFound"
    assert code_of(lambda: ec2.detach_volume(VolumeId=second)) == "IncorrectState"
    assert code_of(lambda: ec2.detach_volume(VolumeId=volume_id, InstanceId="i-0123456789abcdef0")
                   ) == "InvalidAttachment.NotFound"
    assert code_of(lambda: ec2.detach_volume(VolumeId=volume_id, Device="/dev/sdz")
                   ) == "InvalidAttachment.NotFound"
    # a second volume on another device, then detach the first
    ec2.attach_volume(VolumeId=second, InstanceId=iid, Device="xvdg")
    wait_volume(ec2, second, "attached")
    detached = ec2.detach_volume(VolumeId=volume_id, InstanceId=iid, Device="/dev/sdf")
    assert detached["State"] == "detaching"
    shown = wait_volume(ec2, volume_id, "available")
    assert shown["Attachments"] == [] and volume_id not in node_attachments(cluster, STORE, iid)
    assert second in node_attachments(cluster, STORE, iid)
    ec2.delete_volume(VolumeId=volume_id)
    ec2.terminate_instances(InstanceIds=[iid])
    wait_volume(ec2, second, "available")  # released when the instance is gone
    for vid in (second, far_volume):
        ec2.delete_volume(VolumeId=vid)


def test_attach_over_nbd_to_another_host(ec2: Any, image: dict[str, str],
                                         cluster: FakeCluster) -> None:
    iid = running_instance(ec2, image, ZONE_B)
    volume_id = new_volume(ec2, ZONE_B, Size=2)
    ec2.attach_volume(VolumeId=volume_id, InstanceId=iid, Device="/dev/sdh")
    wait_volume(ec2, volume_id, "attached")
    record = node_attachments(cluster, FAR, iid)[volume_id]
    assert not record.path and record.nbd.startswith("nbd://127.0.0.1:117")
    assert record.nbd.endswith(f"/{volume_id}") and record.format == "raw"
    info = subprocess.run(["qemu-img", "info", "--output=json", record.nbd], capture_output=True,
                          text=True, timeout=30, check=True).stdout
    assert json.loads(info)["virtual-size"] == 2 * 1024**3  # the export really serves it
    ec2.detach_volume(VolumeId=volume_id)
    wait_volume(ec2, volume_id, "available")
    gone = subprocess.run(["qemu-img", "info", record.nbd], capture_output=True, timeout=30,
                          check=False)
    assert gone.returncode != 0  # the export stopped with the detach
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.delete_volume(VolumeId=volume_id)


def test_terminate_deletes_volumes_marked_delete_on_termination(
        ec2: Any, image: dict[str, str], server: Server) -> None:
    iid = running_instance(ec2, image, ZONE_A)
    keep, drop = new_volume(ec2), new_volume(ec2)
    ec2.attach_volume(VolumeId=keep, InstanceId=iid, Device="/dev/sdf")
    ec2.attach_volume(VolumeId=drop, InstanceId=iid, Device="/dev/sdg")
    wait_volume(ec2, keep, "attached")
    wait_volume(ec2, drop, "attached")
    ec2.modify_instance_attribute(InstanceId=iid, BlockDeviceMappings=[
        {"DeviceName": "/dev/sdg", "Ebs": {"DeleteOnTermination": True}}])
    attr = ec2.describe_instance_attribute(InstanceId=iid, Attribute="blockDeviceMapping")
    assert {m["DeviceName"]: m["Ebs"]["DeleteOnTermination"]
            for m in attr["BlockDeviceMappings"]} == {"/dev/sdf": False, "/dev/sdg": True}
    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "terminated")
    assert wait_volume(ec2, keep, "available")["Attachments"] == []
    deadline = time.monotonic() + 20
    while _exists(ec2, drop):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert not (server.data_dir / "volumes" / f"{drop}.raw").exists()
    ec2.delete_volume(VolumeId=keep)


def test_a_terminated_instance_takes_no_volume(ec2: Any, image: dict[str, str]) -> None:
    iid = running_instance(ec2, image, ZONE_A)
    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "terminated")
    volume_id = new_volume(ec2)
    assert code_of(lambda: ec2.attach_volume(VolumeId=volume_id, InstanceId=iid,
                                             Device="/dev/sdf")) == "IncorrectState"
    assert ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"] == "available"
    ec2.delete_volume(VolumeId=volume_id)


def test_aws_cli(aws: Any, ec2: Any, image: dict[str, str]) -> None:
    iid = running_instance(ec2, image, ZONE_A)
    made = aws("ec2", "create-volume", "--availability-zone", ZONE_A, "--size", "2",
               "--volume-type", "gp2", "--tag-specifications",
               "ResourceType=volume,Tags=[{Key=cli,Value=yes}]")
    volume_id = made["VolumeId"]
    aws("ec2", "wait", "volume-available", "--volume-ids", volume_id)
    attached = aws("ec2", "attach-volume", "--volume-id", volume_id, "--instance-id", iid,
                   "--device", "/dev/sdf")
    assert attached["State"] == "attaching"
    aws("ec2", "wait", "volume-in-use", "--volume-ids", volume_id)
    wait_volume(ec2, volume_id, "attached")
    listed = aws("ec2", "describe-volumes", "--filters", f"Name=attachment.instance-id,Values={iid}")
    assert [v["VolumeId"] for v in listed["Volumes"]] == [volume_id]
    assert aws("ec2", "detach-volume", "--volume-id", volume_id)["State"] == "detaching"
    aws("ec2", "wait", "volume-available", "--volume-ids", volume_id)
    status = aws("ec2", "describe-volume-status", "--volume-ids", volume_id)
    assert status["VolumeStatuses"][0]["VolumeStatus"]["Status"] == "ok"
    aws("ec2", "delete-volume", "--volume-id", volume_id)
    aws("ec2", "wait", "volume-deleted", "--volume-ids", volume_id)
    ec2.terminate_instances(InstanceIds=[iid])


def test_boto2(boto2: Any, ec2: Any, image: dict[str, str]) -> None:
    iid = running_instance(ec2, image, ZONE_A)
    volume = boto2.create_volume(3, ZONE_A)
    assert volume.id.startswith("vol-") and volume.size == 3 and volume.zone == ZONE_A
    deadline = time.monotonic() + 20
    while volume.update() != "available":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert boto2.attach_volume(volume.id, iid, "/dev/sdf")
    while volume.attachment_state() != "attached":
        assert time.monotonic() < deadline
        time.sleep(0.2)
        volume.update()
    assert volume.attach_data.instance_id == iid and volume.attach_data.device == "/dev/sdf"
    assert [v.id for v in boto2.get_all_volumes(filters={"attachment.instance-id": iid})] == [
        volume.id]
    assert boto2.detach_volume(volume.id)
    while volume.update() != "available":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert boto2.delete_volume(volume.id)
    ec2.terminate_instances(InstanceIds=[iid])


def test_volumes_are_private_to_their_account(ec2: Any, make_ec2: Any, server: Server) -> None:
    volume_id = new_volume(ec2)
    other = make_ec2(server.new_account())
    assert code_of(lambda: other.describe_volumes(VolumeIds=[volume_id])) == \
        "InvalidVolume.NotFound"
    assert code_of(lambda: other.delete_volume(VolumeId=volume_id)) == "InvalidVolume.NotFound"
    assert volume_id not in {v["VolumeId"] for v in other.describe_volumes()["Volumes"]}
    ec2.delete_volume(VolumeId=volume_id)

