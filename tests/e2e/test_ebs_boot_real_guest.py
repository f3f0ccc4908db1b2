"""Booting from EBS on a real guest, the 2009 way with boto 2: ``ironbark up --with-node``, the
demo image.

1. An instance-store demo guest gets an empty volume attached; its user-data copies the root
   disk (``dd /dev/vda``) onto the disk whose serial is a volume id, and says so.
2. The volume is detached and snapshotted; the snapshot is registered as an EBS-backed image
   (the demo kernel and ramdisk, ``/dev/sda1`` from the snapshot).
3. An instance of it boots with the restored volume as ``vda`` (the guest reads the volume id
   as the root disk's serial); its user-data writes a marker and makes every boot print it.
4. Stop, start: the guest boots again from the same volume and prints the marker.
5. CreateImage: the guest is shut down for the snapshot and boots again; an instance of the new
   image prints the marker the first instance wrote.

A second test (issue 7) runs such an image with user-data that burns CPU and detailed monitoring:
the node's samples make CPUUtilization cross an alarm's threshold and its ``ec2:stop`` action
stops the guest (instance-store guests cannot be stopped, on AWS as here).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto.ec2.blockdevicemapping import BlockDeviceMapping, BlockDeviceType

from tests.conftest import Server, running_server
from tests.e2e.test_cli import ironbark
from tests.e2e.test_instances_real_guest import (
    eventually,
    first_backend,
    state_of,
    wait_console,
)
from tests.e2e.test_volumes_real_guest import clean_host, guest_env
from tests.hostcheck import require_real_host

BRIDGE = "ibebs1"
SUBNET = "10.84.0.0/24"
GATEWAY_CIDR = "10.84.0.1/24"
COPY_DATA = """#!/bin/sh
(
  while true; do
    for d in /sys/block/vd*; do
      serial=$(cat $d/serial 2>/dev/null)
      case "$serial" in vol*)
        dev=/dev/$(basename $d)
        sync
        dd if=/dev/vda of=$dev bs=1M 2>/dev/null && sync && echo "E2E-COPIED $serial"
        exit 0 ;;
      esac
    done
    sleep 0.3
  done
) >/dev/console 2>&1 &
"""
MARK_DATA = """#!/bin/sh
echo "E2E-ROOT-SERIAL $(cat /sys/block/vda/serial)"
echo "written-by-$(wget -q -O - http://169.254.169.254/latest/meta-data/instance-id)" >/root/marker
echo 'echo "E2E-MARKER $(cat /root/marker) E2E-END" >/dev/console' >>/etc/init.d/rcS
sync
echo "E2E-MARKED"
"""
BURN = """#!/bin/sh
(timeout 900 sh -c 'while :; do :; done') </dev/null >/dev/null 2>&1 &
echo ALM-BURN-BEGIN
"""


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ebs-boot-guest")


@pytest.fixture(scope="module")
def server(demo_image_dir: Path, node_dir: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_real_host("dnsmasq", "nft", "ip", "qemu-nbd")
    try:
        env = {**guest_env(node_dir, "path"), "IRONBARK_NODE_BRIDGE": BRIDGE,
               "IRONBARK_NODE_GATEWAY_CIDR": GATEWAY_CIDR, "IRONBARK_PRIVATE_SUBNET": SUBNET,
               "IRONBARK_VOLUME_NBD_PORTS": json.dumps([12000, 12099]),
               "IRONBARK_NODE_METRICS_INTERVAL": "10", "IRONBARK_CLOUDWATCH_ALARM_SECONDS": "2"}
        with running_server(first_backend(), tmp_path_factory, env) as srv:
            yield srv
    finally:
        asyncio.run(clean_host(node_dir, BRIDGE, GATEWAY_CIDR))


def ebs_demo_image(server: Server, ec2: Any, conn: Any, demo_image_dir: Path,
                   name: str) -> tuple[str, str, str]:
    """(EBS-backed AMI, its zone, the volume it was made from), the 2009 way: a demo guest copies
    its root disk onto an attached volume, which is detached, snapshotted and registered."""
    imported = ironbark(server, "image", "import", str(demo_image_dir), "--bucket", "images",
                        "--name", f"{name}-source", "--endpoint", server.endpoint)
    store_ami = json.loads(imported.stdout)["ImageId"]
    demo = conn().get_image(store_ami)
    kernel, ramdisk = demo.kernel_id, demo.ramdisk_id
    source = conn().run_instances(store_ami, instance_type="t1.micro",
                                user_data=COPY_DATA).instances[0]
    eventually(lambda: state_of(ec2, source.id) == "running", "running")
    zone = ec2.describe_instances(InstanceIds=[source.id])["Reservations"][0]["Instances"][0][
        "Placement"]["AvailabilityZone"]

    volume = conn().create_volume(1, zone)
    eventually(lambda: conn().get_all_volumes([volume.id])[0].status == "available", "available",
               30)
    conn().attach_volume(volume.id, source.id, "/dev/sdf")
    serial = volume.id.replace("-", "", 1)
    wait_console(ec2, source.id, f"E2E-COPIED {serial}")
    conn().detach_volume(volume.id)
    eventually(lambda: conn().get_all_volumes([volume.id])[0].status == "available", "detached",
               60)
    snapshot = conn().create_snapshot(volume.id, "the demo root")
    eventually(lambda: conn().get_all_snapshots([snapshot.id])[0].status == "completed",
               "snapshot completed", 120)
    conn().terminate_instances([source.id])

    mapping = BlockDeviceMapping()
    mapping["/dev/sda1"] = BlockDeviceType(snapshot_id=snapshot.id, delete_on_termination=True)
    ebs_ami = conn().register_image(name=name, root_device_name="/dev/sda1",
                                  kernel_id=kernel, ramdisk_id=ramdisk, block_device_map=mapping)
    assert conn().get_image(ebs_ami).root_device_type == "ebs"
    return str(ebs_ami), str(zone), str(volume.id)


def test_boot_from_a_volume_stop_start(server: Server, make_ec2: Any, make_boto2: Any,
                                       demo_image_dir: Path) -> None:
    started = time.monotonic()
    ec2 = make_ec2(server.admin)

    def conn() -> Any:  # boto 2 keeps one connection, which the server closes when idle
        return make_boto2(server.admin)

    ebs_ami, zone, volume_id = ebs_demo_image(server, ec2, conn, demo_image_dir, "demo-on-ebs")
    instance = conn().run_instances(ebs_ami, instance_type="t1.micro", placement=zone,
                                  user_data=MARK_DATA).instances[0]
    eventually(lambda: state_of(ec2, instance.id) == "running", "running")
    instance = conn().get_only_instances([instance.id])[0]
    root = instance.block_device_mapping["/dev/sda1"].volume_id
    text = wait_console(ec2, instance.id, "E2E-MARKED")
    assert f"E2E-ROOT-SERIAL {root.replace('-', '', 1)}" in text  # vda is the EBS volume
    booted = time.monotonic()

    conn().stop_instances([instance.id])
    eventually(lambda: state_of(ec2, instance.id) == "stopped", "stopped", 120)
    assert conn().get_all_volumes([root])[0].attachment_state() == "attached"
    conn().start_instances([instance.id])
    eventually(lambda: state_of(ec2, instance.id) == "running", "running again")
    text = wait_console(ec2, instance.id, "E2E-END")
    assert f"E2E-MARKER written-by-{instance.id} E2E-END" in text, text[-2000:]
    wait_console(ec2, instance.id, "IRONBARK-USERDATA-SKIPPED")  # the same root: already ran
    restarted = time.monotonic()

    # CreateImage (with its shutdown and boot around the snapshot); the image's instances
    # boot the same root: the marker written by the first instance
    made = conn().create_image(instance.id, "demo-imaged", description="from a running guest")
    eventually(lambda: conn().get_image(made).state == "available", "image available", 180)
    imaged = time.monotonic()
    wait_console(ec2, instance.id, "E2E-END", count=2)  # booted again after the snapshot
    assert state_of(ec2, instance.id) == "running"
    child = conn().run_instances(made, instance_type="t1.micro", placement=zone).instances[0]
    eventually(lambda: state_of(ec2, child.id) == "running", "the image's instance running")
    text = wait_console(ec2, child.id, "E2E-END")
    assert f"E2E-MARKER written-by-{instance.id} E2E-END" in text, text[-2000:]
    print(f"\nEBS boot: copy+snapshot+boot {booted - started:.1f} s, "
          f"stop+start to marker {restarted - booted:.1f} s, "
          f"CreateImage to available {imaged - restarted:.1f} s")

    conn().terminate_instances([instance.id, child.id])
    eventually(lambda: state_of(ec2, instance.id) == "terminated", "terminated")
    eventually(lambda: state_of(ec2, child.id) == "terminated", "terminated")
    eventually(lambda: not conn().get_all_volumes(filters={"volume-id": root}),
               "root volume deleted", 60)
    conn().delete_volume(volume_id)


def test_an_alarm_stops_a_burning_ebs_backed_guest(server: Server, make_ec2: Any, make_boto2: Any,
                                                  demo_image_dir: Path) -> None:
    ec2 = make_ec2(server.admin)
    ebs_ami, zone, volume_id = ebs_demo_image(
        server, ec2, lambda: make_boto2(server.admin), demo_image_dir, "demo-on-ebs-burning")
    iid = ec2.run_instances(ImageId=ebs_ami, MinCount=1, MaxCount=1, InstanceType="t1.micro",
                            Placement={"AvailabilityZone": zone}, UserData=BURN,
                            Monitoring={"Enabled": True})["Instances"][0]["InstanceId"]
    eventually(lambda: state_of(ec2, iid) == "running", "running")
    wait_console(ec2, iid, "ALM-BURN-BEGIN")
    cw = boto3.client("cloudwatch", endpoint_url=server.endpoint, region_name="us-east-1",
                      aws_access_key_id=server.admin.access_key_id,
                      aws_secret_access_key=server.admin.secret_access_key)
    cw.put_metric_alarm(AlarmName="burn-stop", Namespace="AWS/EC2", MetricName="CPUUtilization",
                        Dimensions=[{"Name": "InstanceId", "Value": iid}], Statistic="Average",
                        Period=60, EvaluationPeriods=1, Threshold=15.0,
                        ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=["arn:aws:automate:us-east-1:ec2:stop"])
    put = time.monotonic()
    eventually(lambda: state_of(ec2, iid) == "stopped", "stopped by the alarm", 300)
    print(f"\nalarm put -> stopped {time.monotonic() - put:.1f} s")
    actions = [h["HistorySummary"] for h in cw.describe_alarm_history(
        AlarmName="burn-stop", HistoryItemType="Action")["AlarmHistoryItems"]]
    assert actions == ["Successfully executed action arn:aws:automate:us-east-1:ec2:stop"]
    burned = cw.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Period=60, Statistics=["Maximum"],
        Dimensions=[{"Name": "InstanceId", "Value": iid}], StartTime=time.time() - 900,
        EndTime=time.time())["Datapoints"]
    assert max(p["Maximum"] for p in burned) > 15.0
    [root] = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
        "BlockDeviceMappings"]
    assert root["Ebs"]["Status"] == "attached"  # a stop keeps the root volume
    ec2.terminate_instances(InstanceIds=[iid])
    eventually(lambda: state_of(ec2, iid) == "terminated", "terminated")
    ec2.delete_volume(VolumeId=volume_id)
