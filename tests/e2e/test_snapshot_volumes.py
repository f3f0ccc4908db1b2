"""Volumes from snapshots end to end (boto3, the AWS CLI, boto 2): CreateVolume with a
SnapshotId stays ``creating`` until the snapshot is restored into the new volume's file, then
``available`` with the snapshot's bytes; the size defaults to the snapshot's and may not be
smaller; a snapshot shared with another account can be used by it, and no longer once
unshared."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from controller.identity.service import Credentials
from tests.conftest import AwsCli, Server
from tests.e2e.refusals import assert_refused, refusal
from tests.e2e.snapshot_fixtures import (
    MIB,
    ZONE,
    file_digest,
    volume_file,
    wait_snapshot,
    wait_volume,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from boto.ec2.connection import EC2Connection



def written_volume(server: Server, ec2: Any) -> tuple[str, str]:
    """A new 1 GiB volume with 3 MiB of random bytes in its file; its id and digest."""
    volume_id = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    wait_volume(ec2, volume_id, "available")
    path = volume_file(server, volume_id)
    with path.open("r+b") as out:
        for offset in (0, 100 * MIB, 1023 * MIB):
            out.seek(offset)
            out.write(os.urandom(MIB))
    return volume_id, file_digest(path)


def test_create_volume_from_a_snapshot(server: Server, ec2: Any, account: Credentials) -> None:
    source, digest = written_volume(server, ec2)
    snapshot_id = wait_snapshot(ec2, ec2.create_snapshot(VolumeId=source)["SnapshotId"])[
        "SnapshotId"]
    created = ec2.create_volume(AvailabilityZone=ZONE, SnapshotId=snapshot_id)
    assert created["SnapshotId"] == snapshot_id and created["Size"] == 1
    assert created["State"] == "creating"
    wait_volume(ec2, created["VolumeId"], "available")
    assert file_digest(volume_file(server, created["VolumeId"])) == digest
    bigger = ec2.create_volume(AvailabilityZone=ZONE, SnapshotId=snapshot_id, Size=2)
    assert wait_volume(ec2, bigger["VolumeId"], "available")["Size"] == 2
    path = volume_file(server, bigger["VolumeId"])
    assert path.stat().st_size == 2 << 30 or path.suffix == ".qcow2"
    assert_refused(refusal(lambda: ec2.create_volume(AvailabilityZone=ZONE, Size=0,
                                                     SnapshotId=snapshot_id)),
                   "InvalidParameterValue")
    assert_refused(refusal(lambda: ec2.create_volume(
        AvailabilityZone=ZONE, SnapshotId="snap-0123456789abcdef0")), "InvalidSnapshot.NotFound")
    from_volume = ec2.describe_volumes(Filters=[{"Name": "snapshot-id",
                                                 "Values": [snapshot_id]}])["Volumes"]
    assert {v["VolumeId"] for v in from_volume} == {created["VolumeId"], bigger["VolumeId"]}


def test_shared_snapshot_makes_volumes_for_the_other_account_until_unshared(
        server: Server, ec2: Any, make_ec2: Callable[..., Any]) -> None:
    source, digest = written_volume(server, ec2)
    snapshot_id = wait_snapshot(ec2, ec2.create_snapshot(VolumeId=source)["SnapshotId"])[
        "SnapshotId"]
    friend_creds = server.new_account()
    friend = make_ec2(friend_creds)
    assert_refused(refusal(lambda: friend.create_volume(AvailabilityZone=ZONE,
                                                        SnapshotId=snapshot_id)),
                   "InvalidSnapshot.NotFound")
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                  OperationType="add", UserIds=[friend_creds.account_id])
    theirs = friend.create_volume(AvailabilityZone=ZONE, SnapshotId=snapshot_id)["VolumeId"]
    wait_volume(friend, theirs, "available")
    assert file_digest(volume_file(server, theirs)) == digest
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, CreateVolumePermission={
        "Remove": [{"UserId": friend_creds.account_id}]})
    assert_refused(refusal(lambda: friend.create_volume(AvailabilityZone=ZONE,
                                                        SnapshotId=snapshot_id)),
                   "InvalidSnapshot.NotFound")
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                  OperationType="add", GroupNames=["all"])
    public = friend.create_volume(AvailabilityZone=ZONE, SnapshotId=snapshot_id)["VolumeId"]
    wait_volume(friend, public, "available")


def test_aws_cli_and_boto2(server: Server, ec2: Any, account: Credentials, clients: Any,
                           make_boto2: Callable[..., EC2Connection]) -> None:
    source, digest = written_volume(server, ec2)
    conn = make_boto2(account)
    snap = conn.create_snapshot(source, "boto 2")  # reads the volume's Name tag too
    wait_snapshot(ec2, snap.id)
    volume = conn.create_volume(None, ZONE, snapshot=snap.id)
    assert volume.snapshot_id == snap.id
    wait_volume(ec2, volume.id, "available")
    assert file_digest(volume_file(server, volume.id)) == digest
    aws: AwsCli = clients.aws(account)
    created = aws("ec2", "create-volume", "--availability-zone", ZONE, "--snapshot-id", snap.id)
    wait_volume(ec2, created["VolumeId"], "available")
    assert file_digest(volume_file(server, created["VolumeId"])) == digest
