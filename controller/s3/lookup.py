"""Read-only lookups on the S3 request path: a bucket, and an object version, by prepared
statements on the session's connection (``controller.db.reader``) instead of ORM queries, which
cost several times the query itself. They return detached model instances, which callers only
read (as they would read rows from a session that has closed)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from controller.db.models import Bucket, S3Object
from controller.db.reader import Prepared, Reader

_B = Bucket.__table__.c
_O = S3Object.__table__.c
_BUCKET = Prepared(select(*_B).where(_B.name == bindparam("name")))
_LATEST = Prepared(select(*_O).where(_O.bucket == bindparam("bucket"), _O.key == bindparam("key"),
                                      _O.is_latest.is_(True)))
_VERSION = Prepared(select(*_O).where(_O.bucket == bindparam("bucket"), _O.key == bindparam("key"),
                                       _O.version_id == bindparam("version_id")))


def _detached(model: type[Any], row: Any) -> Any:
    return None if row is None else model(**row._asdict())


def bucket(session: Session, name: str) -> Bucket | None:
    found: Bucket | None = _detached(Bucket, Reader.of_session(session).first(
        _BUCKET, {"name": name}))
    return found


def latest(session: Session, bucket_name: str, key: str) -> S3Object | None:
    found: S3Object | None = _detached(S3Object, Reader.of_session(session).first(
        _LATEST, {"bucket": bucket_name, "key": key}))
    return found


def version(session: Session, bucket_name: str, key: str, version_id: str) -> S3Object | None:
    found: S3Object | None = _detached(S3Object, Reader.of_session(session).first(
        _VERSION, {"bucket": bucket_name, "key": key, "version_id": version_id}))
    return found
