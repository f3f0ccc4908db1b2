"""Volumes from snapshots: what CreateVolume with a ``SnapshotId`` may use, and the restore
that fills the new volume's file before it becomes ``available``.

CreateVolume calls :func:`source_snapshot` in its transaction (the snapshot must be visible to
the caller — owned, shared with it, or public — and completed); the volume reconciler then
runs the :func:`snapshot_restorer` with no transaction open (``materialise``), and marks the
volume ``available`` (or ``error`` with the reason) after.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from controller.db.models import Snapshot
from controller.ec2 import errors
from controller.ec2.snapshot_parts import BucketParts
from controller.ec2.snapshots_store import COMPLETED, visible_snapshot
from storage.objects import BlobStore, BlobStoreError
from storage.snapshots import Manifest, ManifestError, Progress, SourceError, restore
from storage.volumes import Placement, VolumeStorageError

GIB = 1 << 30


def source_snapshot(session: Session, account_id: str, snapshot_id: str) -> Snapshot:
    """The snapshot a new volume is made from: ``InvalidSnapshotID.Malformed``,
    ``InvalidSnapshot.NotFound`` (also for a snapshot not shared with the caller), or
    ``IncorrectState`` while it is not completed."""
    snapshot = visible_snapshot(session, account_id, snapshot_id)
    if snapshot.state != COMPLETED or not snapshot.manifest:
        raise errors.IncorrectState(f"Snapshot is in invalid state - {snapshot.state}")
    return snapshot


def restore_volume(sessions: sessionmaker[Session], blobs: BlobStore, snapshot_id: str,
                   target: Path, size_gib: int, fmt: str = "raw", *,
                   progress: Progress | None = None) -> None:
    """Write the snapshot into the new volume file ``target`` (sparse, ``size_gib``; raw or
    qcow2). Blocking; raises ``InvalidSnapshotNotFound`` if the snapshot went meanwhile, and
    the engine's errors (a corrupt or missing part) — ``target`` is then removed."""
    with sessions() as session:
        snapshot = session.get(Snapshot, snapshot_id)
        text = snapshot.manifest if snapshot is not None else None
    if not text:
        raise errors.InvalidSnapshotNotFound(f"The snapshot '{snapshot_id}' does not exist.")
    restore(Manifest.from_json(text), BucketParts(sessions, blobs), target,
            size=size_gib * GIB, fmt=fmt, scratch=target.parent, progress=progress)


def restore_volume_file(sessions: sessionmaker[Session], blobs: BlobStore, snapshot_id: str,
                        final: Path, size_gib: int, fmt: str = "raw") -> None:
    """:func:`restore_volume` into a temporary name next to ``final``, then renamed over it:
    a crash never leaves a half-restored volume under its real name, and repeating the call
    (the volume job after a crash) restores again."""
    tmp = final.with_name(f".{final.name}.restore")
    tmp.unlink(missing_ok=True)
    restore_volume(sessions, blobs, snapshot_id, tmp, size_gib, fmt)
    os.replace(tmp, final)
    fd = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


Restorer = Callable[[str, Placement, int], None]
"""(snapshot id, the new volume's placement, its size in GiB): fill the volume."""


def snapshot_restorer(sessions: sessionmaker[Session], blobs: BlobStore) -> Restorer:
    """The volume reconciler's way to fill a volume from a snapshot; failures are
    :class:`VolumeStorageError` (the volume ends ``error`` with the reason)."""

    def restore_into(snapshot_id: str, placement: Placement, size_gib: int) -> None:
        try:
            restore_volume_file(sessions, blobs, snapshot_id, Path(placement.location),
                                size_gib, placement.format)
        except (errors.Ec2Error, ManifestError, SourceError, BlobStoreError, OSError) as exc:
            raise VolumeStorageError(
                f"Restoring {snapshot_id} failed: {getattr(exc, 'message', None) or exc}"
            ) from exc

    return restore_into
