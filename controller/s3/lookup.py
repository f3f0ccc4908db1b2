"""Read-only lookups on the S3 request path: a bucket, and an object version, by prepared
statements on the session's connection (``controller.db.reader``) instead of ORM queries, which
cost several times the query itself. They return read-only copies with the model's column
attributes (typed as the model; callers only read them, as they would read rows from a session
that has closed), never instances the ORM tracks: reading an attribute is then a plain
instance-dictionary lookup, not the ORM's instrumented descriptor, on every request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, select
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


_BUCKET_AND_LATEST = Prepared(
    select(*_B, *_O)
    .select_from(Bucket.__table__.outerjoin(S3Object.__table__, and_(
        _O.bucket == _B.name, _O.key == bindparam("key"), _O.is_latest.is_(True))))
    .where(_B.name == bindparam("name")))
_B_KEYS = tuple(str(c.key) for c in _B)
_O_KEYS = tuple(str(c.key) for c in _O)


def _detached(model: type[Any], row: Any) -> Any:
    """:func:`_filled` with ``row``'s columns, None for no row."""
    return None if row is None else _filled(model, row._asdict())


class _Copy:
    """What :func:`_filled` makes: the columns as plain attributes."""

    def __repr__(self) -> str:
        return f"<read-only {type(self).__name__} {self.__dict__!r}>"


_COPIES: dict[type[Any], type[_Copy]] = {}


def _filled(model: type[Any], values: dict[str, Any]) -> Any:
    """A read-only copy of a ``model`` row holding ``values`` (its column attributes). Not an
    ORM instance: the ORM's constructor fires an attribute event per column, and even an
    instance made as its loader makes one answers every attribute read through an
    instrumented descriptor (~7x a plain attribute read), dozens of times per request."""
    kind = _COPIES.get(model)
    if kind is None:
        kind = _COPIES[model] = type(model.__name__, (_Copy,), {})
    instance = object.__new__(kind)
    instance.__dict__ = values
    return instance


def _reader(db: Session | Reader) -> Reader:
    return db if isinstance(db, Reader) else Reader.of_session(db)


def bucket(db: Session | Reader, name: str) -> Bucket | None:
    """``db``: a session (its transaction's view) or a reader (a connection of its own)."""
    found: Bucket | None = _detached(Bucket, _reader(db).first(_BUCKET, {"name": name}))
    return found


def latest(db: Session | Reader, bucket_name: str, key: str) -> S3Object | None:
    found: S3Object | None = _detached(S3Object, _reader(db).first(
        _LATEST, {"bucket": bucket_name, "key": key}))
    return found


def version(db: Session | Reader, bucket_name: str, key: str,
            version_id: str) -> S3Object | None:
    found: S3Object | None = _detached(S3Object, _reader(db).first(
        _VERSION, {"bucket": bucket_name, "key": key, "version_id": version_id}))
    return found


def bucket_and_latest(reader: Reader, bucket_name: str,
                      key: str) -> tuple[Bucket | None, S3Object | None]:
    """:func:`bucket` and :func:`latest` in one statement (GET and HEAD of an object)."""
    row = reader.first(_BUCKET_AND_LATEST, {"name": bucket_name, "key": key})
    if row is None:
        return None, None
    split = len(_B_KEYS)
    bucket: Bucket = _filled(Bucket, dict(zip(_B_KEYS, row[:split], strict=True)))
    rest = row[split:]
    values = dict(zip(_O_KEYS, rest, strict=True))
    found: S3Object | None = None if values["id"] is None else _filled(S3Object, values)
    return bucket, found
