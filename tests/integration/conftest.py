"""Integration fixtures: a fresh, empty database of the current backend for a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from controller.db.engine import make_engine, make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.db.models import Account
from tests.conftest import fresh_pg_database


@pytest.fixture(scope="module")
def fresh_engine(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An engine on a new SQLite file or a new PostgreSQL database, with no schema yet."""
    if db_backend == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}")
        yield eng
        eng.dispose()
        return
    with fresh_pg_database() as url:
        eng = make_engine(url)
        yield eng
        eng.dispose()


def seeded(engine: Engine, account_id: str, name: str, canonical_id: str,
           *rows: object) -> Engine:
    """``engine`` migrated, with one account and then ``rows`` (the account's resources)."""
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        session.add(Account(id=account_id, name=name, canonical_user_id=canonical_id))
        session.flush()
        session.add_all(rows)
    return engine
