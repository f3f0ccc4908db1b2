"""Snapshots on a real guest: ``ironbark up --with-node``, the demo image, boto3 only.

The guest writes a known 4 MiB to the first volume attached to it, and prints the MD5 of the
first 4 MiB of every volume disk once a second. The volume is snapshotted *while attached*
(the node's live backup), a new volume is created from the snapshot, attached to the same
running guest, and the guest must report the same checksum for it; the restored volume's file
holds the same bytes. A second account the snapshot is shared with creates a volume from it;
once unshared, it is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, running_server
from tests.e2e.refusals import assert_refused, refusal
from tests.e2e.snapshot_fixtures import volume_file
from tests.e2e.test_instances_real_guest import eventually, first_backend, state_of
from tests.e2e.test_volumes_real_guest import (
    boot_demo_guest,
    clean_host,
    console,
    guest_env,
    volume_state,
)
from tests.hostcheck import require_real_host

MIB = 1 << 20
USER_DATA = """#!/bin/sh
(
  while true; do
    for d in /sys/block/vd*; do
      name=${d##*/}
      [ "$name" = vda ] && continue
      serial=$(cat $d/serial 2>/dev/null)
      if [ ! -f /tmp/wrote ]; then
        yes ironbark-snapshot-e2e | head -c 4194304 > /dev/$name && sync && touch /tmp/wrote
      fi
      sum=$(head -c 4194304 /dev/$name | md5sum | cut -d' ' -f1)
      echo "E2E-SUM $serial=$sum"
    done
    echo "E2E-TICK"
    sleep 1
  done
) >/dev/console 2>&1 &
"""
PATTERN = (b"ironbark-snapshot-e2e\n" * (4 * MIB // 22 + 1))[:4 * MIB]
SUM = re.compile(r"E2E-SUM (vol[0-9a-f]+)=([0-9a-f]{32})")


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("snap-guest")


@pytest.fixture(scope="module")
def server(demo_image_dir: Path, node_dir: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_real_host("dnsmasq", "nft", "ip", "qemu-nbd")
    try:
        with running_server(first_backend(), tmp_path_factory,
                            guest_env(node_dir, "path")) as srv:
            yield srv
    finally:
        asyncio.run(clean_host(node_dir))


def guest_sum(ec2: Any, instance_id: str, volume_id: str) -> str:
    serial = volume_id.replace("-", "", 1)

    def check() -> str | None:
        sums = dict(SUM.findall(console(ec2, instance_id)))
        return sums.get(serial)

    return eventually(check, f"the guest's checksum of {volume_id}", 180)


def wait_completed(ec2: Any, snapshot_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        snap = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
        return dict(snap) if snap["State"] != "pending" else None

    snap = eventually(check, f"{snapshot_id} completed", 180)
    assert snap["State"] == "completed", snap
    return snap


def test_snapshot_while_attached_restores_what_the_guest_wrote(
        server: Server, make_ec2: Any, demo_image_dir: Path, node_dir: Path) -> None:
    ec2 = make_ec2(server.admin)
    instance_id = boot_demo_guest(server, ec2, demo_image_dir, USER_DATA)
    zone = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0][
        "Placement"]["AvailabilityZone"]
    source = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    eventually(lambda: volume_state(ec2, source)[0] == "available", "available", 60)
    ec2.attach_volume(VolumeId=source, InstanceId=instance_id, Device="/dev/sdf")
    written = guest_sum(ec2, instance_id, source)
    assert written == hashlib.md5(PATTERN).hexdigest()

    started = time.monotonic()
    snapshot_id = ec2.create_snapshot(VolumeId=source, Description="live")["SnapshotId"]
    snap = wait_completed(ec2, snapshot_id)
    took = time.monotonic() - started
    assert state_of(ec2, instance_id) == "running"  # the guest ran throughout
    assert volume_state(ec2, source) == ("in-use", "attached")
    # taken by the node's live backup (the file itself is locked by the running QEMU)
    assert f"event=volume_backup instance_id={instance_id} volume_id={source}" \
        in server.log_text()
    assert not list((node_dir / "backups").rglob("*.qcow2"))  # dropped afterwards

    restored = ec2.create_volume(AvailabilityZone=zone, SnapshotId=snapshot_id)["VolumeId"]
    described = ec2.describe_volumes(VolumeIds=[restored])["Volumes"][0]
    assert described["SnapshotId"] == snapshot_id and described["Size"] == snap["VolumeSize"]
    eventually(lambda: volume_state(ec2, restored)[0] == "available", "restored", 120)
    with volume_file(server, restored).open("rb") as data:
        assert data.read(4 * MIB) == PATTERN
    ec2.attach_volume(VolumeId=restored, InstanceId=instance_id, Device="/dev/sdg")
    assert guest_sum(ec2, instance_id, restored) == written
    print(f"\nsnapshot of an attached 1 GiB volume: completed after {took:.1f} s")

    friend_creds = server.new_account()
    friend = make_ec2(friend_creds)
    assert_refused(refusal(lambda: friend.create_volume(AvailabilityZone=zone,
                                                        SnapshotId=snapshot_id)),
                   "InvalidSnapshot.NotFound")
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                  OperationType="add", UserIds=[friend_creds.account_id])
    theirs = friend.create_volume(AvailabilityZone=zone, SnapshotId=snapshot_id)["VolumeId"]
    eventually(lambda: volume_state(friend, theirs)[0] == "available", "shared restore", 120)
    with volume_file(server, theirs).open("rb") as data:
        assert data.read(4 * MIB) == PATTERN
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                  OperationType="remove", UserIds=[friend_creds.account_id])
    assert_refused(refusal(lambda: friend.create_volume(AvailabilityZone=zone,
                                                        SnapshotId=snapshot_id)),
                   "InvalidSnapshot.NotFound")

    ec2.terminate_instances(InstanceIds=[instance_id])
    eventually(lambda: state_of(ec2, instance_id) == "terminated", "terminated")
