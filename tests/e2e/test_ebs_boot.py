"""EBS-backed images and instances end to end: a real controller (snapshot job, volume and
instance reconcilers), fake node agents over real HTTP, boto3, the AWS CLI and boto 2.

Zone A has ``store-1``, named like the storage host: volumes reach its guests by path. Zone B
has ``far-1``: by NBD. ``far-a`` joins zone A in the last test, where a stopped instance starts
again on it (its root volume then over NBD).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from boto.ec2.blockdevicemapping import BlockDeviceMapping, BlockDeviceType

from controller.db.engine import transaction
from controller.db.models import Snapshot
from controller.identity.service import Credentials
from tests.conftest import AwsCli, Server, running_server
from tests.e2e.cloudwatch_clients import boto3_client
from tests.e2e.fake_nodes import FakeCluster, NodeShape, fake_cluster
from tests.e2e.snapshot_fixtures import _sessions, wait_snapshot
from tests.e2e.test_instances import code_of, image, wait_for
from tests.e2e.test_volumes import wait_volume

__all__ = ["image"]
ZONE_A, ZONE_B = "us-east-1a", "us-east-1b"
STORE, FAR, FAR_A = "store-1", "far-1", "far-a"
MIB = 1 << 20
MARK = b"ironbark root volume marker"


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "IRONBARK_NODE_HEARTBEAT_SECONDS": "0.3",
        "IRONBARK_INSTANCE_RECONCILE_SECONDS": "0.2",
        "IRONBARK_VOLUME_RECONCILE_SECONDS": "0.2",
        "IRONBARK_AVAILABILITY_ZONES": json.dumps([ZONE_A, ZONE_B]),
        "IRONBARK_NODE_ZONES": json.dumps({FAR: ZONE_B}),
        "IRONBARK_PRIVATE_SUBNET": "127.79.0.0/24",
        "IRONBARK_METADATA_PORT": "0",
        "IRONBARK_VOLUME_HOST": STORE,
        "IRONBARK_VOLUME_NBD_PORTS": json.dumps([11800, 11899]),
        "IRONBARK_CLOUDWATCH_ALARM_SECONDS": "0.5",
    }
    with running_server(db_backend, tmp_path_factory, env) as srv:
        yield srv


@pytest.fixture(scope="module")
def cluster(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCluster]:
    shapes = [NodeShape(STORE, max_instances=3), NodeShape(FAR)]
    with fake_cluster(server, tmp_path_factory.mktemp("fakes"), shapes) as fakes:
        yield fakes


def volume_file(server: Server, volume_id: str) -> Path:
    return server.data_dir / "volumes" / f"{volume_id}.raw"


@pytest.fixture
def snapshot(ec2: Any, server: Server, cluster: FakeCluster) -> str:
    """The test account's completed snapshot of a 1 GiB volume with a marker at 0 and at
    700 MiB."""
    volume_id = ec2.create_volume(AvailabilityZone=ZONE_A, Size=1)["VolumeId"]
    wait_volume(ec2, volume_id, "available")
    with volume_file(server, volume_id).open("r+b") as out:
        out.write(MARK)
        out.seek(700 * MIB)
        out.write(MARK[::-1])
    snap = ec2.create_snapshot(VolumeId=volume_id, Description="root")["SnapshotId"]
    assert wait_snapshot(ec2, snap)["State"] == "completed"
    ec2.delete_volume(VolumeId=volume_id)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[volume_id],
                                          WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    return str(snap)


def register(ec2: Any, image: dict[str, str], snapshot: str, name: str,
             **ebs: Any) -> str:
    return str(ec2.register_image(
        Name=name, RootDeviceName="/dev/sda1", KernelId=image["aki"],
        RamdiskId=image["ari"], Architecture="x86_64",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1",
                              "Ebs": {"SnapshotId": snapshot, **ebs}}])["ImageId"])


def mappings_of(ec2: Any, iid: str) -> dict[str, dict[str, Any]]:
    shown = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    return {m["DeviceName"]: m["Ebs"] for m in shown["BlockDeviceMappings"]}


def node_of(cluster: FakeCluster, iid: str) -> str | None:
    found = [name for name, node in cluster.nodes.items() if iid in node.instances.specs]
    assert len(found) <= 1
    return found[0] if found else None


def read_at(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as source:
        source.seek(offset)
        return source.read(size)


def test_register_ebs_image_and_refusals(ec2: Any, image: dict[str, str], snapshot: str) -> None:
    ami = register(ec2, image, snapshot, "ebs-register", VolumeType="gp2")
    shown = ec2.describe_images(ImageIds=[ami])["Images"][0]
    assert (shown["RootDeviceType"], shown["RootDeviceName"]) == ("ebs", "/dev/sda1")
    assert (shown["KernelId"], shown["RamdiskId"], shown["State"]) == (
        image["aki"], image["ari"], "available")
    ebs = shown["BlockDeviceMappings"][0]["Ebs"]
    assert (ebs["SnapshotId"], ebs["VolumeSize"], ebs["DeleteOnTermination"],
            ebs["VolumeType"]) == (snapshot, 1, True, "gp2")
    found = ec2.describe_images(Filters=[
        {"Name": "block-device-mapping.snapshot-id", "Values": [snapshot]},
        {"Name": "root-device-type", "Values": ["ebs"]}])["Images"]
    assert ami in {i["ImageId"] for i in found}
    assert code_of(lambda: ec2.delete_snapshot(SnapshotId=snapshot)) == "InvalidSnapshot.InUse"

    def refused(**params: Any) -> str:
        return code_of(lambda: ec2.register_image(**{"Name": "ebs-refused", **params}))

    sda1 = {"DeviceName": "/dev/sda1"}
    assert refused() == "MissingParameter"
    assert refused(RootDeviceName="/dev/sda1", BlockDeviceMappings=[
        {**sda1, "Ebs": {"VolumeSize": 1}}]) == "InvalidBlockDeviceMapping"
    assert refused(RootDeviceName="/dev/sdb", BlockDeviceMappings=[
        {**sda1, "Ebs": {"SnapshotId": snapshot}}]) == "InvalidBlockDeviceMapping"
    assert refused(RootDeviceName="/dev/sda1", BlockDeviceMappings=[
        {**sda1, "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}]) == "InvalidSnapshot.NotFound"
    assert refused(RootDeviceName="/dev/sda1", BlockDeviceMappings=[
        {**sda1, "Ebs": {"SnapshotId": "snap-nothex"}}]) == "InvalidSnapshotID.Malformed"
    assert refused(RootDeviceName="/dev/sda1", BlockDeviceMappings=[
        {**sda1, "Ebs": {"SnapshotId": snapshot, "VolumeSize": 0}}]) == \
        "InvalidBlockDeviceMapping"
    assert code_of(lambda: register(ec2, image, snapshot, "ebs-register")) == \
        "InvalidAMIName.Duplicate"
    ec2.deregister_image(ImageId=ami)
    assert ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]["State"] == "completed"


def test_run_boots_from_restored_root_and_extra_volumes(ec2: Any, image: dict[str, str],
                                                        snapshot: str, server: Server,
                                                        cluster: FakeCluster) -> None:
    ami = register(ec2, image, snapshot, "ebs-run")
    reply = ec2.run_instances(
        ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
        Placement={"AvailabilityZone": ZONE_A},
        BlockDeviceMappings=[
            {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 2}},
            {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1, "DeleteOnTermination": False}},
            {"DeviceName": "/dev/sdg", "Ebs": {"SnapshotId": snapshot, "VolumeType": "gp3"}}],
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "k", "Value": "v"}]}])
    launched = reply["Instances"][0]
    iid = launched["InstanceId"]
    assert launched["State"]["Name"] == "pending" and launched["RootDeviceType"] == "ebs"
    assert sorted(m["DeviceName"] for m in launched["BlockDeviceMappings"]) == [
        "/dev/sda1", "/dev/sdf", "/dev/sdg"]
    running = wait_for(ec2, [iid], "running")[0]
    assert (running["RootDeviceType"], running["RootDeviceName"]) == ("ebs", "/dev/sda1")
    shown = mappings_of(ec2, iid)
    assert {d: (e["Status"], e["DeleteOnTermination"]) for d, e in shown.items()} == {
        "/dev/sda1": ("attached", True), "/dev/sdf": ("attached", False),
        "/dev/sdg": ("attached", True)}
    root, blank, copy = (shown[d]["VolumeId"] for d in ("/dev/sda1", "/dev/sdf", "/dev/sdg"))
    volumes = {v["VolumeId"]: v for v in ec2.describe_volumes(VolumeIds=[root, blank, copy])[
        "Volumes"]}
    assert (volumes[root]["Size"], volumes[root]["SnapshotId"], volumes[root]["State"]) == (
        2, snapshot, "in-use")
    assert (volumes[blank]["Size"], volumes[blank]["SnapshotId"]) == (1, "")
    assert (volumes[copy]["VolumeType"], volumes[copy]["Iops"]) == ("gp3", 3000)
    assert all(v["Tags"] == [{"Key": "k", "Value": "v"}] for v in volumes.values())
    assert all(v["AvailabilityZone"] == ZONE_A for v in volumes.values())
    for vid in (root, copy):  # restored from the snapshot, sparse and grown
        assert read_at(volume_file(server, vid), 0, len(MARK)) == MARK
        assert read_at(volume_file(server, vid), 700 * MIB, len(MARK)) == MARK[::-1]
    assert volume_file(server, root).stat().st_size == 2 << 30
    assert node_of(cluster, iid) == STORE
    spec = cluster.nodes[STORE].instances.specs[iid]
    assert spec.root_volume == {"volume_id": root, "format": "raw",
                                "path": str(volume_file(server, root))}
    assert "root" not in spec.images and "kernel" in spec.images
    assert sorted(v["device"] for v in spec.volumes) == ["/dev/sdf", "/dev/sdg"]
    assert code_of(lambda: ec2.detach_volume(VolumeId=root, InstanceId=iid,
                                             Device="/dev/sdb")) == "InvalidAttachment.NotFound"

    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "terminated")
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[root, copy],
                                          WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    assert wait_volume(ec2, blank, "available")["Attachments"] == []
    assert not volume_file(server, root).exists()
    ec2.delete_volume(VolumeId=blank)


def test_nbd_root_and_stop_start(ec2: Any, image: dict[str, str], snapshot: str,
                                 server: Server, cluster: FakeCluster) -> None:
    ami = register(ec2, image, snapshot, "ebs-nbd")
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            Placement={"AvailabilityZone": ZONE_B})["Instances"][0]["InstanceId"]
    first = wait_for(ec2, [iid], "running")[0]
    spec = cluster.nodes[FAR].instances.specs[iid]
    root = mappings_of(ec2, iid)["/dev/sda1"]["VolumeId"]
    assert spec.root_volume is not None and spec.root_volume["volume_id"] == root
    assert spec.root_volume["nbd"].startswith("nbd://") and "path" not in spec.root_volume

    data = ec2.create_volume(AvailabilityZone=ZONE_B, Size=1)["VolumeId"]
    wait_volume(ec2, data, "available")
    ec2.attach_volume(VolumeId=data, InstanceId=iid, Device="/dev/sdh")
    wait_volume(ec2, data, "attached")

    stopping = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert stopping["CurrentState"]["Name"] == "stopping"
    stopped = wait_for(ec2, [iid], "stopped")[0]
    assert stopped["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    assert stopped["PrivateIpAddress"] == first["PrivateIpAddress"]
    deadline = time.monotonic() + 10
    while node_of(cluster, iid) is not None:  # the node let go of the domain
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert {d: e["Status"] for d, e in mappings_of(ec2, iid).items()} == {
        "/dev/sda1": "attached", "/dev/sdh": "attached"}
    assert ec2.describe_volumes(VolumeIds=[root])["Volumes"][0]["State"] == "in-use"

    # while stopped: the type changes, a volume detaches and another attaches at once
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "m1.medium"})
    ec2.detach_volume(VolumeId=data)
    wait_volume(ec2, data, "available")
    other = ec2.create_volume(AvailabilityZone=ZONE_B, Size=1)["VolumeId"]
    wait_volume(ec2, other, "available")
    ec2.attach_volume(VolumeId=other, InstanceId=iid, Device="/dev/sdj")
    wait_volume(ec2, other, "attached")

    started = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    assert (started["PreviousState"]["Name"], started["CurrentState"]["Name"]) == (
        "stopped", "pending")
    again = wait_for(ec2, [iid], "running")[0]
    assert again["InstanceType"] == "m1.medium"
    assert again["PrivateIpAddress"] == first["PrivateIpAddress"]
    spec = cluster.nodes[FAR].instances.specs[iid]
    assert spec.root_volume is not None and spec.root_volume["volume_id"] == root
    assert [v["volume_id"] for v in spec.volumes] == [other]
    assert spec.memory_mib == 512  # m1.medium
    assert code_of(lambda: ec2.start_instances(InstanceIds=["i-0123456789abcdef0"])) == \
        "InvalidInstanceID.NotFound"

    ec2.stop_instances(InstanceIds=[iid], Force=True)
    wait_for(ec2, [iid], "stopped")
    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "terminated")
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[root],
                                          WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    wait_volume(ec2, other, "available")
    for vid in (data, other):
        ec2.delete_volume(VolumeId=vid)


def test_failed_restore_ends_terminated(ec2: Any, image: dict[str, str], snapshot: str,
                                        server: Server) -> None:
    broken = ec2.copy_snapshot(SourceSnapshotId=snapshot, SourceRegion="us-east-1")["SnapshotId"]
    assert wait_snapshot(ec2, broken)["State"] == "completed"
    ami = register(ec2, image, broken, "ebs-broken")
    with transaction(_sessions(server)) as session:
        row = session.get(Snapshot, broken)
        assert row is not None and row.manifest
        manifest = json.loads(row.manifest)
        manifest["parts"][0]["key"] = "missing/00000000"
        row.manifest = json.dumps(manifest)
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            Placement={"AvailabilityZone": ZONE_A})["Instances"][0]["InstanceId"]
    done = wait_for(ec2, [iid], "terminated")[0]
    assert done["StateReason"]["Code"] == "Server.InternalError"


def test_stop_while_pending_then_start(ec2: Any, image: dict[str, str], snapshot: str,
                                       cluster: FakeCluster) -> None:
    """Stopped before its node ever ran it (its root volume still being restored, or just
    sent): it ends ``stopped`` all the same, and starts."""
    ami = register(ec2, image, snapshot, "ebs-early-stop")
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            Placement={"AvailabilityZone": ZONE_A})["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "stopped")
    ec2.start_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "running")
    assert node_of(cluster, iid) == STORE
    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "terminated")


def test_a_public_ebs_image_launches_for_another_account(
        ec2: Any, image: dict[str, str], snapshot: str, server: Server,
        make_ec2: Any) -> None:
    """Its snapshot comes with it: the other account needs no permission on the snapshot,
    but may not name that snapshot itself."""
    ami = register(ec2, image, snapshot, "ebs-public")
    ec2.modify_image_attribute(ImageId=ami, LaunchPermission={"Add": [{"Group": "all"}]})
    for kind in ("aki", "ari"):
        ec2.modify_image_attribute(ImageId=image[kind],
                                   LaunchPermission={"Add": [{"Group": "all"}]})
    other = make_ec2(server.new_account())
    iid = other.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                              Placement={"AvailabilityZone": ZONE_A})["Instances"][0][
        "InstanceId"]
    wait_for(other, [iid], "running")
    root = mappings_of(other, iid)["/dev/sda1"]["VolumeId"]
    assert other.describe_volumes(VolumeIds=[root])["Volumes"][0]["SnapshotId"] == snapshot
    assert code_of(lambda: other.run_instances(
        ImageId=ami, MinCount=1, MaxCount=1, BlockDeviceMappings=[
            {"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": snapshot}}])) == \
        "InvalidSnapshot.NotFound"
    other.terminate_instances(InstanceIds=[iid])
    wait_for(other, [iid], "terminated")


def test_run_refusals(ec2: Any, image: dict[str, str], snapshot: str) -> None:
    ami = register(ec2, image, snapshot, "ebs-refusals")
    before = len(ec2.describe_volumes()["Volumes"])

    def refused(mappings: list[dict[str, Any]]) -> str:
        return code_of(lambda: ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                                 BlockDeviceMappings=mappings))

    assert refused([{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 0}}]) == \
        "InvalidBlockDeviceMapping"
    assert refused([{"DeviceName": "/dev/sdf", "Ebs": {}}]) == "InvalidBlockDeviceMapping"
    assert refused([{"DeviceName": "/dev/sdf", "Ebs": {
        "SnapshotId": "snap-0123456789abcdef0"}}]) == "InvalidSnapshot.NotFound"
    assert len(ec2.describe_volumes()["Volumes"]) == before


def test_aws_cli(aws: AwsCli, image: dict[str, str], snapshot: str) -> None:
    mapping = json.dumps([{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snapshot}}])
    ami = aws("ec2", "register-image", "--name", "ebs-cli", "--root-device-name", "/dev/sda1",
              "--kernel-id", image["aki"], "--ramdisk-id", image["ari"],
              "--block-device-mappings", mapping)["ImageId"]
    shown = aws("ec2", "describe-images", "--image-ids", ami)["Images"][0]
    assert shown["RootDeviceType"] == "ebs"
    iid = aws("ec2", "run-instances", "--image-id", ami, "--count", "1", "--instance-type",
              "m1.small", "--placement", f"AvailabilityZone={ZONE_A}")["Instances"][0]["InstanceId"]
    aws("ec2", "wait", "instance-running", "--instance-ids", iid)
    stopping = aws("ec2", "stop-instances", "--instance-ids", iid)["StoppingInstances"][0]
    assert stopping["CurrentState"]["Name"] == "stopping"
    aws("ec2", "wait", "instance-stopped", "--instance-ids", iid)
    aws("ec2", "start-instances", "--instance-ids", iid)
    aws("ec2", "wait", "instance-running", "--instance-ids", iid)
    made = aws("ec2", "create-image", "--instance-id", iid, "--name", "ebs-cli-image",
               "--no-reboot")["ImageId"]
    aws("ec2", "wait", "image-available", "--image-ids", made)
    assert aws("ec2", "describe-images", "--image-ids", made)["Images"][0][
        "BlockDeviceMappings"][0]["Ebs"]["SnapshotId"].startswith("snap-")
    aws("ec2", "terminate-instances", "--instance-ids", iid)
    aws("ec2", "wait", "instance-terminated", "--instance-ids", iid)


def test_boto2(boto2: Any, image: dict[str, str], snapshot: str) -> None:
    mapping = BlockDeviceMapping()
    mapping["/dev/sda1"] = BlockDeviceType(snapshot_id=snapshot, delete_on_termination=True)
    ami = boto2.register_image(name="ebs-boto2", root_device_name="/dev/sda1",
                               kernel_id=image["aki"], ramdisk_id=image["ari"],
                               block_device_map=mapping)
    shown = boto2.get_image(ami)
    assert shown.root_device_type == "ebs" and shown.block_device_mapping[
        "/dev/sda1"].snapshot_id == snapshot
    extra = BlockDeviceMapping()
    extra["/dev/sdf"] = BlockDeviceType(size=1, delete_on_termination=True)
    reservation = boto2.run_instances(ami, instance_type="m1.small", placement=ZONE_A,
                                      block_device_map=extra)
    instance = reservation.instances[0]

    def state() -> str:
        instance.update()
        return str(instance.state)

    def wait(wanted: str) -> None:
        deadline = time.monotonic() + 20
        while state() != wanted:
            assert time.monotonic() < deadline, instance.state
            time.sleep(0.2)

    wait("running")
    assert instance.root_device_type == "ebs"
    assert sorted(instance.block_device_mapping) == ["/dev/sda1", "/dev/sdf"]
    boto2.stop_instances([instance.id])
    wait("stopped")
    boto2.start_instances([instance.id])
    wait("running")
    made = boto2.create_image(instance.id, "ebs-boto2-image", description="by boto 2")
    deadline = time.monotonic() + 30
    while boto2.get_image(made).state != "available":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert boto2.get_image(made).block_device_mapping["/dev/sda1"].snapshot_id.startswith("snap-")
    wait("running")  # booted again after the image's snapshots
    boto2.terminate_instances([instance.id])
    wait("terminated")


def wait_image(ec2: Any, image_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        shown: dict[str, Any] = ec2.describe_images(ImageIds=[image_id])["Images"][0]
        if shown["State"] != "pending":
            return shown
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)


def test_create_image(ec2: Any, image: dict[str, str], snapshot: str, server: Server,
                      cluster: FakeCluster) -> None:
    ami = register(ec2, image, snapshot, "ebs-source")
    iid = ec2.run_instances(
        ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
        Placement={"AvailabilityZone": ZONE_A},
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}],
    )["Instances"][0]["InstanceId"]
    wait_for(ec2, [iid], "running")
    devices = mappings_of(ec2, iid)
    root, data = devices["/dev/sda1"]["VolumeId"], devices["/dev/sdf"]["VolumeId"]
    with volume_file(server, data).open("r+b") as out:
        out.seek(5 * MIB)
        out.write(b"data volume")
    node = node_of(cluster, iid)
    assert node is not None
    fake = cluster.nodes[node].instances

    # the default: the guest is shut down for the snapshots, then booted again
    made = ec2.create_image(InstanceId=iid, Name="from-running", Description="imaged",
                            TagSpecifications=[{"ResourceType": "image",
                                                "Tags": [{"Key": "k", "Value": "v"}]}])
    new_ami = made["ImageId"]
    assert ec2.describe_images(ImageIds=[new_ami])["Images"][0]["State"] in ("pending",
                                                                            "available")
    shown = wait_image(ec2, new_ami)
    assert (shown["State"], shown["RootDeviceType"], shown["RootDeviceName"]) == (
        "available", "ebs", "/dev/sda1")
    assert (shown["Description"], shown["KernelId"]) == ("imaged", image["aki"])
    assert shown["Tags"] == [{"Key": "k", "Value": "v"}]
    by_device = {m["DeviceName"]: m["Ebs"] for m in shown["BlockDeviceMappings"]}
    assert sorted(by_device) == ["/dev/sda1", "/dev/sdf"]
    snaps = {s["SnapshotId"]: s for s in ec2.describe_snapshots(
        SnapshotIds=[e["SnapshotId"] for e in by_device.values()])["Snapshots"]}
    assert {s["VolumeId"] for s in snaps.values()} == {root, data}
    assert all(s["State"] == "completed" and new_ami in s["Description"]
               for s in snaps.values())
    deadline = time.monotonic() + 10
    while fake.states.get(iid) != "running" or \
            ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
                "State"]["Name"] != "running":
        assert time.monotonic() < deadline, (fake.states.get(iid), ec2.describe_instances(
            InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"])
        time.sleep(0.1)

    # NoReboot: the node copies the running guest's disks; a stopped instance: the files
    quick = ec2.create_image(InstanceId=iid, Name="no-reboot", NoReboot=True,
                             BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "NoDevice": ""}])
    assert [m["DeviceName"] for m in wait_image(ec2, quick["ImageId"])[
        "BlockDeviceMappings"]] == ["/dev/sda1"]
    assert fake.states[iid] == "running"
    ec2.stop_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "stopped")
    cold = ec2.create_image(InstanceId=iid, Name="from-stopped")["ImageId"]
    assert wait_image(ec2, cold)["State"] == "available"
    assert code_of(lambda: ec2.create_image(InstanceId=iid, Name="from-stopped")) == \
        "InvalidAMIName.Duplicate"

    # the new image launches with both volumes, their data restored
    child = ec2.run_instances(ImageId=new_ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                              Placement={"AvailabilityZone": ZONE_A})["Instances"][0][
        "InstanceId"]
    wait_for(ec2, [child], "running")
    restored = mappings_of(ec2, child)
    assert read_at(volume_file(server, restored["/dev/sda1"]["VolumeId"]), 0, len(MARK)) == MARK
    assert read_at(volume_file(server, restored["/dev/sdf"]["VolumeId"]), 5 * MIB, 11) == \
        b"data volume"
    ec2.terminate_instances(InstanceIds=[iid, child])
    wait_for(ec2, [iid, child], "terminated")


def test_create_image_refusals(ec2: Any, image: dict[str, str]) -> None:
    store = ec2.run_instances(ImageId=image["ami"], MinCount=1, MaxCount=1,
                              InstanceType="m1.small")["Instances"][0]["InstanceId"]
    wait_for(ec2, [store], "running")
    assert code_of(lambda: ec2.create_image(InstanceId=store, Name="nope")) == \
        "UnsupportedOperation"
    assert code_of(lambda: ec2.create_image(InstanceId="i-0123456789abcdef0", Name="nope")) == \
        "InvalidInstanceID.NotFound"
    assert code_of(lambda: ec2.create_image(InstanceId=store, Name="bad\\name")) == \
        "InvalidAMIName.Malformed"
    ec2.terminate_instances(InstanceIds=[store])


def test_start_moves_to_another_node(ec2: Any, image: dict[str, str], snapshot: str,
                                     server: Server, cluster: FakeCluster) -> None:
    """(Last: it adds a node to zone A.) A stopped instance left its node; when that node is full, it starts on another node
    of its zone, where its root volume (kept on the storage host) arrives over NBD."""
    ami = register(ec2, image, snapshot, "ebs-move")
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            Placement={"AvailabilityZone": ZONE_A})["Instances"][0]["InstanceId"]
    wait_for(ec2, [iid], "running")
    assert node_of(cluster, iid) == STORE
    ec2.stop_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "stopped")
    fillers = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=image["ami"], MinCount=3, MaxCount=3, InstanceType="m1.small",
        Placement={"AvailabilityZone": ZONE_A})["Instances"]]
    wait_for(ec2, fillers, "running")
    assert code_of(lambda: ec2.start_instances(InstanceIds=[iid])) == \
        "InsufficientInstanceCapacity"
    cluster.add(NodeShape(FAR_A))
    ec2.start_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "running")
    assert node_of(cluster, iid) == FAR_A
    spec = cluster.nodes[FAR_A].instances.specs[iid]
    assert spec.root_volume is not None and spec.root_volume["nbd"].startswith("nbd://")
    ec2.terminate_instances(InstanceIds=[iid, *fillers])
    wait_for(ec2, [iid, *fillers], "terminated")


def test_a_cpu_alarm_stops_an_ebs_backed_instance(
        ec2: Any, image: dict[str, str], snapshot: str, server: Server, cluster: FakeCluster,
        account: Credentials) -> None:
    """Issue 7's alarm on CPUUtilization that stops the instance: the node's samples cross the
    threshold, the evaluation loop moves the alarm to ALARM and its ``ec2:stop`` action stops
    the EBS-backed instance, which keeps its root volume and starts again."""
    ami = register(ec2, image, snapshot, "ebs-alarm")
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            Monitoring={"Enabled": True},
                            Placement={"AvailabilityZone": ZONE_A})["Instances"][0]["InstanceId"]
    wait_for(ec2, [iid], "running")
    root = mappings_of(ec2, iid)["/dev/sda1"]["VolumeId"]
    cw = boto3_client(server, account)
    name = f"cpu-stop-{iid}"
    cw.put_metric_alarm(AlarmName=name, Namespace="AWS/EC2", MetricName="CPUUtilization",
                        Dimensions=[{"Name": "InstanceId", "Value": iid}], Statistic="Average",
                        Period=60, EvaluationPeriods=2, DatapointsToAlarm=1, Threshold=80.0,
                        ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=["arn:aws:automate:us-east-1:ec2:stop"])
    identity = cluster.links[node_of(cluster, iid) or STORE].identity
    assert identity is not None
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    samples = [{"instance_id": iid, "start": (minute - timedelta(minutes=m)).isoformat(),
                "end": (minute - timedelta(minutes=m - 1)).isoformat(), "vcpus": 1,
                "cpu_time_ns": int(0.95 * 60e9)} for m in (2, 1)]  # the last two minutes
    posted = httpx.post(f"{server.endpoint}_ironbark/nodes/metrics",
                        json={"node_id": identity.node_id, "samples": samples},
                        headers={"Authorization": f"Bearer {identity.credential}"},
                        trust_env=False, timeout=30)
    assert posted.json() == {"accepted": 2}
    stopped = wait_for(ec2, [iid], "stopped")[0]
    assert stopped["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    assert ec2.describe_volumes(VolumeIds=[root])["Volumes"][0]["State"] == "in-use"
    [alarm] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    action = next(h for h in cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
                  if h["HistoryItemType"] == "Action")
    assert action["HistorySummary"] == \
        "Successfully executed action arn:aws:automate:us-east-1:ec2:stop"
    cw.close()
    ec2.start_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "running")
    assert mappings_of(ec2, iid)["/dev/sda1"]["VolumeId"] == root
    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "terminated")
