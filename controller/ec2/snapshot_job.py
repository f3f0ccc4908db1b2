"""The snapshot job: turns ``pending`` snapshots into stored parts, ``completed`` or ``error``.

A pass (``run_once``, also what tests call):

1. *claim*, in one transaction: end every pending snapshot whose lease ran out (a controller
   died working on it) as ``error`` and remove its parts; take the oldest unclaimed pending
   snapshot with a lease (``SKIP LOCKED``: several controllers share the work);
2. *read* the bytes with no transaction open: a copy reads the source snapshot's parts; a
   volume attached to a running instance is first copied point-in-time by its node agent
   (libvirt's backup API); any other volume's file is read as it is;
3. *finish*, in one transaction: ``completed`` with the manifest, unless the snapshot was
   deleted meanwhile (its parts go) or its incremental base vanished (``error``).

Progress is written as parts are stored, which also renews the lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from controller.config import Settings
from controller.db.engine import transaction
from controller.db.models import Instance, Node, Snapshot, Volume
from controller.ec2.snapshot_parts import BucketParts, ensure_bucket
from controller.ec2.snapshots_store import COMPLETED, ERROR, PENDING
from controller.identity.secretbox import SecretBox
from controller.logs import event
from controller.nodes.client import NodeClient, NodeCommandError, NodeTarget
from controller.nodes.registry import HEALTHY
from storage.objects import BlobStore
from storage.snapshots import Manifest, Part, SnapshotAborted, SourceError, take_snapshot

log = logging.getLogger("ironbark.snapshots")
LEASE = timedelta(seconds=120)
PROGRESS_EVERY = 1.0
POLL = 0.5


@dataclass
class Work:
    snapshot_id: str
    prefix: str
    source: Path | None = None
    fmt: str = "raw"
    base_id: str | None = None
    base: Manifest | None = None
    copy_of: Manifest | None = None
    node: NodeTarget | None = None
    instance_id: str | None = None
    volume_id: str | None = None
    failed: str | None = None
    """Why the snapshot ended ``error`` as it was claimed (nothing to read then)."""


class SnapshotFailed(Exception):
    pass


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _manifest(snapshot: Snapshot | None) -> Manifest | None:
    return Manifest.from_json(snapshot.manifest) if snapshot and snapshot.manifest else None


def _fail(snapshot: Snapshot, message: str) -> None:
    event(log, logging.WARNING, "snapshot.failed", snapshot=snapshot.id, why=message[:200])
    snapshot.state, snapshot.state_message = ERROR, message[:255]
    snapshot.lease_until = None


def _expire(session: Session, now: datetime) -> list[str]:
    """End interrupted snapshots; the prefixes whose parts must go."""
    stale = session.scalars(select(Snapshot).where(
        Snapshot.state == PENDING, Snapshot.lease_until.is_not(None),
        Snapshot.lease_until < now).with_for_update(skip_locked=True))
    prefixes = []
    for snapshot in stale:
        _fail(snapshot, "The snapshot was interrupted (its controller stopped); take it again.")
        prefixes.append(snapshot.prefix or f"{snapshot.id}/")
    return prefixes


def _base(session: Session, volume_id: str, snapshot_id: str) -> Snapshot | None:
    """The newest completed snapshot of the volume: its parts may be reused."""
    return session.scalar(select(Snapshot).where(
        Snapshot.volume_id == volume_id, Snapshot.state == COMPLETED, Snapshot.id != snapshot_id)
        .order_by(Snapshot.completed_at.desc()).limit(1))


def _plan(session: Session, box: SecretBox, snapshot: Snapshot) -> Work:
    work = Work(snapshot.id, snapshot.prefix or f"{snapshot.id}/")
    if snapshot.source_snapshot_id is not None:
        work.copy_of = _manifest(session.get(Snapshot, snapshot.source_snapshot_id))
        if work.copy_of is None:
            raise SnapshotFailed(f"The source snapshot {snapshot.source_snapshot_id} is gone.")
        return work
    volume = session.get(Volume, snapshot.volume_id)
    if volume is None or not volume.location:
        raise SnapshotFailed(f"The volume {snapshot.volume_id} is gone.")
    work.source, work.fmt, work.volume_id = Path(volume.location), volume.format, volume.id
    base = _base(session, volume.id, snapshot.id)
    if base is not None:
        work.base_id, work.base = base.id, _manifest(base)
    instance = session.get(Instance, volume.instance_id) if volume.instance_id else None
    if instance is not None and instance.state == "running" and volume.attach_state in (
            "attached", "busy", "detaching"):
        node = session.get(Node, instance.node_id) if instance.node_id else None
        if node is None or node.state != HEALTHY:
            raise SnapshotFailed(f"The node of {instance.id} is unreachable.")
        token = box.open(node.api_token_encrypted) if node.api_token_encrypted else ""
        work.node, work.instance_id = NodeTarget(node.endpoint, token), instance.id
    return work


def claim(sessions: sessionmaker[Session], box: SecretBox, parts: BucketParts,
          now: datetime | None = None, host: str | None = None) -> Work | None:
    """Step 1. With ``host``, only snapshots this controller can read: copies, and volumes
    kept on that storage host (as the volume reconciler serves only its own)."""
    now = now or datetime.now(UTC)
    with transaction(sessions) as session:
        gone = _expire(session, now)
        query = select(Snapshot).where(Snapshot.state == PENDING, Snapshot.lease_until.is_(None))
        if host is not None:
            query = query.where(or_(Snapshot.source_snapshot_id.is_not(None),
                                    Snapshot.volume_id.in_(
                                        select(Volume.id).where(Volume.host == host))))
        snapshot = session.scalar(query.order_by(Snapshot.start_time, Snapshot.id).limit(1)
                                  .with_for_update(skip_locked=True))
        work = None
        if snapshot is not None:
            try:
                work = _plan(session, box, snapshot)
                snapshot.lease_until = now + LEASE
            except SnapshotFailed as exc:
                _fail(snapshot, str(exc))
                work = Work(snapshot.id, snapshot.prefix or f"{snapshot.id}/", failed=str(exc))
    for prefix in gone:
        parts.delete(parts.keys_under(prefix))
    return work


class _Progress:
    """Writes progress (and renews the lease) at most every PROGRESS_EVERY seconds; raises
    :class:`SnapshotAborted` once the snapshot is deleted."""

    def __init__(self, sessions: sessionmaker[Session], snapshot_id: str) -> None:
        self._sessions = sessions
        self._id = snapshot_id
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self._last < PROGRESS_EVERY:
            return
        self._last = time.monotonic()
        with transaction(self._sessions) as session:
            snapshot = session.get(Snapshot, self._id, with_for_update=True)
            if snapshot is None or snapshot.state != PENDING:
                raise SnapshotAborted(self._id)
            snapshot.progress = min(99, done * 100 // max(total, 1))
            snapshot.lease_until = datetime.now(UTC) + LEASE


def _copy(work: Work, parts: BucketParts, progress: _Progress) -> Manifest:
    source = work.copy_of
    assert source is not None
    written: list[str] = []
    copied: list[Part] = []
    try:
        for index, part in enumerate(source.parts):
            key = f"{work.prefix}{part.offset // source.block_size:08d}"
            written.append(key)
            parts.copy(part.key, key)
            copied.append(Part(part.offset, part.length, part.sha256, key, part.stored))
            progress(index + 1, len(source.parts))
    except BaseException:
        parts.delete(written)
        raise
    return Manifest(source.volume_size, source.block_size, source.codec, tuple(copied))


def store(work: Work, source: Path | None, fmt: str, parts: BucketParts,
          sessions: sessionmaker[Session], scratch: Path) -> Manifest:
    """Step 2 for a copy or a readable source file (blocking)."""
    progress = _Progress(sessions, work.snapshot_id)
    if work.copy_of is not None:
        return _copy(work, parts, progress)
    assert source is not None
    return take_snapshot(source, fmt, parts, work.prefix, scratch=scratch, base=work.base,
                         progress=progress)


def finish(sessions: sessionmaker[Session], parts: BucketParts, work: Work,
           manifest: Manifest) -> str:
    """Step 3; the snapshot's final state (``deleted`` when it was deleted meanwhile)."""
    own = [p.key for p in manifest.parts if p.key.startswith(work.prefix)]
    with transaction(sessions) as session:
        snapshot = session.get(Snapshot, work.snapshot_id, with_for_update=True)
        base_gone = work.base_id is not None and session.get(
            Snapshot, work.base_id, with_for_update=True) is None
        if snapshot is not None and snapshot.state == PENDING and not base_gone:
            snapshot.state, snapshot.progress = COMPLETED, 100
            snapshot.manifest, snapshot.stored_bytes = manifest.to_json(), manifest.stored_bytes
            snapshot.completed_at, snapshot.lease_until = datetime.now(UTC), None
            event(log, logging.INFO, "snapshot.completed", snapshot=snapshot.id,
                  parts=len(manifest.parts), stored=manifest.stored_bytes)
            return COMPLETED
        if snapshot is not None and base_gone:
            _fail(snapshot, f"Its base snapshot {work.base_id} was deleted meanwhile; "
                            "take it again.")
    parts.delete(own)
    return ERROR if snapshot is not None else "deleted"


def fail(sessions: sessionmaker[Session], parts: BucketParts, work: Work, why: str) -> None:
    with transaction(sessions) as session:
        snapshot = session.get(Snapshot, work.snapshot_id, with_for_update=True)
        if snapshot is not None and snapshot.state == PENDING:
            _fail(snapshot, why)
    parts.delete(parts.keys_under(work.prefix))


async def _from_node(client: httpx.AsyncClient, work: Work, parts: BucketParts,
                     sessions: sessionmaker[Session], scratch: Path) -> Manifest:
    assert work.node is not None and work.instance_id and work.volume_id
    node = NodeClient(client, work.node)
    backup = await node.backup_volume(work.instance_id, work.volume_id, work.snapshot_id)
    try:
        return await asyncio.to_thread(store, work, Path(backup["path"]), backup["format"],
                                       parts, sessions, scratch)
    finally:
        try:
            await node.drop_backup(work.instance_id, work.volume_id, work.snapshot_id)
        except NodeCommandError as exc:
            event(log, logging.WARNING, "snapshot.backup_left", snapshot=work.snapshot_id,
                  error=str(exc))


def renew(sessions: sessionmaker[Session], snapshot_id: str) -> None:
    with transaction(sessions) as session:
        snapshot = session.get(Snapshot, snapshot_id, with_for_update=True)
        if snapshot is not None and snapshot.state == PENDING:
            snapshot.lease_until = datetime.now(UTC) + LEASE


async def _keep_lease(sessions: sessionmaker[Session], snapshot_id: str) -> None:
    """Renew the lease while the work lasts, also through long silent steps (a node's backup
    of a large volume, a qcow2 conversion) that report no progress."""
    while True:
        await asyncio.sleep(LEASE.total_seconds() / 4)
        try:
            await asyncio.to_thread(renew, sessions, snapshot_id)
        except Exception:  # noqa: BLE001 - the next renewal tries again
            event(log, logging.WARNING, "snapshot.lease_renewal_failed", snapshot=snapshot_id)


async def _take(work: Work, parts: BucketParts, sessions: sessionmaker[Session],
                scratch: Path, client: httpx.AsyncClient) -> Manifest:
    keeper = asyncio.create_task(_keep_lease(sessions, work.snapshot_id))
    try:
        if work.node is not None:
            return await _from_node(client, work, parts, sessions, scratch)
        return await asyncio.to_thread(store, work, work.source, work.fmt, parts, sessions,
                                       scratch)
    finally:
        keeper.cancel()


async def run_once(sessions: sessionmaker[Session], box: SecretBox, blobs: BlobStore,
                   scratch: Path, client: httpx.AsyncClient,
                   host: str | None = None) -> str | None:
    """Claim and take one snapshot; its final state, or None when nothing was pending."""
    parts = BucketParts(sessions, blobs)
    work = await asyncio.to_thread(claim, sessions, box, parts, None, host)
    if work is None:
        return None
    if work.failed is not None:
        return ERROR
    try:
        manifest = await _take(work, parts, sessions, scratch, client)
    except SnapshotAborted:
        await asyncio.to_thread(fail, sessions, parts, work, "deleted")
        return "deleted"
    except (SourceError, NodeCommandError) as exc:
        await asyncio.to_thread(fail, sessions, parts, work, _reason(exc))
        return ERROR
    except Exception as exc:  # noqa: BLE001 - any failure ends the snapshot in error
        event(log, logging.ERROR, "snapshot.error", snapshot=work.snapshot_id, exc_info=True)
        await asyncio.to_thread(fail, sessions, parts, work, _reason(exc))
        return ERROR
    return await asyncio.to_thread(finish, sessions, parts, work, manifest)


def _reason(exc: Exception) -> str:
    if isinstance(exc, NodeCommandError):
        return f"The node could not copy the attached volume: {exc}"[:255]
    if isinstance(exc, SourceError):
        return f"The volume could not be read: {exc}"[:255]
    return f"The snapshot could not be stored: {type(exc).__name__}: {exc}"[:255]


async def snapshot_loop(sessions: sessionmaker[Session], box: SecretBox, blobs: BlobStore,
                        settings: Settings) -> None:
    scratch = settings.data_dir / "snapshot-scratch"
    ready = False
    async with httpx.AsyncClient(trust_env=False, timeout=3600) as client:
        while True:
            try:
                if not ready:
                    await asyncio.to_thread(ensure_bucket, sessions, settings.region)
                    ready = True
                while await run_once(sessions, box, blobs, scratch, client,
                                     settings.storage_host) is not None:
                    pass
            except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                event(log, logging.ERROR, "snapshots.pass_failed", exc_info=True)
            await asyncio.sleep(POLL)
