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

import threading
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, event
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
    binds: tuple[tuple[int, Callable[[Any], Any]], ...]
    """(position, processor) of the parameters that have a bind processor."""
    results: tuple[Processor, ...] | None
    """Each column's result processor; None when no column has one."""
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
        processors = [binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
        results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None)
                        for c in self._columns)
        return _Compiled(
            sql=compiled.string,
            names=names,
            positional=dialect.positional,
            binds=tuple((i, p) for i, p in enumerate(processors) if p is not None),
            results=results if any(p is not None for p in results) else None,
            row=row_type._make,
        )


class Reader:
    """Runs :class:`Prepared` statements on one DBAPI connection."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect, serialized: bool = False) -> None:
        self._connection = dbapi_connection
        self._dialect = dialect
        self.serialized = serialized
        """True in a :func:`writing` block on SQLite, which holds the database's write lock
        from its start: nothing it read can change before it commits."""

    @classmethod
    def of_session(cls, session: Session) -> Reader:
        """A reader on the session's own connection (it sees the session's flushed writes)."""
        connection = session.connection()
        return cls(connection.connection.driver_connection, connection.dialect)

    def _args(self, c: _Compiled, params: Mapping[str, Any] | None) -> Any:
        given = params or {}
        values = [given[n] for n in c.names]  # a missing parameter is a programming error
        for i, process in c.binds:
            values[i] = process(values[i])
        return values if c.positional else dict(zip(c.names, values, strict=True))

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
        make = c.row
        processors = c.results
        if processors is not None:
            return [make([v if p is None else p(v) for p, v in zip(processors, raw, strict=True)])
                    for raw in fetched]
        return [make(raw) for raw in fetched]

    def first(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> Any | None:
        rows = self.all(prepared, params)
        return rows[0] if rows else None


class _ThreadConnections:
    """SQLite only: each thread's own DBAPI connection for :func:`reading` and
    :func:`writing`, kept open instead of taken from and given back to the pool on every
    block. Checkout, checkin and its rollback cost more than the statements of a hot-path
    block, and a connection that stays with one thread (the event loop's, which serves every
    S3 and EC2 request) keeps its page cache warm. A connection is closed when its thread ends
    (its thread-local state goes, and a finaliser closes it) and all are closed when the
    engine is disposed."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._opened: set[Any] = set()
        self._lock = threading.RLock()  # a finaliser may run while its own thread holds it

    def connection(self, engine: Engine) -> _Own:
        own: _Own | None = getattr(self._local, "own", None)
        if own is None:
            fairy = engine.raw_connection()
            dbapi = fairy.driver_connection
            fairy.detach()  # out of the pool for good: never checked in, closed here
            own = self._local.own = _Own(dbapi, self)
            with self._lock:
                self._opened.add(dbapi)
            weakref.finalize(own, self._close, dbapi)
        return own

    def _close(self, dbapi: Any) -> None:
        with self._lock:
            if dbapi not in self._opened:
                return
            self._opened.discard(dbapi)
        dbapi.close()

    def discard(self, own: _Own) -> None:
        """Close the calling thread's connection (it could not roll back); the thread's next
        block opens a new one."""
        if getattr(self._local, "own", None) is own:
            del self._local.own
        self._close(own.dbapi)

    def close_all(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, set()
            dropped, self._local = self._local, threading.local()
        del dropped  # outside the lock: dropping it may run the finalisers, which take it
        for dbapi in opened:
            dbapi.close()


class _Own:
    """A thread's own connection and what its open blocks are doing."""

    def __init__(self, dbapi: Any, owner: _ThreadConnections) -> None:
        self.dbapi = dbapi
        self.owner = owner
        self.depth = 0
        self.writing = False

    def rollback(self) -> None:
        """Roll back; a connection that cannot is closed rather than reused half-way through
        a transaction."""
        try:
            self.dbapi.rollback()
        except Exception:  # noqa: BLE001 - the caller's error is the one that matters
            self.owner.discard(self)


_OWN: weakref.WeakKeyDictionary[Engine, _ThreadConnections] = weakref.WeakKeyDictionary()
_OWN_LOCK = threading.Lock()


def _own(engine: Engine) -> _Own | None:
    """The calling thread's own connection to ``engine`` (SQLite), None for other databases."""
    if engine.dialect.name != "sqlite":
        return None
    connections = _OWN.get(engine)
    if connections is None:
        with _OWN_LOCK:
            connections = _OWN.get(engine)
            if connections is None:
                connections = _OWN[engine] = _ThreadConnections()
                event.listen(engine, "engine_disposed",
                             lambda _engine: connections.close_all())
    return connections.connection(engine)


def writing(engine: Engine) -> AbstractContextManager[Reader]:
    """One transaction, committed when the block succeeds and rolled back when it raises: for
    hot-path writes made of a few prepared statements, where an ORM session and unit of work
    would cost more than the statements. On the thread's own connection (SQLite) or a pooled
    one. On SQLite the transaction takes the write lock when it begins (``BEGIN IMMEDIATE``), so
    that what it reads before its first write cannot change before it commits. Writing blocks
    do not nest, and no block may ``await``: other tasks on the loop would share it."""
    return _Writing(engine)


def reading(engine: Engine) -> AbstractContextManager[Reader]:
    """A reader on a connection of its own (the thread's own for SQLite, else a pooled one);
    nothing it does is ever committed. Inside a :func:`writing` block of the same thread it
    shares that block's connection and sees its writes."""
    return _Reading(engine)


class _Block:
    """A :func:`writing` or :func:`reading` block, as a class: these blocks run on every
    request, and a generator-based context manager costs several times more to enter and
    leave. On a database other than SQLite the block has a pooled connection of its own."""

    _commits = False

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._own: _Own | None = None
        self._pooled: Any = None

    def _enter_pooled(self) -> Reader:
        self._pooled = self._engine.raw_connection()
        return Reader(self._pooled.driver_connection, self._engine.dialect)

    def _exit_pooled(self, failed: bool) -> None:
        connection = self._pooled
        try:
            if self._commits:
                if failed:
                    connection.rollback()
                else:
                    connection.commit()
        finally:
            connection.close()  # back to the pool, which rolls back


class _Writing(_Block):
    _commits = True

    def __enter__(self) -> Reader:
        own = _own(self._engine)
        if own is None:
            return self._enter_pooled()
        if own.writing:
            raise RuntimeError("writing() blocks do not nest")
        own.writing = True
        own.depth += 1
        self._own = own
        try:
            if not own.dbapi.in_transaction:
                own.dbapi.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._leave(own, failed=True)
            raise
        return Reader(own.dbapi, self._engine.dialect, serialized=True)

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._pooled is not None:
            self._exit_pooled(failed=kind is not None)
        elif self._own is not None:
            self._leave(self._own, failed=kind is not None)

    @staticmethod
    def _leave(own: _Own, failed: bool) -> None:
        try:
            if failed:
                own.rollback()
            else:
                try:
                    own.dbapi.commit()
                except BaseException:
                    own.rollback()
                    raise
        finally:
            own.depth -= 1
            own.writing = False


class _Reading(_Block):
    def __enter__(self) -> Reader:
        own = _own(self._engine)
        if own is None:
            return self._enter_pooled()
        own.depth += 1
        self._own = own
        return Reader(own.dbapi, self._engine.dialect)

    def __exit__(self, *_: object) -> None:
        if self._pooled is not None:
            self._exit_pooled(failed=False)
            return
        own = self._own
        if own is not None:
            own.depth -= 1
            if own.depth == 0 and own.dbapi.in_transaction:
                own.rollback()
