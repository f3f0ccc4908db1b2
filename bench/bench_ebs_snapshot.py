"""EBS snapshot and restore throughput for a 1 GiB volume holding 256 MiB of random data,
next to the plain way of doing the same: ``qemu-img convert`` to a compressed qcow2 and an
upload of that file to Ironbark's S3 (and back: download and convert to raw), in one run.

Run by hand: ``.venv/bin/python bench/bench_ebs_snapshot.py [--data-mib 256] [--size-gib 1]``.
The server (``ironbark up``) is pinned to CPU 0; the client and ``qemu-img`` are not pinned.

- *snapshot*: CreateSnapshot through boto3, timed until DescribeSnapshots says ``completed``
  (the server's snapshot job reads the volume file, skips holes and zero blocks, compresses
  with zstd and stores 4 MiB parts in the object store);
- *incremental*: the same after changing 1 MiB of the volume;
- *restore*: the snapshot's parts read back from the object store into a new sparse raw file
  (the engine's ``restore``, in the client process);
- *CreateVolume*: CreateVolume with the SnapshotId, timed until DescribeVolumes says
  ``available`` (the server's volume reconciler, polling every 50 ms here, restores it);
- *qemu-img + S3*: ``qemu-img convert -c -O qcow2`` then a boto3 ``upload_file``
  (multipart, 8 MiB parts); its restore is ``download_file`` then ``qemu-img convert -O raw``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import Ironbark, ironbark_server

MIB = 1 << 20


def make_volume(path: Path, size_gib: int, data_mib: int, seed: int = 7) -> None:
    """Random bytes in 4 MiB runs at distinct random 4 MiB-aligned offsets; the rest holes."""
    rnd = random.Random(seed)
    slots = rnd.sample(range(size_gib * 256), data_mib // 4)
    with path.open("wb") as out:
        out.truncate(size_gib * 1024 * MIB)
        for slot in slots:
            out.seek(slot * 4 * MIB)
            out.write(rnd.randbytes(4 * MIB))


def timed(fn: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - started


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True)


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(8 * MIB):
            h.update(chunk)
    return h.hexdigest()


def volume_path(server: Ironbark, volume_id: str) -> Path:
    from controller.db.engine import make_engine, make_session_factory
    from controller.db.models import Volume

    engine = make_engine(f"sqlite:///{server.data_dir / 'ironbark.db'}")
    with make_session_factory(engine)() as session:
        location = session.get_one(Volume, volume_id).location
    engine.dispose()
    assert location
    return Path(location)


def wait_available(ec2: Any, volume_id: str) -> None:
    while True:
        state = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"]
        if state == "available":
            return
        assert state == "creating", state
        time.sleep(0.02)


def new_volume(server: Ironbark, ec2: Any, size_gib: int, data_mib: int) -> tuple[str, Path]:
    """CreateVolume, then the test data written into its sparse file."""
    volume_id = ec2.create_volume(AvailabilityZone="us-east-1a", Size=size_gib)["VolumeId"]
    wait_available(ec2, volume_id)
    path = volume_path(server, volume_id)
    make_volume(path, size_gib, data_mib)
    return volume_id, path


def volume_from_snapshot(server: Ironbark, ec2: Any, snapshot_id: str) -> Path:
    volume_id = ec2.create_volume(AvailabilityZone="us-east-1a",
                                  SnapshotId=snapshot_id)["VolumeId"]
    wait_available(ec2, volume_id)
    return volume_path(server, volume_id)


def snapshot(ec2: Any, volume_id: str) -> tuple[str, float]:
    started = time.perf_counter()
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"]
    while True:
        snap = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
        if snap["State"] != "pending":
            break
        time.sleep(0.02)
    assert snap["State"] == "completed", snap
    return snapshot_id, time.perf_counter() - started


def restore_snapshot(server: Ironbark, snapshot_id: str, target: Path) -> None:
    from controller.db.engine import make_engine, make_session_factory
    from controller.db.models import Snapshot
    from controller.ec2.snapshot_parts import BucketParts
    from storage.objects import BlobStore
    from storage.snapshots import Manifest, restore

    engine = make_engine(f"sqlite:///{server.data_dir / 'ironbark.db'}")
    sessions = make_session_factory(engine)
    with sessions() as session:
        manifest = Manifest.from_json(session.get_one(Snapshot, snapshot_id).manifest or "")
    restore(manifest, BucketParts(sessions, BlobStore(server.data_dir / "objects")), target)
    engine.dispose()


def stored_bytes(ec2: object, snapshot_id: str, server: Ironbark) -> int:
    """Bytes of the parts this snapshot stored itself (not those it shares with its base)."""
    from controller.db.engine import make_engine, make_session_factory
    from controller.db.models import Snapshot
    from storage.snapshots import Manifest

    engine = make_engine(f"sqlite:///{server.data_dir / 'ironbark.db'}")
    with make_session_factory(engine)() as session:
        manifest = Manifest.from_json(session.get_one(Snapshot, snapshot_id).manifest or "")
    engine.dispose()
    return sum(p.stored for p in manifest.parts if p.key.startswith(f"{snapshot_id}/"))


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def measure(server: Ironbark, size_gib: int, data_mib: int, tmp: Path,
            repeat: int) -> dict[str, tuple[float, int | None]]:
    """Median seconds (and stored bytes) of each step over ``repeat`` runs."""
    config = Config(retries={"max_attempts": 1})
    common = {"region_name": "us-east-1", "endpoint_url": server.endpoint,
              "aws_access_key_id": server.access_key_id,
              "aws_secret_access_key": server.secret_access_key, "config": config}
    ec2 = boto3.client("ec2", **common)
    s3 = boto3.client("s3", **common)
    s3.create_bucket(Bucket="bench-images")
    transfer = TransferConfig(multipart_chunksize=8 * MIB)
    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}

    def note(name: str, seconds: float, size: int | None = None) -> None:
        times.setdefault(name, []).append(seconds)
        if size is not None:
            sizes[name] = size

    for run in range(repeat):
        volume_id, volume = new_volume(server, ec2, size_gib, data_mib)  # a full snapshot
        want = digest(volume)
        snapshot_id, seconds = snapshot(ec2, volume_id)
        stored = stored_bytes(ec2, snapshot_id, server)
        note("snapshot", seconds, stored)
        restored = tmp / "restored.raw"
        note("restore", timed(restore_snapshot, server, snapshot_id, restored))
        assert digest(restored) == want, "the restored volume differs"
        restored.unlink()
        started = time.perf_counter()
        made = volume_from_snapshot(server, ec2, snapshot_id)
        note("create volume", time.perf_counter() - started)
        assert digest(made) == want, "the volume made from the snapshot differs"
        with volume.open("r+b") as out:  # 1 MiB changes, then a snapshot of the same volume
            out.seek(MIB * 3)
            out.write(random.randbytes(MIB))
        incremental_id, seconds = snapshot(ec2, volume_id)
        note("incremental", seconds, stored_bytes(ec2, incremental_id, server))
        qcow = tmp / "volume.qcow2"
        seconds = timed(qemu_img, "convert", "-c", "-O", "qcow2", str(volume), str(qcow))
        note("convert", seconds, qcow.stat().st_size)
        key = f"volume-{run}.qcow2"
        note("upload", timed(s3.upload_file, str(qcow), "bench-images", key, Config=transfer))
        downloaded, back = tmp / "downloaded.qcow2", tmp / "back.raw"
        note("download", timed(s3.download_file, "bench-images", key, str(downloaded),
                               Config=transfer))
        note("to raw", timed(qemu_img, "convert", "-O", "raw", str(downloaded), str(back)))
        for path in (qcow, downloaded, back):
            path.unlink()
    return {name: (median(values), sizes.get(name)) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=int, default=1)
    parser.add_argument("--data-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ebs-", dir="/var/tmp") as tmp_name:
        tmp = Path(tmp_name)
        with ironbark_server(tmp / "data", {"IRONBARK_VOLUME_RECONCILE_SECONDS": "0.05"}) \
                as server:
            got = measure(server, args.size_gib, args.data_mib, tmp, args.repeat)
    data = args.data_mib
    print(f"volume: {args.size_gib} GiB, {data} MiB of random data in 4 MiB runs; "
          f"median of {args.repeat}")
    print(f"{'':36}{'seconds':>9}{'MiB data/s':>12}{'stored MiB':>12}")
    rows = [
        ("ironbark CreateSnapshot → completed", *got["snapshot"]),
        ("ironbark incremental (1 MiB changed)", *got["incremental"]),
        ("ironbark restore (new sparse file)", got["restore"][0], None),
        ("CreateVolume(SnapshotId) → available", got["create volume"][0], None),
        ("qemu-img convert -c -O qcow2", *got["convert"]),
        ("S3 upload_file of the qcow2", got["upload"][0], None),
        ("= qemu-img + upload", got["convert"][0] + got["upload"][0], got["convert"][1]),
        ("S3 download_file", got["download"][0], None),
        ("qemu-img convert -O raw", got["to raw"][0], None),
        ("= download + qemu-img", got["download"][0] + got["to raw"][0], None),
    ]
    for name, seconds, size in rows:
        stored_text = f"{size / MIB:12.1f}" if size is not None else f"{'':12}"
        print(f"{name:36}{seconds:9.2f}{data / seconds:12.1f}{stored_text}")


if __name__ == "__main__":
    main()
