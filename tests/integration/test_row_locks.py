"""``SELECT ... FOR UPDATE`` protects a read-modify-write on both backends: a concurrent writer
waits until the locking session commits, so neither update is lost (on SQLite, which has no row
locks, the locking SELECT takes the database's write lock; see controller.db.engine)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, select, update

from controller.db.engine import make_session_factory, transaction
from controller.db.models import KeyPair
from tests.integration.conftest import seeded

ACCOUNT = "444455556666"
PAIR = "key-000000000000000a1"


@pytest.fixture(scope="module")
def engine(fresh_engine: Engine) -> Engine:
    return seeded(fresh_engine, ACCOUNT, "locks", "d" * 64,
                  KeyPair(id=PAIR, account_id=ACCOUNT, name="k", key_type="rsa",
                          fingerprint="f", public_key="p"))


def test_a_locking_read_holds_off_a_concurrent_writer_until_commit(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    other_done = threading.Event()

    def other_writer() -> None:
        with transaction(sessions) as session:
            session.execute(update(KeyPair).where(KeyPair.id == PAIR)
                            .values(fingerprint=KeyPair.fingerprint + "b"))
        other_done.set()

    with transaction(sessions) as session:
        # A plain read first, as the alarm evaluator and the reconcilers do before locking.
        assert session.scalar(select(KeyPair.fingerprint).where(KeyPair.id == PAIR)) == "f"
        pair = session.scalars(select(KeyPair).where(KeyPair.id == PAIR)
                               .with_for_update()).one()
        seen = pair.fingerprint
        thread = threading.Thread(target=other_writer)
        thread.start()
        assert not other_done.wait(0.5), "the other writer did not wait for the lock"
        pair.fingerprint = seen + "a"
    thread.join(15)
    assert other_done.is_set()
    with transaction(sessions) as session:
        assert session.scalar(select(KeyPair.fingerprint).where(KeyPair.id == PAIR)) == "fab"


def test_a_locking_read_inside_a_write_transaction_keeps_it(engine: Engine) -> None:
    """A session that has written already holds the lock; its locking SELECT must not try to
    begin a second transaction, and both of its changes commit together."""
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        session.execute(update(KeyPair).where(KeyPair.id == PAIR).values(name="k2"))
        pair = session.scalars(select(KeyPair).where(KeyPair.id == PAIR)
                               .with_for_update()).one()
        pair.fingerprint = "g"
    with transaction(sessions) as session:
        row = session.execute(select(KeyPair.name, KeyPair.fingerprint)
                              .where(KeyPair.id == PAIR)).one()
    assert tuple(row) == ("k2", "g")

