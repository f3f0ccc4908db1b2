"""Prebuilt, account-scoped statements for the Describe* hot path.

Building a SQLAlchemy statement costs more than running it on SQLite, so each shape of query is
built once (per model, filter columns and order) with bind parameters, and reused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from controller.db.models import Base

M = TypeVar("M", bound=Base)


@cache
def _owned(
    model: type[Base], columns: tuple[str, ...], order_by: str | None, rows: bool
) -> Select[Any]:
    table = model.__table__
    query = select(table if rows else model).where(table.c.account_id == bindparam("account_id"))
    for name in columns:
        query = query.where(table.c[name].in_(bindparam(name, expanding=True)))
    if order_by:
        query = query.order_by(table.c[order_by])
    return query


def owned(
    session: Session,
    model: type[M],
    account_id: str,
    where_in: Mapping[str, Sequence[Any]] | None = None,
    order_by: str | None = None,
) -> list[M]:
    """Rows of ``model`` owned by ``account_id``; each non-empty ``where_in`` list narrows it."""
    narrowing = {k: list(v) for k, v in (where_in or {}).items() if v}
    statement = _owned(model, tuple(sorted(narrowing)), order_by, False)
    return list(session.scalars(statement, {"account_id": account_id, **narrowing}))


def owned_rows(
    session: Session,
    model: type[Base],
    account_id: str,
    where_in: Mapping[str, Sequence[Any]] | None = None,
    order_by: str | None = None,
) -> list[Row[Any]]:
    """As :func:`owned`, but plain rows (attribute access by column name) for read-only paths:
    several times cheaper than loading ORM objects."""
    narrowing = {k: list(v) for k, v in (where_in or {}).items() if v}
    statement = _owned(model, tuple(sorted(narrowing)), order_by, True)
    return list(session.execute(statement, {"account_id": account_id, **narrowing}))
