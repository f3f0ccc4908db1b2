"""Object versions in SQL: the latest version of a key, and replacing it (last writer wins)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from controller import ids
from controller.db.engine import transaction
from controller.db.models import Bucket, S3Object, utcnow
from controller.db.reader import Prepared, Reader, writing
from controller.s3 import errors
from controller.s3 import object_lock_rules as lock_rules
from storage.objects import BlobStore
from storage.objects.writer import Transform

NULL_VERSION = "null"
T = TypeVar("T")
S = TypeVar("S")


def new_version_id() -> str:
    return ids.new_token(24)


_VERSION_ID = re.compile(r"[A-Za-z0-9_-]{32}")


def is_version_id(value: str) -> bool:
    """Whether ``value`` could name a version here (``null`` or one of ours)."""
    return value == NULL_VERSION or _VERSION_ID.fullmatch(value) is not None


def latest(session: Session, bucket: str, key: str) -> S3Object | None:
    return session.scalar(
        select(S3Object).where(S3Object.bucket == bucket, S3Object.key == key,
                               S3Object.is_latest.is_(True))
    )


def version(session: Session, bucket: str, key: str, version_id: str) -> S3Object | None:
    return session.scalar(
        select(S3Object).where(S3Object.bucket == bucket, S3Object.key == key,
                               S3Object.version_id == version_id)
    )


_T: Table = S3Object.__table__  # type: ignore[assignment]
_KEY = (_T.c.bucket == bindparam("b_bucket")) & (_T.c.key == bindparam("b_key"))
_NULL = _T.c.version_id == bindparam("null_version")
_DELETE_NULL = Prepared(delete(_T).where(_KEY, _NULL).returning(_T.c.blob_id))
_DEMOTE = Prepared(update(_T).where(_KEY, _T.c.is_latest.is_(True))
                   .values(is_latest=bindparam("demoted")))
_DEMOTE_OTHERS = Prepared(update(_T).where(_KEY, _T.c.is_latest.is_(True), ~_NULL)
                          .values(is_latest=bindparam("demoted")))
_COLUMNS = tuple(c.key for c in _T.columns if c.key != "id")
_INSERT = Prepared(insert(_T).values({name: bindparam(name) for name in _COLUMNS}))
_NULL_ROW = Prepared(select(_T.c.id, _T.c.blob_id).where(_KEY, _NULL).with_for_update())
_REWRITTEN = tuple(name for name in _COLUMNS if name not in ("bucket", "key", "version_id"))
_REWRITE = Prepared(update(_T).where(_T.c.id == bindparam("b_id"))
                    .values({name: bindparam(name) for name in _REWRITTEN}))
# Column defaults a transient row lacks until inserted (the ORM would apply them at flush).
_DEFAULTS = {"delete_marker": False, "size": 0, "etag": "", "headers": "{}",
             "user_metadata": "{}"}
_FILLED = ("version_id", "is_latest", "last_modified", "lock_mode", "lock_until", *_DEFAULTS)


def install(session: Session, bucket: Bucket, row: S3Object) -> list[str]:
    """Make ``row`` the latest version of its key; return blob ids no longer referenced.
    :func:`install_values` on the session's connection; ``row`` stays a transient object,
    filled in with what was inserted (version id, time, defaults)."""
    values = {name: getattr(row, name) for name in _COLUMNS}
    freed = install_values(Reader.of_session(session), bucket, values)
    for name in _FILLED:
        setattr(row, name, values[name])
    return freed


def install_values(reader: Reader, bucket: Bucket, values: dict[str, Any], *,
                   bucket_read_here: bool = False) -> list[str]:
    """Make the version whose column ``values`` are given (``bucket``, ``key``, ...) the latest
    version of its key; return blob ids no longer referenced. ``values`` is filled in with what
    was inserted (version id, time, Object Lock default retention, column defaults).

    Unversioned and suspended buckets keep one ``null`` version (replaced); versioned buckets
    keep every version. Prepared statements only: this runs on every write.
    ``bucket_read_here``: ``bucket`` was read by ``reader`` in this transaction."""
    key = {"b_bucket": values["bucket"], "b_key": values["key"]}
    freed: list[str] = []
    replaced: Any = None
    if bucket.versioning == "Enabled":
        values["version_id"] = new_version_id()
    elif bucket.versioning is None:
        # A bucket never versioned holds one (null) version per key, rewritten in place: the
        # row keeps its place in every index, which makes an overwrite the cheapest write.
        values["version_id"] = NULL_VERSION
        replaced = reader.first(_NULL_ROW, {**key, "null_version": NULL_VERSION})
        if replaced is not None and replaced.blob_id:
            freed = [replaced.blob_id]
    else:
        values["version_id"] = NULL_VERSION
        gone = reader.all(_DELETE_NULL, {**key, "null_version": NULL_VERSION})
        freed = [r.blob_id for r in gone if r.blob_id]
    if bucket.versioning is not None:
        reader.execute(_DEMOTE, {**key, "demoted": False})
    elif not (bucket_read_here and reader.serialized):
        # The bucket may have been versioned since it was read (another controller, between
        # that read and this transaction's lock): a version made meanwhile stops being latest.
        # Not so when it was read under the write lock this transaction still holds.
        reader.execute(_DEMOTE_OTHERS, {**key, "demoted": False, "null_version": NULL_VERSION})
    values["is_latest"] = True
    if values.get("last_modified") is None:
        values["last_modified"] = utcnow()
    if (bucket.object_lock is not None and values.get("lock_mode") is None
            and not values.get("delete_marker")):
        lock = lock_rules.default_lock(json.loads(bucket.object_lock), values["last_modified"])
        values["lock_mode"], values["lock_until"] = lock.mode, lock.until
    for name, default in _DEFAULTS.items():
        if values.get(name) is None:
            values[name] = default
    if replaced is not None and reader.execute(_REWRITE, {
            "b_id": replaced.id, **{name: values.get(name) for name in _REWRITTEN}}) == 1:
        return freed
    # New key, or (defensively) the row went away after it was read, with its blob freed by
    # whoever removed it: insert; a concurrent first write of the same key makes this an
    # IntegrityError, and the caller retries.
    reader.execute(_INSERT, {name: values.get(name) for name in _COLUMNS})
    return freed if replaced is None else []


def write_object(sessions: sessionmaker[Session], blobs: BlobStore, bucket_name: str, key: str,
                 data: bytes, transform: Transform | None = None, **columns: Any) -> bool:
    """A server-side write (snapshot parts, access logs): ``data`` becomes the latest version
    of ``key``, owned by the bucket's owner (``columns``: more S3Object columns; ``transform``
    encrypts the bytes kept). False, with nothing kept, when the bucket does not exist."""
    with blobs.writer(transform=transform) as writer:
        writer.write(data)
        info = writer.commit()

    def install_row(session: Session) -> list[str] | None:
        bucket = session.get(Bucket, bucket_name)
        if bucket is None:
            return None
        return install(session, bucket, S3Object(
            bucket=bucket_name, key=key, blob_id=info.blob_id, size=info.size,
            etag=f'"{info.md5_hex}"', owner_account_id=bucket.account_id, **columns))

    try:
        freed = with_retry(sessions, install_row)
    except BaseException:
        blobs.delete(info.blob_id)
        raise
    if freed is None:
        blobs.delete(info.blob_id)
        return False
    for blob_id in freed:
        blobs.delete(blob_id)
    return True


@dataclass(frozen=True)
class Removal:
    """What a delete did: blobs no longer referenced, and the version it made or removed."""

    freed: list[str]
    version_id: str | None = None
    delete_marker: bool = False


def remove(session: Session, bucket: Bucket, key: str, version_id: str | None,
           owner_account_id: str, bypass_governance: bool = False) -> Removal:
    """DeleteObject semantics: a version id removes that version for good (promoting the next
    newest); otherwise an unversioned bucket loses the ``null`` version and a versioned one gets
    a delete marker (``null`` when versioning is suspended).

    A version under an Object Lock legal hold or unexpired retention is never removed:
    AccessDenied (GOVERNANCE retention yields to ``bypass_governance``). Buckets with Object
    Lock are always versioned, so only the version-id path can meet a locked version."""
    where = (S3Object.bucket == bucket.name, S3Object.key == key)
    if version_id is not None:
        return _remove_version(session, bucket.name, key, version_id, bypass_governance)
    if bucket.versioning is None:
        # One statement that returns what it deleted: a row the session read earlier may have
        # been rewritten in place since (install_values), so its blob id is not trusted.
        gone = Reader.of_session(session).all(_DELETE_NULL, {
            "b_bucket": bucket.name, "b_key": key, "null_version": NULL_VERSION})
        return Removal([r.blob_id for r in gone if r.blob_id])
    freed: list[str] = []
    marker_version = new_version_id()
    if bucket.versioning == "Suspended":
        marker_version = NULL_VERSION
        old = session.scalar(select(S3Object).where(*where, S3Object.version_id == NULL_VERSION))
        if old is not None:
            freed = [old.blob_id] if old.blob_id else []
            session.delete(old)
            session.flush()
    session.execute(update(S3Object).where(*where, S3Object.is_latest.is_(True))
                    .values(is_latest=False))
    session.add(S3Object(bucket=bucket.name, key=key, version_id=marker_version, is_latest=True,
                         delete_marker=True, owner_account_id=owner_account_id))
    session.flush()
    return Removal(freed, marker_version, True)


def _remove_version(session: Session, bucket: str, key: str, version_id: str,
                    bypass_governance: bool) -> Removal:
    """Deleting a version that does not exist (any more) succeeds, as in S3: concurrent
    deleters of one version all succeed. An id that cannot be a version id is NoSuchVersion."""
    row = version(session, bucket, key, version_id)
    if row is None:
        if is_version_id(version_id):
            return Removal([], version_id)
        raise errors.NoSuchVersion(Key=key, VersionId=version_id)
    lock = lock_rules.Lock(row.lock_mode, row.lock_until, row.legal_hold)
    if lock_rules.blocks_delete(lock, bypass_governance, lock_rules.as_utc(utcnow())):
        raise errors.AccessDenied(lock_rules.PROTECTED)
    session.delete(row)
    session.flush()
    if row.is_latest:
        newest = session.scalar(
            select(S3Object).where(S3Object.bucket == bucket, S3Object.key == key)
            .order_by(S3Object.id.desc()).limit(1))
        if newest is not None:
            newest.is_latest = True
    return Removal([row.blob_id] if row.blob_id else [], version_id, row.delete_marker)


def with_retry(sessions: sessionmaker[Session], work: Callable[[Session], T], tries: int = 4) -> T:
    """Run ``work`` in a transaction, again when a concurrent writer of the same key won the
    unique index first (PostgreSQL): the retry sees its row and replaces it, last writer wins."""
    return _retrying(lambda: transaction(sessions), work, tries)


def with_write_retry(engine: Engine, work: Callable[[Reader], T], tries: int = 4) -> T:
    """:func:`with_retry` for work made of prepared statements: a transaction on a pooled
    connection (:func:`~controller.db.reader.writing`), no ORM session."""
    return _retrying(lambda: writing(engine), work, tries)


def _retrying(begin: Callable[[], AbstractContextManager[S]], work: Callable[[S], T],
              tries: int) -> T:
    for attempt in range(tries):
        try:
            with begin() as db:
                return work(db)
        except IntegrityError:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")
