"""Apply Alembic migrations programmatically (at start-up and in tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

import migrations


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to call on every start and from several processes."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Serialise concurrent controllers starting against one database.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7735420101)")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
