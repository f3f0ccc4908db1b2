"""Sharing snapshots (createVolumePermission) with boto3, the AWS CLI and boto 2: a second
account sees a snapshot once shared and no longer once unshared; Group=all makes it public;
only the owner reads or changes the permissions."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from controller.identity.service import Credentials
from tests.conftest import AwsCli, Server
from tests.e2e.refusals import assert_refused, refusal
from tests.e2e.snapshot_fixtures import make_volume, wait_snapshot

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from boto.ec2.connection import EC2Connection


def _completed(server: Server, ec2: Any, account: Credentials, description: str = "") -> str:
    volume_id, _ = make_volume(server, ec2, data_mib=1)
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id, Description=description)["SnapshotId"]
    return str(wait_snapshot(ec2, snapshot_id)["SnapshotId"])


def test_share_with_an_account_then_unshare_boto3(
        server: Server, ec2: Any, account: Credentials, make_ec2: Callable[..., Any]) -> None:
    snapshot_id = _completed(server, ec2, account)
    friend_creds = server.new_account()
    friend = make_ec2(friend_creds)
    assert_refused(refusal(lambda: friend.describe_snapshots(SnapshotIds=[snapshot_id])),
                   "InvalidSnapshot.NotFound")
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                  OperationType="add", UserIds=[friend_creds.account_id])
    permissions = ec2.describe_snapshot_attribute(SnapshotId=snapshot_id,
                                                  Attribute="createVolumePermission")
    assert permissions["CreateVolumePermissions"] == [{"UserId": friend_creds.account_id}]
    seen = friend.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    assert seen[0]["OwnerId"] == account.account_id
    shared = friend.describe_snapshots(RestorableByUserIds=["self"])["Snapshots"]
    assert [s["SnapshotId"] for s in shared] == [snapshot_id]
    assert friend.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    third = server.new_account()
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                  OperationType="add", UserIds=[third.account_id])
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(
        RestorableByUserIds=[third.account_id])["Snapshots"]] == [snapshot_id]
    # whom the owner shares with is not the friend's business
    assert friend.describe_snapshots(RestorableByUserIds=[third.account_id])["Snapshots"] == []
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                  OperationType="remove", UserIds=[third.account_id])
    assert [s["SnapshotId"] for s in friend.describe_snapshots(
        OwnerIds=[account.account_id])["Snapshots"]] == [snapshot_id]
    assert_refused(refusal(lambda: friend.describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission")), "AuthFailure", 401)
    assert_refused(refusal(lambda: friend.delete_snapshot(SnapshotId=snapshot_id)),
                   "AuthFailure", 401)
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, CreateVolumePermission={
        "Remove": [{"UserId": friend_creds.account_id}]})
    assert_refused(refusal(lambda: friend.describe_snapshots(SnapshotIds=[snapshot_id])),
                   "InvalidSnapshot.NotFound")
    assert friend.describe_snapshots(RestorableByUserIds=["self"])["Snapshots"] == []


def test_public_snapshot_and_reset_boto3(server: Server, ec2: Any, account: Credentials,
                                         make_ec2: Callable[..., Any]) -> None:
    snapshot_id = _completed(server, ec2, account)
    stranger = make_ec2(server.new_account())
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                  OperationType="add", GroupNames=["all"])
    assert ec2.describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission"
    )["CreateVolumePermissions"] == [{"Group": "all"}]
    public = stranger.describe_snapshots(RestorableByUserIds=["all"])["Snapshots"]
    assert snapshot_id in [s["SnapshotId"] for s in public]
    assert stranger.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    ec2.reset_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    assert ec2.describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission"
    )["CreateVolumePermissions"] == []
    assert_refused(refusal(lambda: stranger.describe_snapshots(SnapshotIds=[snapshot_id])),
                   "InvalidSnapshot.NotFound")
    assert ec2.describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="productCodes")[
        "ProductCodes"] == []


def test_modify_refusals(server: Server, ec2: Any, account: Credentials) -> None:
    snapshot_id = _completed(server, ec2, account)
    assert_refused(refusal(lambda: ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add",
        UserIds=["not-an-account"])), "InvalidUserID.Malformed")
    assert_refused(refusal(lambda: ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add",
        GroupNames=["everyone"])), "InvalidParameterValue")
    assert_refused(refusal(lambda: ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="productCodes", OperationType="add",
        UserIds=[account.account_id])), "InvalidParameterCombination")
    assert_refused(refusal(lambda: ec2.describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="colour")), "InvalidParameterValue")
    assert_refused(refusal(lambda: ec2.modify_snapshot_attribute(
        SnapshotId="snap-0123456789abcdef0", Attribute="createVolumePermission",
        OperationType="add", GroupNames=["all"])), "InvalidSnapshot.NotFound")


def test_share_and_unshare_with_the_aws_cli(server: Server, ec2: Any, account: Credentials,
                                            clients: Any) -> None:
    aws: AwsCli = clients.aws(account)
    volume_id, _ = make_volume(server, ec2, data_mib=1)
    created = aws("ec2", "create-snapshot", "--volume-id", volume_id, "--description", "cli",
                  "--tag-specifications",
                  "ResourceType=snapshot,Tags=[{Key=made-by,Value=cli}]")
    snapshot_id = created["SnapshotId"]
    assert created["State"] == "pending" and created["Description"] == "cli"
    wait_snapshot(ec2, snapshot_id)
    listed = aws("ec2", "describe-snapshots", "--owner-ids", "self", "--filters",
                 "Name=tag:made-by,Values=cli")["Snapshots"]
    assert [s["SnapshotId"] for s in listed] == [snapshot_id]
    friend_creds = server.new_account()
    friend: AwsCli = clients.aws(friend_creds)
    aws("ec2", "modify-snapshot-attribute", "--snapshot-id", snapshot_id, "--attribute",
        "createVolumePermission", "--operation-type", "add", "--user-ids",
        friend_creds.account_id)
    attribute = aws("ec2", "describe-snapshot-attribute", "--snapshot-id", snapshot_id,
                    "--attribute", "createVolumePermission")
    assert attribute["CreateVolumePermissions"] == [{"UserId": friend_creds.account_id}]
    seen = friend("ec2", "describe-snapshots", "--restorable-by-user-ids", "self")
    assert [s["SnapshotId"] for s in seen["Snapshots"]] == [snapshot_id]
    aws("ec2", "modify-snapshot-attribute", "--snapshot-id", snapshot_id, "--attribute",
        "createVolumePermission", "--operation-type", "remove", "--user-ids",
        friend_creds.account_id)
    assert_refused(refusal(lambda: friend("ec2", "describe-snapshots", "--snapshot-ids",
                                          snapshot_id)), "InvalidSnapshot.NotFound")
    copied = aws("ec2", "copy-snapshot", "--source-region", "us-east-1",
                 "--source-snapshot-id", snapshot_id, "--description", "cli copy")
    assert wait_snapshot(ec2, copied["SnapshotId"])["Description"] == "cli copy"
    aws("ec2", "delete-snapshot", "--snapshot-id", snapshot_id)
    assert_refused(refusal(lambda: aws("ec2", "delete-snapshot", "--snapshot-id",
                                       snapshot_id)), "InvalidSnapshot.NotFound")


def test_share_and_unshare_with_boto2(server: Server, ec2: Any, account: Credentials,
                                      make_boto2: Callable[..., EC2Connection]) -> None:
    conn = make_boto2(account)
    volume_id, _ = make_volume(server, ec2, data_mib=1)
    ec2.create_tags(Resources=[volume_id], Tags=[{"Key": "Name", "Value": "data"}])
    snap = conn.create_snapshot(volume_id, "boto 2")  # copies the volume's Name tag
    assert snap.id.startswith("snap-") and snap.status == "pending"
    wait_snapshot(ec2, snap.id)
    [listed] = conn.get_all_snapshots(snapshot_ids=[snap.id])
    assert listed.tags == {"Name": "data"}
    assert listed.status == "completed" and listed.progress == "100%"
    assert listed.volume_id == volume_id and listed.volume_size == 1
    assert listed.description == "boto 2" and listed.owner_id == account.account_id
    friend_creds = server.new_account()
    friend = make_boto2(friend_creds)
    assert conn.modify_snapshot_attribute(snap.id, attribute="createVolumePermission",
                                          operation="add", user_ids=[friend_creds.account_id])
    attribute = conn.get_snapshot_attribute(snap.id, attribute="createVolumePermission")
    assert attribute.attrs["user_ids"] == [friend_creds.account_id]
    assert [s.id for s in friend.get_all_snapshots(restorable_by="self")] == [snap.id]
    assert conn.modify_snapshot_attribute(snap.id, attribute="createVolumePermission",
                                          operation="remove",
                                          user_ids=[friend_creds.account_id])
    assert friend.get_all_snapshots(restorable_by="self") == []
    assert_refused(refusal(lambda: friend.get_all_snapshots(snapshot_ids=[snap.id])),
                   "InvalidSnapshot.NotFound")
    assert conn.modify_snapshot_attribute(snap.id, groups=["all"])
    assert snap.id in [s.id for s in friend.get_all_snapshots(restorable_by="all")]
    assert conn.reset_snapshot_attribute(snap.id)
    assert friend.get_all_snapshots(restorable_by="all") == []
    copy_id = conn.copy_snapshot("us-east-1", snap.id, "boto 2 copy")
    assert wait_snapshot(ec2, copy_id)["Description"] == "boto 2 copy"
    assert conn.delete_snapshot(snap.id)
    assert [s.id for s in conn.get_all_snapshots(owner="self")] == [copy_id]
