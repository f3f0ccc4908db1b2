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

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from controller import ids
from controller.db.engine import make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.db.models import S3Object, Snapshot, Volume
from controller.db.models import utcnow as _utcnow
from controller.ec2 import snapshot_job
from controller.ec2.snapshot_parts import BUCKET, BucketParts, ensure_bucket, release_parts
from controller.identity.secretbox import SecretBox
from controller.identity.service import create_account
from storage.objects import BlobStore
from storage.snapshots import Manifest, SnapshotAborted, restore

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
                           availability_zone="us-east-1a", location=str(path), format="raw"))
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
    claimed = [snapshot_job.claim(sessions, BOX, parts) for _ in range(4)]
    taken = [w.snapshot_id for w in claimed if w is not None]
    assert sorted(taken) == sorted(wanted) and claimed[-1] is None
