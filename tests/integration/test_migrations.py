"""Alembic revisions and the SQLAlchemy models must describe the same schema, on both databases."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from controller.db.migrate import alembic_config, upgrade
from controller.db.models import Base


@pytest.fixture(scope="module")
def engine(fresh_engine: Engine) -> Engine:
    return fresh_engine


def test_upgrade_head_matches_models(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_downgrade_removes_everything(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_engine_settings(engine: Engine) -> None:
    """SQLite: WAL and enforced foreign keys on every connection; PostgreSQL: through psycopg 3."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        else:
            assert engine.dialect.driver == "psycopg"
            assert int(str(conn.exec_driver_sql("SHOW server_version_num").scalar())) >= 120000
