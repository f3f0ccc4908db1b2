"""The snapshot job against a real database (SQLite and PostgreSQL) and blob store: a pass
stores a volume and completes its snapshot; a snapshot whose controller died (lease run out)
ends ``error`` with its parts removed; a snapshot deleted while it is taken leaves nothing; a
vanished volume or an unreadable file ends ``error``; two claimers never take the same one."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from controller import ids
from controller.db.engine import make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.db.models import Instance, Node, Reservation, S3Object, Snapshot, Volume
from controller.db.models import utcnow as _utcnow
from controller.ec2 import errors, snapshot_job
from controller.ec2.snapshot_parts import BUCKET, BucketParts, ensure_bucket, release_parts
from controller.ec2.snapshot_restore import snapshot_restorer, source_snapshot
from controller.ec2.volume_reconciler import Job, materialise
from controller.identity.secretbox import SecretBox
from controller.identity.service import create_account
from nodeagent.api import create_app
from nodeagent.fake import FakeInstances
from storage.objects import BlobStore
from storage.snapshots import Manifest, SnapshotAborted, restore
from storage.volumes import FileBackend, VolumeStorageError

MIB = 1 << 20
BOX = SecretBox(Fernet.generate_key())


@pytest.fixture(scope="module")
def sessions(fresh_engine: Engine) -> sessionmaker[Session]:
    upgrade(fresh_engine)
    factory = make_session_factory(fresh_engine)
    ensure_bucket(factory, "us-east-1")
    ensure_bucket(factory, "us-east-1")  # idempotent
    return factory


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "objects")


def _volume(sessions: sessionmaker[Session], path: Path, data: int = 6) -> str:
    with path.open("wb") as out:
        out.truncate(64 * MIB)
        for n in range(data):
            out.seek(n * 8 * MIB + 100)
            out.write(os.urandom(MIB))
    volume_id = ids.new_resource_id("vol")
    with transaction(sessions) as session:
        account = create_account(session, BOX, f"s{time.time_ns()}").account_id
        session.add(Volume(id=volume_id, account_id=account, size_gib=1, state="available",
                           availability_zone="us-east-1a", location=str(path), format="raw",
                           host="here"))
    return volume_id


def _snapshot(sessions: sessionmaker[Session], volume_id: str) -> str:
    snapshot_id = ids.new_resource_id("snap")
    with transaction(sessions) as session:
        account = session.get_one(Volume, volume_id).account_id
        session.add(Snapshot(id=snapshot_id, account_id=account, volume_id=volume_id,
                             volume_size_gib=1, state="pending", bucket=BUCKET,
                             prefix=f"{snapshot_id}/", start_time=_utcnow()))
    return snapshot_id


def _row(sessions: sessionmaker[Session], snapshot_id: str) -> Snapshot | None:
    with sessions() as session:
        return session.get(Snapshot, snapshot_id)


def _keys(sessions: sessionmaker[Session], snapshot_id: str) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(S3Object.key).where(
            S3Object.bucket == BUCKET, S3Object.key.startswith(f"{snapshot_id}/"))))


def _run(sessions: sessionmaker[Session], blobs: BlobStore, tmp_path: Path) -> str | None:
    async def once() -> str | None:
        async with httpx.AsyncClient() as client:
            return await snapshot_job.run_once(sessions, BOX, blobs, tmp_path / "scratch",
                                               client)

    return asyncio.run(once())


def _drain(sessions: sessionmaker[Session], blobs: BlobStore, tmp_path: Path) -> None:
    while _run(sessions, blobs, tmp_path) is not None:
        pass


def test_a_pass_completes_a_snapshot_that_restores(sessions: sessionmaker[Session],
                                                   blobs: BlobStore, tmp_path: Path) -> None:
    _drain(sessions, blobs, tmp_path)
    path = tmp_path / "vol.raw"
    snapshot_id = _snapshot(sessions, _volume(sessions, path))
    assert _run(sessions, blobs, tmp_path) == "completed"
    row = _row(sessions, snapshot_id)
    assert row is not None and row.state == "completed" and row.progress == 100
    assert row.lease_until is None and row.completed_at is not None and row.manifest
    manifest = Manifest.from_json(row.manifest)
    assert row.stored_bytes == manifest.stored_bytes > 6 * MIB
    assert sorted(_keys(sessions, snapshot_id)) == sorted(manifest.keys())
    restore(manifest, BucketParts(sessions, blobs), tmp_path / "back.raw")
    assert (tmp_path / "back.raw").read_bytes() == path.read_bytes()
    assert _run(sessions, blobs, tmp_path) is None  # nothing left to do


def test_an_interrupted_snapshot_ends_in_error_without_parts(
        sessions: sessionmaker[Session], blobs: BlobStore, tmp_path: Path) -> None:
    _drain(sessions, blobs, tmp_path)
    snapshot_id = _snapshot(sessions, _volume(sessions, tmp_path / "vol.raw"))
    parts = BucketParts(sessions, blobs)
    work = snapshot_job.claim(sessions, BOX, parts)
    assert work is not None and work.snapshot_id == snapshot_id
    # The controller stores some parts, then dies: only the lease is left behind.
    parts.put(f"{snapshot_id}/00000000", b"half")
    parts.put(f"{snapshot_id}/00000001", b"done")
    assert len(_keys(sessions, snapshot_id)) == 2
    assert snapshot_job.claim(sessions, BOX, parts) is None  # the lease still holds
    before = _row(sessions, snapshot_id)
    time.sleep(0.01)
    snapshot_job.renew(sessions, snapshot_id)  # what the working controller does meanwhile
    after = _row(sessions, snapshot_id)
    assert before and after and before.lease_until and after.lease_until
    assert after.lease_until > before.lease_until
    later = datetime.now(UTC) + snapshot_job.LEASE + timedelta(seconds=1)
    assert snapshot_job.claim(sessions, BOX, parts, now=later) is None
    row = _row(sessions, snapshot_id)
    assert row is not None and row.state == "error" and "interrupted" in (row.state_message or "")
    assert _keys(sessions, snapshot_id) == []


def test_deleting_a_pending_snapshot_cancels_it(sessions: sessionmaker[Session],
                                                 blobs: BlobStore, tmp_path: Path) -> None:
    _drain(sessions, blobs, tmp_path)
    snapshot_id = _snapshot(sessions, _volume(sessions, tmp_path / "vol.raw", data=8))
    parts = BucketParts(sessions, blobs)
    work = snapshot_job.claim(sessions, BOX, parts)
    assert work is not None
    parts.put(f"{snapshot_id}/00000000", b"stored before the delete")
    with transaction(sessions) as session:  # what DeleteSnapshot does
        row = session.get_one(Snapshot, snapshot_id)
        release_parts(session, row)
        session.delete(row)
    with pytest.raises(SnapshotAborted):
        snapshot_job.store(work, work.source, work.fmt, parts, sessions, tmp_path)
    assert _keys(sessions, snapshot_id) == []


def test_a_volume_that_vanished_or_cannot_be_read_ends_in_error(
        sessions: sessionmaker[Session], blobs: BlobStore, tmp_path: Path) -> None:
    _drain(sessions, blobs, tmp_path)
    path = tmp_path / "vol.raw"
    volume_id = _volume(sessions, path)
    first = _snapshot(sessions, volume_id)
    path.unlink()
    assert _run(sessions, blobs, tmp_path) == "error"
    row = _row(sessions, first)
    assert row is not None and "does not exist" in (row.state_message or "")
    with transaction(sessions) as session:  # the volume's bytes were deleted
        session.get_one(Volume, volume_id).location = None
    second = _snapshot(sessions, volume_id)
    assert _run(sessions, blobs, tmp_path) == "error"
    row = _row(sessions, second)
    assert row is not None and "gone" in (row.state_message or "")
    assert _keys(sessions, first) == [] and _keys(sessions, second) == []


def test_two_claimers_never_take_the_same_snapshot(sessions: sessionmaker[Session],
                                                   blobs: BlobStore, tmp_path: Path) -> None:
    _drain(sessions, blobs, tmp_path)
    volume_id = _volume(sessions, tmp_path / "vol.raw", data=1)
    wanted = {_snapshot(sessions, volume_id) for _ in range(3)}
    parts = BucketParts(sessions, blobs)
    elsewhere = [snapshot_job.claim(sessions, BOX, parts, host="another-storage-host")]
    assert elsewhere == [None]  # not this controller's volume
    claimed = [snapshot_job.claim(sessions, BOX, parts, host="here")]
    claimed += [snapshot_job.claim(sessions, BOX, parts) for _ in range(3)]
    taken = [w.snapshot_id for w in claimed if w is not None]
    assert sorted(taken) == sorted(wanted) and claimed[-1] is None


def _attached_to_a_fake_node(sessions: sessionmaker[Session], volume_id: str,
                             path: Path) -> FakeInstances:
    """The volume attached to a running instance on a fake node agent (in process)."""
    from nodeagent.volumes import VolumeAttachment

    instance_id = ids.new_resource_id("i")
    with transaction(sessions) as session:
        volume = session.get_one(Volume, volume_id)
        node = Node(id=ids.new_resource_id("node"), name=f"n{time.time_ns()}",
                    endpoint="http://fake-node", hypervisor="qemu", vcpus=2, memory_mib=1024,
                    disk_gib=10, max_instances=4, credential_hash="x",
                    api_token_encrypted=BOX.seal("fake-token"))
        session.add(node)
        reservation = Reservation(id=ids.new_resource_id("r"), account_id=volume.account_id,
                                  requester_id=volume.account_id)
        session.add(reservation)
        session.flush()
        session.add(Instance(id=instance_id, account_id=volume.account_id,
                             reservation_id=reservation.id, launch_index=0,
                             image_id="ami-12345678", instance_type="t2.micro", vcpus=1,
                             memory_mib=128, disk_gib=1, architecture="x86_64",
                             root_device_type="instance-store", state="running",
                             availability_zone="us-east-1a", node_id=node.id,
                             mac="52:54:00:00:00:01"))
        volume.instance_id, volume.attach_state, volume.device = instance_id, "attached", "/dev/sdf"
    fake = FakeInstances()
    fake.specs[instance_id] = None  # type: ignore[assignment]  # known to the fake, not booted
    fake.states[instance_id] = "running"
    fake.attached[instance_id] = [VolumeAttachment(volume_id, "/dev/sdf", str(path))]
    return fake


def test_an_attached_volume_is_copied_by_its_node(sessions: sessionmaker[Session],
                                                  blobs: BlobStore, tmp_path: Path) -> None:
    _drain(sessions, blobs, tmp_path)
    path = tmp_path / "vol.raw"
    volume_id = _volume(sessions, path)
    fake = _attached_to_a_fake_node(sessions, volume_id, path)
    snapshot_id = _snapshot(sessions, volume_id)
    asked: list[str] = []
    app = create_app(fake, "fake-token", capacity=dict)

    @app.middleware("http")
    async def record(request: Any, call_next: Any) -> Any:
        asked.append(f"{request.method} {request.url.path}")
        return await call_next(request)

    async def once() -> str | None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport) as client:
            return await snapshot_job.run_once(sessions, BOX, blobs, tmp_path / "s", client)

    assert asyncio.run(once()) == "completed"
    instance_id = next(iter(fake.attached))
    backup = f"/v1/instances/{instance_id}/volumes/{volume_id}/backups/{snapshot_id}"
    assert asked == [f"POST {backup}", f"DELETE {backup}"]
    row = _row(sessions, snapshot_id)
    assert row is not None and row.manifest
    restore(Manifest.from_json(row.manifest), BucketParts(sessions, blobs), tmp_path / "r.raw")
    assert (tmp_path / "r.raw").read_bytes() == path.read_bytes()
    fake.states[instance_id] = "shutoff"  # the node refuses: the snapshot fails
    refused = _snapshot(sessions, volume_id)
    assert asyncio.run(once()) == "error"
    row = _row(sessions, refused)
    assert row is not None and "could not copy" in (row.state_message or "")
    assert _keys(sessions, refused) == []


def test_volumes_from_a_snapshot(sessions: sessionmaker[Session], blobs: BlobStore,
                                 tmp_path: Path) -> None:
    _drain(sessions, blobs, tmp_path)
    path = tmp_path / "vol.raw"
    volume_id = _volume(sessions, path)
    snapshot_id = _snapshot(sessions, volume_id)
    with sessions() as session:
        owner = session.get_one(Volume, volume_id).account_id
        with pytest.raises(errors.IncorrectState):
            source_snapshot(session, owner, snapshot_id)  # still pending
    assert _run(sessions, blobs, tmp_path) == "completed"
    with sessions() as session:
        assert source_snapshot(session, owner, snapshot_id).id == snapshot_id
        with pytest.raises(errors.InvalidSnapshotNotFound):
            source_snapshot(session, "000000000000", snapshot_id)
        with pytest.raises(errors.InvalidSnapshotIDMalformed):
            source_snapshot(session, owner, "snap-x")
    backend = FileBackend(tmp_path / "volumes", "here")
    restorer = snapshot_restorer(sessions, blobs)
    job = Job("vol-0123456789abcdef0", ("creating", None), "create", size_gib=2,
              snapshot_id=snapshot_id)
    for _ in range(2):  # repeated after a crash: restored again, whole
        placement = materialise(backend, job, restorer)
        target = Path(placement.location)
        assert target.stat().st_size == 2 << 30
        with target.open("rb") as restored:
            assert restored.read(64 * MIB) == path.read_bytes()
        assert sorted(p.name for p in target.parent.iterdir() if p.is_file()) == [target.name]
    gone = Job("vol-0123456789abcdef1", ("creating", None), "create", size_gib=1,
               snapshot_id="snap-0123456789abcdef0")
    with pytest.raises(VolumeStorageError, match="does not exist"):
        materialise(backend, gone, restorer)
    with pytest.raises(VolumeStorageError, match="no object store"):
        materialise(backend, job)
