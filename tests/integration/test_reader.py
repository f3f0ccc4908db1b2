"""controller.db.reader on both backends: prepared SELECTs on the raw DBAPI connection return
what SQLAlchemy Core returns, see the session's uncommitted writes, and commit nothing."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from controller.db.engine import make_engine, make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.db.models import Account, KeyPair
from controller.db.queries import owned_rows_with_tags
from controller.db.reader import Prepared, Reader, reading, writing
from controller.ec2.tagging import set_tags

PAIRS = KeyPair.__table__.c
BY_ACCOUNT = Prepared(select(PAIRS.id, PAIRS.name, PAIRS.created_at)
                      .where(PAIRS.account_id == bindparam("account_id"))
                      .order_by(PAIRS.name))
CREATED_AFTER = Prepared(select(PAIRS.name).where(PAIRS.created_at > bindparam("after"))
                         .order_by(PAIRS.name))
STAMP = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine(fresh_engine: Engine) -> Engine:
    upgrade(fresh_engine)
    with transaction(make_session_factory(fresh_engine)) as session:
        session.add(Account(id="111122223333", name="reader", canonical_user_id="c" * 64))
        session.flush()
        for n, name in enumerate(["b", "a", "c"]):
            session.add(KeyPair(id=f"key-{n:017x}", account_id="111122223333", name=name,
                                key_type="rsa", fingerprint="f", public_key="p",
                                created_at=STAMP))
    return fresh_engine


def test_rows_match_core_including_datetimes(engine: Engine) -> None:
    with reading(engine) as reader:
        rows = reader.all(BY_ACCOUNT, {"account_id": "111122223333"})
    with engine.connect() as conn:
        core = conn.execute(BY_ACCOUNT.statement, {"account_id": "111122223333"}).all()
    assert [tuple(r) for r in rows] == [tuple(r) for r in core]
    assert [r.name for r in rows] == ["a", "b", "c"]
    assert rows[0].created_at.replace(tzinfo=UTC) == STAMP


def test_bind_processors_apply(engine: Engine) -> None:
    with reading(engine) as reader:
        assert [r.name for r in reader.all(CREATED_AFTER, {"after": datetime(2026, 1, 1)})] == [
            "a", "b", "c"]
        assert reader.all(CREATED_AFTER, {"after": datetime(2026, 2, 1)}) == []
        assert reader.first(BY_ACCOUNT, {"account_id": "000000000000"}) is None


def test_reader_of_session_sees_uncommitted_writes_and_reading_commits_nothing(
    engine: Engine,
) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        session.add(KeyPair(id="key-00000000000000099", account_id="111122223333", name="d",
                            key_type="rsa", fingerprint="f", public_key="p"))
        session.flush()
        rows = Reader.of_session(session).all(BY_ACCOUNT, {"account_id": "111122223333"})
        assert [r.name for r in rows] == ["a", "b", "c", "d"]
        session.rollback()
    with reading(engine) as reader:
        assert len(reader.all(BY_ACCOUNT, {"account_id": "111122223333"})) == 3


def test_owned_rows_with_tags_narrows_by_lists(engine: Engine) -> None:
    with transaction(make_session_factory(engine)) as session:
        set_tags(session, "111122223333", {"key-00000000000000000": "key-pair"},
                 {"env": "prod", "team": "x"})
    with reading(engine) as reader:
        everything = owned_rows_with_tags(reader, KeyPair, "111122223333", order_by="name")
        assert [(r.name, t) for r, t in everything] == [
            ("a", {}), ("b", {"env": "prod", "team": "x"}), ("c", {})]
        some = owned_rows_with_tags(reader, KeyPair, "111122223333",
                                    {"name": ["c", "a", "c"], "id": []}, "name")
        assert [r.name for r, _ in some] == ["a", "c"]
        assert owned_rows_with_tags(reader, KeyPair, "999999999999") == []


def test_expanding_parameters_are_refused(engine: Engine) -> None:
    statement = Prepared(select(PAIRS.id).where(PAIRS.name.in_(bindparam("names", expanding=True))))
    with reading(engine) as reader, pytest.raises(ValueError, match="plain"):
        reader.all(statement, {"names": ["a"]})


NEW_PAIR = Prepared(insert(KeyPair).values(
    id=bindparam("id"), account_id=bindparam("account_id"), name=bindparam("name"),
    key_type=bindparam("key_type"), fingerprint=bindparam("fp"), public_key=bindparam("pk"),
    created_at=bindparam("created_at")))
DROP_PAIR = Prepared(delete(KeyPair).where(PAIRS.name == bindparam("name")))


def _pair(name: str, n: int) -> dict[str, object]:
    return {"id": f"key-{n:017x}", "account_id": "111122223333", "name": name,
            "key_type": "rsa", "fp": "f", "pk": "p", "created_at": STAMP}


def _names(engine: Engine) -> list[str]:
    with reading(engine) as reader:
        return [r.name for r in reader.all(BY_ACCOUNT, {"account_id": "111122223333"})]


def test_writing_commits_when_the_block_succeeds(engine: Engine) -> None:
    with writing(engine) as writer:
        writer.execute(NEW_PAIR, _pair("w1", 0x100))
        with reading(engine) as reader:  # on SQLite, the thread's own connection: sees the write
            inside = [r.name for r in reader.all(BY_ACCOUNT, {"account_id": "111122223333"})]
        assert "w1" in inside or engine.dialect.name != "sqlite"
    assert "w1" in _names(engine)
    with writing(engine) as writer:
        assert writer.execute(DROP_PAIR, {"name": "w1"}) == 1
    assert "w1" not in _names(engine)


def test_writing_rolls_back_when_the_block_raises(engine: Engine) -> None:
    before = _names(engine)
    with pytest.raises(RuntimeError, match="boom"), writing(engine) as writer:
        writer.execute(NEW_PAIR, _pair("w2", 0x101))
        raise RuntimeError("boom")
    assert _names(engine) == before
    with writing(engine) as writer, pytest.raises(IntegrityError):  # a driver error, as Core's
        writer.execute(NEW_PAIR, _pair("a", 0x102))  # (account, name) is unique
    assert _names(engine) == before


def test_writing_blocks_do_not_nest_on_the_threads_own_connection(engine: Engine) -> None:
    with writing(engine):
        if engine.dialect.name == "sqlite":  # one connection per thread: refused
            with pytest.raises(RuntimeError, match="nest"), writing(engine):
                pass
        else:  # pooled connections: two independent transactions
            with writing(engine) as inner:
                inner.execute(NEW_PAIR, _pair("w3", 0x103))
    assert ("w3" in _names(engine)) == (engine.dialect.name != "sqlite")


def test_each_thread_has_its_own_connection_and_dispose_closes_them(
        tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'own.db'}")
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        session.add(Account(id="111122223333", name="reader", canonical_user_id="c" * 64))
    seen: list[object] = []  # the connections themselves: ids of freed ones could be reused

    def work(name: str, n: int) -> None:
        with writing(engine) as writer:
            writer.execute(NEW_PAIR, _pair(name, n))
            seen.append(writer._connection)

    threads = [threading.Thread(target=work, args=(f"t{n}", 0x200 + n)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(connection) for connection in seen}) == 4
    assert sorted(_names(engine)) == ["t0", "t1", "t2", "t3"]
    with reading(engine) as reader:
        connection = reader._connection
    engine.dispose()
    with pytest.raises(sqlite3.ProgrammingError):
        connection.execute("SELECT 1")
