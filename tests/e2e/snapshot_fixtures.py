"""What the snapshot tests share: volumes with known bytes, waiting for a snapshot, and reading
a snapshot back out of the server's object store."""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

from controller import ids
from controller.db.engine import transaction
from controller.db.models import Image, Volume
from controller.ec2.snapshot_parts import BucketParts
from storage.objects import BlobStore
from storage.snapshots import Manifest, restore
from tests.conftest import Server

MIB = 1 << 20
GIB = 1 << 30
ZONE = "us-east-1a"


def _sessions(server: Server) -> Any:
    if server._db is None:
        server.new_account()  # opens the harness's connection to the server's database
    return server._db[1]


def volume_file(server: Server, volume_id: str) -> Path:
    from controller.db.models import Volume

    with _sessions(server)() as session:
        location = session.get_one(Volume, volume_id).location
    assert location
    return Path(location)


def wait_volume(ec2: Any, volume_id: str, state: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        volume: dict[str, Any] = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
        if volume["State"] == state:
            return volume
        assert volume["State"] == "creating" and time.monotonic() < deadline, volume
        time.sleep(0.05)


def make_volume(server: Server, ec2: Any, *, size_gib: int = 1, data_mib: int = 8,
                seed: int = 0) -> tuple[str, Path]:
    """A new volume (CreateVolume) whose sparse file then gets ``data_mib`` MiB of random
    bytes in scattered runs, written straight into it as a guest would."""
    volume_id = ec2.create_volume(AvailabilityZone=ZONE, Size=size_gib)["VolumeId"]
    wait_volume(ec2, volume_id, "available")
    path = volume_file(server, volume_id)
    rnd = random.Random(seed)
    with path.open("r+b") as out:
        for _ in range(data_mib):
            out.seek(rnd.randrange(0, size_gib * GIB // MIB - 1) * MIB + rnd.randrange(4096))
            out.write(rnd.randbytes(MIB))
    return volume_id, path


def volume_row(server: Server, account_id: str, state: str) -> str:
    """A volume row in a state the API passes through too fast to catch (``creating``)."""
    volume_id = ids.new_resource_id("vol")
    with transaction(_sessions(server)) as session:
        session.add(Volume(id=volume_id, account_id=account_id, size_gib=1, state=state,
                           availability_zone=ZONE, host="elsewhere"))
    return volume_id


def register_image_using(server: Server, account_id: str, snapshot_id: str) -> str:
    """An EBS-backed image row whose root device maps ``snapshot_id`` (as RegisterImage with
    a block device mapping will store it)."""
    image_id = ids.new_resource_id("ami")
    mappings = json.dumps([{"DeviceName": "/dev/sda1", "Ebs": {
        "SnapshotId": snapshot_id, "VolumeSize": 1, "DeleteOnTermination": True,
        "VolumeType": "gp2"}}])
    with transaction(_sessions(server)) as session:
        session.add(Image(id=image_id, account_id=account_id, name=f"ebs-{image_id}",
                          image_type="machine", state="available", architecture="x86_64",
                          root_device_type="ebs", root_device_name="/dev/sda1",
                          virtualization_type="paravirtual", block_device_mappings=mappings,
                          image_location=f"{account_id}/ebs-{image_id}", manifest="{}"))
    return image_id


def wait_snapshot(ec2: Any, snapshot_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        snap = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
        if snap["State"] != "pending":
            return dict(snap)
        assert time.monotonic() < deadline, snap
        time.sleep(0.2)


def stored_manifest(server: Server, snapshot_id: str) -> Manifest:
    from controller.db.models import Snapshot

    with _sessions(server)() as session:
        row = session.get(Snapshot, snapshot_id)
        assert row is not None and row.manifest
        return Manifest.from_json(row.manifest)


def system_keys(server: Server, prefix: str) -> list[str]:
    return BucketParts(_sessions(server), BlobStore(server.data_dir / "objects")).keys_under(
        prefix)


def restore_digest(server: Server, snapshot_id: str, target: Path,
                   size: int | None = None) -> str:
    """Restore the snapshot from the server's object store into ``target``; its SHA-256."""
    parts = BucketParts(_sessions(server), BlobStore(server.data_dir / "objects"))
    restore(stored_manifest(server, snapshot_id), parts, target, size=size)
    return file_digest(target)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()

