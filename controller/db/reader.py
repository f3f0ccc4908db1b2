"""Hot-path reads straight on the DBAPI cursor.

An ORM ``Session`` and a Core ``execute`` each cost several times more than running a small
indexed SELECT on SQLite or PostgreSQL. The statements on every request (the access key lookup,
the Describe* listings) are therefore written once as Core ``Select`` objects, compiled once per
dialect by :class:`Prepared`, and run by a :class:`Reader` on one pooled DBAPI connection, with
SQLAlchemy's own bind and result processors applied so values come back exactly as Core would
return them (``DateTime`` columns as ``datetime`` on SQLite too).

A Reader over a Session (:meth:`Reader.of_session`) shares that session's connection and so sees
its uncommitted writes; a Reader from :func:`reading` has a connection of its own, returned to the
pool (and rolled back) when the block ends.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    positional: bool
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]
    row: Callable[[Any], Any]


class Prepared:
    """A Core SELECT (or INSERT/UPDATE/DELETE, with or without RETURNING) compiled once per
    dialect; rows come back as named tuples.

    Bind parameters must be plain (``bindparam("name")``): expanding ``IN`` lists are refused at
    compile time (build one statement per list length instead), and so are literal values, which
    compile to parameters the caller cannot name (bind them as ``bindparam`` too)."""

    def __init__(self, statement: Select[Any] | UpdateBase) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}
        self._columns = tuple(statement.exported_columns)

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        binds = compiled.binds
        if (any(bind.expanding or not bind.required for bind in binds.values())
                or compiled.escaped_bind_names):
            raise ValueError("Prepared statements take plain, unescaped bind parameters only")
        names = tuple(compiled.positiontup or ()) if dialect.positional else tuple(binds)
        labels = [str(column.key) for column in self._columns]
        row_type: Any = namedtuple("Row", labels, rename=True)  # type: ignore[misc]
        return _Compiled(
            sql=compiled.string,
            names=names,
            positional=dialect.positional,
            binds=tuple(binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names),
            results=tuple(c.type.dialect_impl(dialect).result_processor(dialect, None)
                          for c in self._columns),
            row=row_type._make,
        )


class Reader:
    """Runs :class:`Prepared` statements on one DBAPI connection."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        self._connection = dbapi_connection
        self._dialect = dialect

    @classmethod
    def of_session(cls, session: Session) -> Reader:
        """A reader on the session's own connection (it sees the session's flushed writes)."""
        connection = session.connection()
        return cls(connection.connection.driver_connection, connection.dialect)

    def _args(self, c: _Compiled, params: Mapping[str, Any] | None) -> Any:
        given = params or {}
        values = [given[n] for n in c.names]  # a missing parameter is a programming error
        for i, process in enumerate(c.binds):
            if process is not None:
                values[i] = process(values[i])
        return tuple(values) if c.positional else dict(zip(c.names, values, strict=True))

    def _run(self, cursor: Any, c: _Compiled, params: Mapping[str, Any] | None) -> None:
        """Execute; a driver error is raised as SQLAlchemy's (``IntegrityError``, ...), as Core
        would raise it, so callers catch one family of exceptions whichever way they ran SQL."""
        args = self._args(c, params)
        dbapi = self._dialect.loaded_dbapi
        try:
            cursor.execute(c.sql, args)
        except dbapi.Error as exc:
            raise DBAPIError.instance(c.sql, args, exc, dbapi.Error,
                                      dialect=self._dialect) from exc

    def execute(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement that returns no rows (INSERT, UPDATE, DELETE); its row count."""
        c = prepared.compiled(self._dialect)
        cursor = self._connection.cursor()
        try:
            self._run(cursor, c, params)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def all(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> list[Any]:
        c = prepared.compiled(self._dialect)
        cursor = self._connection.cursor()
        try:
            self._run(cursor, c, params)
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        if any(p is not None for p in c.results):
            processors = c.results
            return [c.row([v if p is None else p(v) for p, v in zip(processors, raw, strict=True)])
                    for raw in fetched]
        make = c.row
        return [make(raw) for raw in fetched]

    def first(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> Any | None:
        rows = self.all(prepared, params)
        return rows[0] if rows else None


@contextmanager
def reading(engine: Engine) -> Iterator[Reader]:
    """A reader with a pooled connection of its own; nothing it does is ever committed."""
    connection = engine.raw_connection()
    try:
        yield Reader(connection.driver_connection, engine.dialect)
    finally:
        connection.close()  # back to the pool, which rolls back
