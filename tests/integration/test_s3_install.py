"""controller.s3.objects_store on both backends: installing a version rewrites a never-versioned
key's null row in place, demotes a version made meanwhile, and a removal frees exactly the blob
it deleted; on SQLite a writing() transaction holds the write lock from its start."""

from __future__ import annotations

import gc
import sqlite3
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from controller.db.engine import make_session_factory, transaction
from controller.db.models import Bucket, S3Object
from controller.db.reader import reading, writing
from controller.s3 import lookup
from controller.s3 import objects_store as store
from tests.integration.conftest import seeded

ACCOUNT = "444455556666"


@pytest.fixture(scope="module")
def engine(fresh_engine: Engine) -> Engine:
    return seeded(fresh_engine, ACCOUNT, "install", "d" * 64,
                  Bucket(name="plain", account_id=ACCOUNT, region="us-east-1"))


def _put(engine: Engine, key: str, blob: str | None, data: bytes | None = None) -> list[str]:
    def work(reader: Any) -> list[str]:
        bucket = lookup.bucket(reader, "plain")
        assert bucket is not None
        return store.install_values(reader, bucket, {
            "bucket": "plain", "key": key, "blob_id": blob, "inline_data": data,
            "size": 1, "etag": '"e"', "owner_account_id": ACCOUNT})
    return store.with_write_retry(engine, work)


def _rows(engine: Engine, key: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(S3Object.__table__).where(
            S3Object.bucket == "plain", S3Object.key == key).order_by(S3Object.id)))


def test_an_overwrite_rewrites_the_null_row_and_frees_the_old_blob(engine: Engine) -> None:
    assert _put(engine, "k1", "a" * 32) == []
    first = _rows(engine, "k1")
    assert _put(engine, "k1", None, b"x") == ["a" * 32]
    assert _put(engine, "k1", "b" * 32) == []
    rows = _rows(engine, "k1")
    assert len(rows) == 1 and rows[0].id == first[0].id  # in place: same row
    assert (rows[0].version_id, rows[0].is_latest, rows[0].blob_id) == ("null", True, "b" * 32)


def test_a_version_made_meanwhile_stops_being_latest(engine: Engine) -> None:
    """Another controller versioned the bucket and wrote a version after this one read the
    bucket as never versioned: the install still leaves one latest version."""
    _put(engine, "k2", None, b"x")
    with transaction(make_session_factory(engine)) as session:
        session.execute(update(S3Object).where(
            S3Object.bucket == "plain", S3Object.key == "k2").values(is_latest=False))
        session.add(S3Object(bucket="plain", key="k2", version_id="v" * 32, is_latest=True,
                             owner_account_id=ACCOUNT))
    _put(engine, "k2", None, b"y")
    latest = [(r.version_id, r.inline_data) for r in _rows(engine, "k2") if r.is_latest]
    assert latest == [("null", b"y")]


def test_a_removal_frees_the_blob_it_deleted_even_after_a_rewrite(engine: Engine) -> None:
    """The session read the row (blob A) before another writer rewrote it in place (blob B):
    the removal reports B, the blob that the deleted row held."""
    _put(engine, "k3", "c" * 32)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        stale = session.scalar(select(S3Object).where(S3Object.key == "k3"))
        assert stale is not None and stale.blob_id == "c" * 32
        bucket = session.get(Bucket, "plain")
        assert bucket is not None
        if engine.dialect.name == "sqlite":  # the session holds no lock yet: write elsewhere
            done = threading.Thread(target=_put, args=(engine, "k3", "d" * 32))
            done.start()
            done.join()
        else:
            session.commit()  # release nothing held; rewrite from another transaction
            _put(engine, "k3", "d" * 32)
        removal = store.remove(session, bucket, "k3", None, ACCOUNT)
    assert removal.freed == ["d" * 32]
    assert _rows(engine, "k3") == []


def test_a_writing_transaction_holds_the_sqlite_write_lock_from_its_start(
        engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        with writing(engine) as writer:  # PostgreSQL: row locks, nothing to hold here
            assert lookup.bucket(writer, "plain") is not None
        return
    path = engine.url.database
    assert path is not None
    other = sqlite3.connect(path, timeout=0)
    try:
        with writing(engine) as writer:
            assert lookup.bucket(writer, "plain") is not None  # a read, no write yet
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again once the block committed
        other.rollback()
    finally:
        other.close()


def test_a_threads_own_connection_is_closed_when_the_thread_ends(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return  # pooled connections on PostgreSQL
    seen: list[Any] = []

    def work() -> None:
        with reading(engine) as reader:
            seen.append(reader._connection)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    del thread
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError):
        seen[0].execute("SELECT 1")
