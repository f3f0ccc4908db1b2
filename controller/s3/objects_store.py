"""Object versions in SQL: the latest version of a key, and replacing it (last writer wins)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from controller.db.engine import transaction
from controller.db.models import Bucket, S3Object

NULL_VERSION = "null"
T = TypeVar("T")


def new_version_id() -> str:
    return secrets.token_urlsafe(24)


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


def install(session: Session, bucket: Bucket, row: S3Object) -> list[str]:
    """Make ``row`` the latest version of its key; return blob ids no longer referenced.

    Unversioned and suspended buckets keep one ``null`` version (replaced); versioned buckets
    keep every version."""
    where = (S3Object.bucket == row.bucket, S3Object.key == row.key)
    freed: list[str] = []
    if bucket.versioning == "Enabled":
        row.version_id = new_version_id()
    else:
        row.version_id = NULL_VERSION
        old = session.scalars(
            select(S3Object.blob_id).where(*where, S3Object.version_id == NULL_VERSION)
        ).all()
        freed = [blob for blob in old if blob]
        session.execute(delete(S3Object).where(*where, S3Object.version_id == NULL_VERSION))
    session.execute(update(S3Object).where(*where, S3Object.is_latest.is_(True))
                    .values(is_latest=False))
    row.is_latest = True
    session.add(row)
    session.flush()
    return freed


def with_retry(sessions: sessionmaker[Session], work: Callable[[Session], T], tries: int = 4) -> T:
    """Run ``work`` in a transaction, again when a concurrent writer of the same key won the
    unique index first (PostgreSQL): the retry sees its row and replaces it, last writer wins."""
    for attempt in range(tries):
        try:
            with transaction(sessions) as session:
                return work(session)
        except IntegrityError:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")
