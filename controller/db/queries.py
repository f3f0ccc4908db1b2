"""Prebuilt, account-scoped statements for the Describe* hot path.

Building a SQLAlchemy statement, and loading ORM objects, cost more than running the query, so
each shape of query (model, narrowing columns with their list lengths, order) is built and
compiled once, and read as named tuples through a :class:`~controller.db.reader.Reader`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select

from controller.db.models import Base, Tag
from controller.db.reader import Prepared, Reader


@lru_cache(maxsize=512)
def _owned_with_tags(
    model: type[Base], narrowing: tuple[tuple[str, int], ...], order_by: str | None
) -> Prepared:
    table = model.__table__
    tags = Tag.__table__
    query = (
        select(table, tags.c.key.label("tag_key"), tags.c.value.label("tag_value"))
        .outerjoin(tags, (tags.c.resource_id == table.c.id)
                   & (tags.c.account_id == table.c.account_id))
        .where(table.c.account_id == bindparam("account_id"))
    )
    for name, count in narrowing:
        query = query.where(table.c[name].in_([bindparam(f"{name}_{i}") for i in range(count)]))
    if order_by:
        query = query.order_by(table.c[order_by])
    return Prepared(query)


def owned_rows_with_tags(
    reader: Reader,
    model: type[Base],
    account_id: str,
    where_in: Mapping[str, Sequence[Any]] | None = None,
    order_by: str | None = None,
) -> list[tuple[Any, dict[str, str]]]:
    """Rows of ``model`` owned by ``account_id``, each with its tags, in one query.

    Each non-empty ``where_in`` list narrows the result to rows whose column is in it. Rows
    have attribute access by column name (``row.id``, ``row.name``)."""
    params: dict[str, Any] = {"account_id": account_id}
    narrowing = []
    for name, values in sorted((where_in or {}).items()):
        distinct = list(dict.fromkeys(values))
        if distinct:
            narrowing.append((name, len(distinct)))
            params.update({f"{name}_{i}": v for i, v in enumerate(distinct)})
    statement = _owned_with_tags(model, tuple(narrowing), order_by)
    return rows_with_tags(reader.all(statement, params))


def rows_with_tags(rows: Iterable[Any]) -> list[tuple[Any, dict[str, str]]]:
    """Group the rows of a ``LEFT JOIN tags`` query (columns ``id``, ``tag_key``,
    ``tag_value``, in row order) into (row, tags) pairs, one per id."""
    result: dict[str, tuple[Any, dict[str, str]]] = {}
    for row in rows:
        entry = result.get(row.id)
        if entry is None:
            entry = result[row.id] = (row, {})
        if row.tag_key is not None:
            entry[1][row.tag_key] = row.tag_value
    return list(result.values())
