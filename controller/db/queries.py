"""Prebuilt, account-scoped statements for the Describe* hot path.

Building a SQLAlchemy statement, and loading ORM objects, cost more than running the query on
SQLite, so each shape of query is built once (per model, filter columns and order) with bind
parameters, and read as plain rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from controller.db.models import Base, Tag


@cache
def _owned_with_tags(
    model: type[Base], columns: tuple[str, ...], order_by: str | None
) -> Select[Any]:
    table = model.__table__
    tags = Tag.__table__
    query = (
        select(table, tags.c.key.label("tag_key"), tags.c.value.label("tag_value"))
        .outerjoin(tags, (tags.c.resource_id == table.c.id)
                   & (tags.c.account_id == table.c.account_id))
        .where(table.c.account_id == bindparam("account_id"))
    )
    for name in columns:
        query = query.where(table.c[name].in_(bindparam(name, expanding=True)))
    if order_by:
        query = query.order_by(table.c[order_by])
    return query


def owned_rows_with_tags(
    session: Session,
    model: type[Base],
    account_id: str,
    where_in: Mapping[str, Sequence[Any]] | None = None,
    order_by: str | None = None,
) -> list[tuple[Row[Any], dict[str, str]]]:
    """Rows of ``model`` owned by ``account_id``, each with its tags, in one query.

    Each non-empty ``where_in`` list narrows the result to rows whose column is in it. Rows
    have attribute access by column name (``row.id``, ``row.name``)."""
    narrowing = {k: list(v) for k, v in (where_in or {}).items() if v}
    statement = _owned_with_tags(model, tuple(sorted(narrowing)), order_by)
    result: dict[str, tuple[Row[Any], dict[str, str]]] = {}
    for row in session.execute(statement, {"account_id": account_id, **narrowing}):
        entry = result.get(row.id)
        if entry is None:
            entry = result[row.id] = (row, {})
        if row.tag_key is not None:
            entry[1][row.tag_key] = row.tag_value
    return list(result.values())
