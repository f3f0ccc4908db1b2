"""Volumes from snapshots: what CreateVolume with a ``SnapshotId`` checks, and the restore
that fills the new volume's file before it becomes ``available``.

CreateVolume calls :func:`snapshot_for_volume` in its transaction (the snapshot must be
visible to the caller — owned, shared with it, or public — and completed; the size defaults
to the snapshot's and may not be smaller); the volume job then calls :func:`restore_volume`
with no transaction open, and marks the volume ``available`` (or ``error``) after.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from controller.db.models import Snapshot
from controller.ec2 import errors
from controller.ec2.snapshot_parts import BucketParts
from controller.ec2.snapshots_store import COMPLETED, visible_snapshot
from storage.objects import BlobStore
from storage.snapshots import Manifest, Progress, restore

GIB = 1 << 30


def snapshot_for_volume(session: Session, account_id: str, snapshot_id: str,
                        size_gib: int | None) -> tuple[Snapshot, int]:
    """The snapshot a new volume is made from, and the volume's size in GiB."""
    snapshot = visible_snapshot(session, account_id, snapshot_id)
    if snapshot.state != COMPLETED or not snapshot.manifest:
        raise errors.IncorrectState(f"Snapshot '{snapshot_id}' is '{snapshot.state}'; "
                                    "volumes are made from completed snapshots.")
    size = snapshot.volume_size_gib if size_gib is None else size_gib
    if size < snapshot.volume_size_gib:
        raise errors.InvalidParameterValue(
            f"Volume of size {size}GB is smaller than snapshot '{snapshot_id}', "
            f"expect size >= {snapshot.volume_size_gib}GB")
    return snapshot, size


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
