"""EBS snapshots end to end with boto3: CreateSnapshot (pending → completed, the bytes really
in the object store's system bucket), DescribeSnapshots (ids, owners, restorable-by, filters,
pages), DeleteSnapshot (in use by an image, parts released), CopySnapshot, and refusals."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import Server
from tests.e2e.refusals import assert_refused, refusal
from tests.e2e.snapshot_fixtures import (
    GIB,
    file_digest,
    make_volume,
    register_image_using,
    restore_digest,
    stored_manifest,
    system_keys,
    volume_row,
    wait_snapshot,
)

SNAP = re.compile(r"snap-[0-9a-f]{17}")
TAGS = [{"ResourceType": "snapshot", "Tags": [{"Key": "team", "Value": "blue"}]}]


def test_create_snapshot_completes_and_restores_the_same_bytes(
        server: Server, ec2: Any, account: Credentials, tmp_path: Path) -> None:
    volume_id, path = make_volume(server, ec2, data_mib=24, seed=1)
    created = ec2.create_snapshot(VolumeId=volume_id, Description="nightly",
                                  TagSpecifications=TAGS)
    assert SNAP.fullmatch(created["SnapshotId"])
    assert created["State"] == "pending" and created["VolumeId"] == volume_id
    assert created["VolumeSize"] == 1 and created["OwnerId"] == account.account_id
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]
    snap = wait_snapshot(ec2, created["SnapshotId"])
    assert snap["State"] == "completed" and snap["Progress"] == "100%", snap
    assert snap["Description"] == "nightly" and snap["Encrypted"] is False
    manifest = stored_manifest(server, snap["SnapshotId"])
    assert manifest.volume_size == GIB
    assert 24 <= len(manifest.parts) <= 48  # only the blocks holding data
    assert set(system_keys(server, f"{snap['SnapshotId']}/")) == manifest.keys()
    restored = tmp_path / "restored.raw"
    assert restore_digest(server, snap["SnapshotId"], restored) == file_digest(path)


def test_the_system_bucket_is_invisible_to_clients(server: Server, s3: Any, ec2: Any,
                                                   account: Credentials) -> None:
    volume_id, _ = make_volume(server, ec2, data_mib=1)
    wait_snapshot(ec2, ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"])
    assert "ironbark_snapshots" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as raised:
        s3.list_objects_v2(Bucket="ironbark_snapshots")
    assert raised.value.response["Error"]["Code"] == "AccessDenied", raised.value.response
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket="ironbark_snapshots")
    assert raised.value.response["Error"]["Code"] == "InvalidBucketName"


def test_describe_snapshots_filters_owners_and_pages(server: Server, ec2: Any,
                                                     account: Credentials) -> None:
    volume_id, _ = make_volume(server, ec2, data_mib=1, seed=2)
    other_volume, _ = make_volume(server, ec2, data_mib=1, seed=3)
    ids = [ec2.create_snapshot(VolumeId=volume_id, Description=f"d-{n}",
                               TagSpecifications=TAGS if n == 0 else [])["SnapshotId"]
           for n in range(6)]
    ids.append(ec2.create_snapshot(VolumeId=other_volume, Description="other")["SnapshotId"])
    for snapshot_id in ids:
        wait_snapshot(ec2, snapshot_id)

    def found(**kwargs: Any) -> set[str]:
        return {s["SnapshotId"] for s in ec2.describe_snapshots(**kwargs)["Snapshots"]}

    assert set(ids) <= found(OwnerIds=["self"])
    assert found(Filters=[{"Name": "volume-id", "Values": [other_volume]}]) == {ids[-1]}
    assert found(Filters=[{"Name": "description", "Values": ["d-*"]},
                          {"Name": "status", "Values": ["completed"]}]) == set(ids[:6])
    assert found(Filters=[{"Name": "tag:team", "Values": ["blue"]}]) == {ids[0]}
    assert found(Filters=[{"Name": "tag-key", "Values": ["team"]}]) == {ids[0]}
    assert found(Filters=[{"Name": "progress", "Values": ["100%"]},
                          {"Name": "volume-size", "Values": ["1"]},
                          {"Name": "owner-id", "Values": [account.account_id]},
                          {"Name": "snapshot-id", "Values": ids[:2]}]) == set(ids[:2])
    assert found(Filters=[{"Name": "start-time", "Values": ["20*"]}]) >= set(ids)
    assert found(SnapshotIds=ids[2:4]) == set(ids[2:4])
    assert found(RestorableByUserIds=["self"]) >= set(ids)
    assert found(RestorableByUserIds=["all"]) & set(ids) == set()
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = ec2.describe_snapshots(OwnerIds=["self"], MaxResults=5, **token)
        assert len(page["Snapshots"]) <= 5
        seen += [s["SnapshotId"] for s in page["Snapshots"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert sorted(seen) == sorted(set(seen)) and set(ids) <= set(seen)


def test_describe_refusals(ec2: Any) -> None:
    assert_refused(refusal(lambda: ec2.describe_snapshots(
        SnapshotIds=["snap-0123456789abcdef0"])), "InvalidSnapshot.NotFound")
    assert_refused(refusal(lambda: ec2.describe_snapshots(SnapshotIds=["nope"])),
                   "InvalidSnapshotID.Malformed")
    assert_refused(refusal(lambda: ec2.describe_snapshots(
        Filters=[{"Name": "colour", "Values": ["x"]}])), "InvalidParameterValue")
    assert_refused(refusal(lambda: ec2.describe_snapshots(MaxResults=2)),
                   "InvalidParameterValue")
    assert_refused(refusal(lambda: ec2.describe_snapshots(OwnerIds=["bob"])),
                   "InvalidUserID.Malformed")


def test_create_snapshot_refusals(server: Server, ec2: Any, make_ec2: Callable[..., Any],
                                  account: Credentials) -> None:
    assert_refused(refusal(lambda: ec2.create_snapshot(VolumeId="vol-0123456789abcdef0")),
                   "InvalidVolume.NotFound")
    assert_refused(refusal(lambda: ec2.create_snapshot(VolumeId="volume")),
                   "InvalidVolumeID.Malformed")
    creating = volume_row(server, account.account_id, "creating")
    assert_refused(refusal(lambda: ec2.create_snapshot(VolumeId=creating)), "IncorrectState")
    volume_id, _ = make_volume(server, ec2, data_mib=0)
    stranger = make_ec2(server.new_account())
    assert_refused(refusal(lambda: stranger.create_snapshot(VolumeId=volume_id)),
                   "InvalidVolume.NotFound")
    assert_refused(refusal(lambda: ec2.create_snapshot(VolumeId=volume_id,
                                                       Description="x" * 256)),
                   "InvalidParameterValue")
    assert_refused(refusal(lambda: ec2.create_snapshot(
        VolumeId=volume_id, TagSpecifications=[{"ResourceType": "volume", "Tags": []}])),
        "InvalidParameterValue")


def test_delete_snapshot_in_use_by_an_image_then_released(
        server: Server, ec2: Any, account: Credentials) -> None:
    volume_id, _ = make_volume(server, ec2, data_mib=2, seed=4)
    snapshot_id = wait_snapshot(ec2, ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"])[
        "SnapshotId"]
    image_id = register_image_using(server, account.account_id, snapshot_id)
    refused = refusal(lambda: ec2.delete_snapshot(SnapshotId=snapshot_id))
    assert_refused(refused, "InvalidSnapshot.InUse")
    assert image_id in refused.message
    ec2.deregister_image(ImageId=image_id)
    assert system_keys(server, f"{snapshot_id}/")
    ec2.delete_snapshot(SnapshotId=snapshot_id)
    assert system_keys(server, f"{snapshot_id}/") == []
    assert_refused(refusal(lambda: ec2.delete_snapshot(SnapshotId=snapshot_id)),
                   "InvalidSnapshot.NotFound")


def test_incremental_snapshot_shares_parts_and_survives_deleting_the_first(
        server: Server, ec2: Any, account: Credentials, tmp_path: Path) -> None:
    volume_id, path = make_volume(server, ec2, data_mib=16, seed=5)
    first = wait_snapshot(ec2, ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"])
    with path.open("r+b") as out:
        out.seek(0)
        out.write(b"changed after the first snapshot")
    second = wait_snapshot(ec2, ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"])
    one = stored_manifest(server, first["SnapshotId"])
    two = stored_manifest(server, second["SnapshotId"])
    own = [p for p in two.parts if p.key.startswith(second["SnapshotId"])]
    assert len(own) == 1 and own[0].offset == 0  # only the changed block was stored again
    assert len(two.keys() & one.keys()) == len(two.parts) - 1
    ec2.delete_snapshot(SnapshotId=first["SnapshotId"])
    kept = system_keys(server, f"{first['SnapshotId']}/")
    assert kept and set(kept) <= two.keys()  # parts the second one uses stay
    assert restore_digest(server, second["SnapshotId"], tmp_path / "r.raw") == file_digest(path)


def test_copy_snapshot(server: Server, ec2: Any, account: Credentials, tmp_path: Path) -> None:
    volume_id, path = make_volume(server, ec2, data_mib=4, seed=6)
    source = wait_snapshot(ec2, ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"])
    assert_refused(refusal(lambda: ec2.copy_snapshot(SourceRegion="eu-west-1",
                                                     SourceSnapshotId=source["SnapshotId"])),
                   "InvalidParameterValue")
    assert_refused(refusal(lambda: ec2.copy_snapshot(
        SourceRegion="us-east-1", SourceSnapshotId="snap-0123456789abcdef0")),
        "InvalidSnapshot.NotFound")
    copied = ec2.copy_snapshot(SourceRegion="us-east-1", SourceSnapshotId=source["SnapshotId"],
                               Description="the copy", TagSpecifications=TAGS)
    assert copied["SnapshotId"] != source["SnapshotId"]
    snap = wait_snapshot(ec2, copied["SnapshotId"])
    assert snap["State"] == "completed" and snap["Description"] == "the copy"
    assert snap["VolumeId"] == "vol-ffffffff" and snap["VolumeSize"] == 1
    assert snap["Tags"] == [{"Key": "team", "Value": "blue"}]
    copy_keys = stored_manifest(server, snap["SnapshotId"]).keys()
    assert copy_keys.isdisjoint(stored_manifest(server, source["SnapshotId"]).keys())
    ec2.delete_snapshot(SnapshotId=source["SnapshotId"])
    assert restore_digest(server, snap["SnapshotId"], tmp_path / "c.raw") == file_digest(path)
    default = wait_snapshot(ec2, ec2.copy_snapshot(
        SourceRegion="us-east-1", SourceSnapshotId=snap["SnapshotId"])["SnapshotId"])
    assert default["Description"] == f"[Copied {snap['SnapshotId']} from us-east-1]"


def test_create_tags_on_a_snapshot(server: Server, ec2: Any, account: Credentials) -> None:
    volume_id, _ = make_volume(server, ec2, data_mib=0)
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"]
    ec2.create_tags(Resources=[snapshot_id], Tags=[{"Key": "k", "Value": "v"}])
    snap = wait_snapshot(ec2, snapshot_id)
    assert snap["Tags"] == [{"Key": "k", "Value": "v"}] and snap["State"] == "completed"
