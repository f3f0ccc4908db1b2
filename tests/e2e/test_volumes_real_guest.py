"""EBS volumes on a real guest: ``ironbark up --with-node``, the demo image, boto3 only.

A user-data loop prints the serials of the guest's virtio disks (``/sys/block/vd*/serial``) and
its metadata ``block-device-mapping/`` once a second. AttachVolume must make the volume id
(without its dash, as EC2's NVMe serials show it) appear in GetConsoleOutput; DetachVolume must
make it disappear, and the volume is ``available`` again only after the node confirmed it.

Run twice: ``path`` (the node is the storage host: the volume file is opened by path) and
``nbd`` (``IRONBARK_VOLUME_ATTACH=nbd``: QEMU opens the volume from a qemu-nbd export).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, running_server
from tests.e2e.test_cli import ironbark
from tests.e2e.test_instances_real_guest import (
    console,
    eventually,
    first_backend,
    free_port,
    state_of,
    wait_console,
)
from tests.hostcheck import require_real_host

BRIDGE = "ibvol1"
SUBNET = "10.83.0.0/24"
GATEWAY_CIDR = "10.83.0.1/24"
NODE_NAME = "vol-guest"
TICK = "E2E-TICK"
USER_DATA = """#!/bin/sh
md=http://169.254.169.254/latest/meta-data
(
  while true; do
    line=""
    for f in /sys/block/vd*/serial; do
      [ -f "$f" ] && line="$line $(cat "$f")"
    done
    bdm=$(timeout 3 wget -q -O - $md/block-device-mapping/ | tr '\\n' ',')
    echo "E2E-DISKS$line BDM=$bdm E2E-TICK"
    sleep 0.3
  done
) >/dev/console 2>&1 &
"""


@pytest.fixture(scope="module", params=["path", "nbd"])
def attach_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory, attach_mode: str) -> Path:
    return tmp_path_factory.mktemp(f"vol-guest-{attach_mode}")


def guest_env(node_dir: Path, attach_mode: str) -> dict[str, str]:
    """All in one with a node of its own bridge; the storage host is that node."""
    metadata_port = free_port()
    return {"IRONBARK_WITH_NODE": "1", "IRONBARK_NODE_STATE_DIR": str(node_dir),
            "IRONBARK_NODE_PORT": str(free_port()), "IRONBARK_NODE_NODE_NAME": NODE_NAME,
            "IRONBARK_NODE_BRIDGE": BRIDGE, "IRONBARK_NODE_GATEWAY_CIDR": GATEWAY_CIDR,
            "IRONBARK_NODE_METADATA_PORT": str(metadata_port),
            "IRONBARK_PRIVATE_SUBNET": SUBNET, "IRONBARK_METADATA_HOST": "0.0.0.0",
            "IRONBARK_METADATA_PORT": str(metadata_port),
            "IRONBARK_INSTANCE_RECONCILE_SECONDS": "0.2",
            "IRONBARK_VOLUME_RECONCILE_SECONDS": "0.1",
            "IRONBARK_VOLUME_HOST": NODE_NAME,
            "IRONBARK_VOLUME_ATTACH": "nbd" if attach_mode == "nbd" else "auto",
            "IRONBARK_VOLUME_NBD_PORTS": json.dumps([11900, 11999])}


@pytest.fixture(scope="module")
def server(demo_image_dir: Path, node_dir: Path, attach_mode: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_real_host("dnsmasq", "nft", "ip", "qemu-nbd")
    try:
        with running_server(first_backend(), tmp_path_factory,
                            guest_env(node_dir, attach_mode)) as srv:
            yield srv
    finally:
        asyncio.run(clean_host(node_dir))


async def clean_host(node_dir: Path) -> None:
    from nodeagent.hypervisor.guest import Guest
    from nodeagent.hypervisor.host import Host
    from nodeagent.network.bridge import BridgeSettings, SpecNetwork

    host = Host("qemu:///system", deadline=60)
    try:
        instances = node_dir / "instances"
        for name in sorted(p.name for p in instances.iterdir()) if instances.is_dir() else []:
            await Guest(host, name).destroy()
            await Guest(host, name).undefine()
    finally:
        await host.close()
    await SpecNetwork(BridgeSettings(BRIDGE, GATEWAY_CIDR), node_dir / "network").teardown()


def last_tick(text: str) -> str:
    """The last complete line the guest loop printed."""
    lines = [line for line in text.replace("\r", "").splitlines()
             if line.startswith("E2E-DISKS") and line.endswith(TICK)]
    return lines[-1] if lines else ""


def guest_sees(ec2: Any, instance_id: str, serial: str, present: bool,
               deadline: float = 120) -> float:
    """Wait until the guest's latest report has (or lacks) ``serial``; when it did."""
    def check() -> float | None:
        line = last_tick(console(ec2, instance_id))
        return time.monotonic() if line and (serial in line.split()) == present else None

    return eventually(check, f"serial {serial} {'in' if present else 'gone from'} the guest",
                      deadline)


def boot_demo_guest(server: Server, ec2: Any, demo_image_dir: Path,
                    user_data: str = USER_DATA) -> str:
    imported = ironbark(server, "image", "import", str(demo_image_dir), "--bucket", "images",
                        "--endpoint", server.endpoint)
    image_id = json.loads(imported.stdout)["ImageId"]
    reply = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t1.micro",
                              UserData=user_data)
    instance_id = str(reply["Instances"][0]["InstanceId"])
    eventually(lambda: state_of(ec2, instance_id) == "running", "running")
    wait_console(ec2, instance_id, TICK)
    return instance_id


def volume_state(ec2: Any, volume_id: str) -> tuple[str, str | None]:
    volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    return volume["State"], volume["Attachments"][0]["State"] if volume["Attachments"] else None


def attach_and_detach(ec2: Any, instance_id: str, volume_id: str,
                      device: str = "/dev/sdf") -> tuple[float, float]:
    """Attach, see the serial in the guest, detach, see it gone: the two latencies (API call
    to the guest's report)."""
    serial = volume_id.replace("-", "", 1)
    started = time.monotonic()
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device=device)
    attached = guest_sees(ec2, instance_id, serial, True) - started
    eventually(lambda: volume_state(ec2, volume_id) == ("in-use", "attached"), "attached", 30)
    started = time.monotonic()
    ec2.detach_volume(VolumeId=volume_id)
    detached = guest_sees(ec2, instance_id, serial, False) - started
    eventually(lambda: volume_state(ec2, volume_id) == ("available", None), "available", 60)
    return attached, detached


def test_a_volume_appears_in_the_guest_and_goes(server: Server, make_ec2: Any,
                                                demo_image_dir: Path, attach_mode: str) -> None:
    ec2 = make_ec2(server.admin)
    instance_id = boot_demo_guest(server, ec2, demo_image_dir)
    zone = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0][
        "Placement"]["AvailabilityZone"]
    volume_id = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    eventually(lambda: volume_state(ec2, volume_id)[0] == "available", "available", 30)
    serial = volume_id.replace("-", "", 1)
    assert serial not in last_tick(console(ec2, instance_id)).split()

    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    guest_sees(ec2, instance_id, serial, True)
    eventually(lambda: volume_state(ec2, volume_id) == ("in-use", "attached"), "attached", 30)
    def with_ebs1() -> str | None:
        line = last_tick(console(ec2, instance_id))
        return line if "ebs1" in line else None

    line = eventually(with_ebs1, "ebs1 in the metadata", 60)
    assert "BDM=ami,ebs1,root" in line, line
    domain = (Path("/etc/libvirt/qemu") / f"{instance_id}.xml")
    if domain.exists():  # the persistent definition has the disk, by path or over NBD
        xml = domain.read_text()
        assert serial in xml and (("protocol='nbd'" in xml) == (attach_mode == "nbd"))

    ec2.detach_volume(VolumeId=volume_id, InstanceId=instance_id)
    guest_sees(ec2, instance_id, serial, False)
    eventually(lambda: volume_state(ec2, volume_id) == ("available", None), "available", 60)
    timings = [attach_and_detach(ec2, instance_id, volume_id, "/dev/xvdg") for _ in range(2)]
    print(f"\n{attach_mode}: attach/detach seen by the guest after "
          + ", ".join(f"{a:.1f}/{d:.1f} s" for a, d in timings))
    ec2.terminate_instances(InstanceIds=[instance_id])
    eventually(lambda: state_of(ec2, instance_id) == "terminated", "terminated")
    ec2.delete_volume(VolumeId=volume_id)
