"""Snapshot parts as objects of a system bucket of the object store.

The bucket ``ironbark_snapshots`` belongs to the system account ``ironbark-system``, which has
no users and no keys: no client can authenticate as its owner, its name cannot be created by
any client (an underscore is not allowed in new bucket names), and it appears in no account's
ListBuckets. Parts are written like any object — a blob (temporary file, fsync, rename) and
then its row — so the object store's reaper keeps them and frees what a crash leaves behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from controller import ids
from controller.db.engine import transaction
from controller.db.models import Account, Bucket, S3Object, Snapshot
from controller.identity.service import free_account_id
from controller.s3 import objects_store
from storage.objects import BlobStore, BlobStoreError
from storage.snapshots import Manifest

SYSTEM_ACCOUNT = "ironbark-system"
BUCKET = "ironbark_snapshots"


def ensure_bucket(sessions: sessionmaker[Session], region: str) -> None:
    """Create the system account and the snapshot bucket once (concurrent callers agree)."""
    for _ in range(3):
        try:
            with transaction(sessions) as session:
                if session.get(Bucket, BUCKET) is not None:
                    return
                account = session.scalar(select(Account).where(Account.name == SYSTEM_ACCOUNT))
                if account is None:
                    account = Account(id=free_account_id(session), name=SYSTEM_ACCOUNT,
                                      canonical_user_id=ids.new_canonical_user_id())
                    session.add(account)
                    session.flush()
                session.add(Bucket(name=BUCKET, account_id=account.id, region=region))
                return
        except IntegrityError:
            continue
    raise RuntimeError("could not create the snapshot bucket")


class BucketParts:
    """The engine's :class:`~storage.snapshots.PartStore` over the system bucket."""

    def __init__(self, sessions: sessionmaker[Session], blobs: BlobStore) -> None:
        self._sessions = sessions
        self._blobs = blobs

    def put(self, key: str, data: bytes) -> None:
        if not objects_store.write_object(self._sessions, self._blobs, BUCKET, key, data):
            raise BlobStoreError("the snapshot bucket does not exist")

    def get(self, key: str) -> bytes:
        with self._sessions() as session:
            row = objects_store.latest(session, BUCKET, key)
            blob_id = row.blob_id if row is not None else None
        if not blob_id:
            raise BlobStoreError(f"snapshot part {key} is missing")
        with self._blobs.open(blob_id) as source:
            return source.read()

    def delete(self, keys: Iterable[str]) -> None:
        wanted = list(keys)
        for start in range(0, len(wanted), 500):
            self._delete_batch(wanted[start:start + 500])

    def _delete_batch(self, keys: list[str]) -> None:
        if not keys:
            return
        where = (S3Object.bucket == BUCKET, S3Object.key.in_(keys))
        with transaction(self._sessions) as session:
            blob_ids = [b for b in session.scalars(select(S3Object.blob_id).where(*where)) if b]
            session.execute(delete(S3Object).where(*where))
        for blob_id in blob_ids:
            self._blobs.delete(blob_id)

    def keys_under(self, prefix: str) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(S3Object.key).where(*_under(prefix))))

    def copy(self, source_key: str, key: str) -> int:
        """A new part ``key`` with the bytes of ``source_key``; its size."""
        data = self.get(source_key)
        self.put(key, data)
        return len(data)


def _under(prefix: str) -> tuple[Any, ...]:
    return (S3Object.bucket == BUCKET, S3Object.key.startswith(prefix, autoescape=True))


def release_parts(session: Session, snapshot: Snapshot) -> None:
    """Delete the rows of a snapshot's parts that no other snapshot's manifest names, in the
    caller's transaction; the object store's reaper frees their blobs. (A pending snapshot's
    job sees its row gone and removes what it stores afterwards.)"""
    prefix = snapshot.prefix or f"{snapshot.id}/"
    mine = set(session.scalars(select(S3Object.key).where(*_under(prefix))))
    if snapshot.manifest:
        mine |= Manifest.from_json(snapshot.manifest).keys()
    others = session.scalars(select(Snapshot.manifest).where(
        Snapshot.volume_id == snapshot.volume_id, Snapshot.id != snapshot.id,
        Snapshot.state == "completed"))
    for text in others:
        if text:
            mine -= Manifest.from_json(text).keys()
    wanted = sorted(mine)
    for start in range(0, len(wanted), 500):
        session.execute(delete(S3Object).where(S3Object.bucket == BUCKET,
                                               S3Object.key.in_(wanted[start:start + 500])))
