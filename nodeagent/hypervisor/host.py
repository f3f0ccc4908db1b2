"""The hypervisor host: owns the libvirt connection, runs every call off the event loop.

Each call runs in a worker thread of the host's own pool and is awaited with a deadline; a call
that overruns raises :class:`HypervisorTimeout` (the thread finishes on its own). No lock is
held across a domain operation: the only lock serialises (re)connecting, so that a dropped
connection is reopened once, not by every waiting caller. libvirt errors become the classes of
:mod:`.errors` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from nodeagent.hypervisor import libvirt_api as lv
from nodeagent.hypervisor.errors import (
    DomainExists,
    DomainNotFound,
    HypervisorError,
    HypervisorOperationFailed,
    HypervisorTimeout,
    HypervisorUnavailable,
    InvalidDomainState,
)
from nodeagent.hypervisor.events import EventHub

log = logging.getLogger(__name__)
T = TypeVar("T")

_CONNECTION_CODES = {lv.ERR_NO_CONNECT, lv.ERR_INVALID_CONN, lv.ERR_RPC, lv.ERR_SYSTEM_ERROR}
_BY_CODE: dict[int, type[HypervisorError]] = {
    lv.ERR_NO_DOMAIN: DomainNotFound,
    lv.ERR_DOM_EXIST: DomainExists,
    lv.ERR_OPERATION_INVALID: InvalidDomainState,
    lv.ERR_OPERATION_TIMEOUT: HypervisorTimeout,
    lv.ERR_AUTH_FAILED: HypervisorUnavailable,
    lv.ERR_AUTH_UNAVAILABLE: HypervisorUnavailable,
}


def translate(exc: BaseException) -> BaseException:
    """Our error class for a libvirt error; any other exception is returned unchanged."""
    failure = lv.failure_of(exc)
    if failure is None:
        return exc
    if failure.domain in (lv.FROM_RPC, lv.FROM_REMOTE) and failure.code in _CONNECTION_CODES:
        return HypervisorUnavailable(failure.message)
    if failure.code in (lv.ERR_NO_CONNECT, lv.ERR_INVALID_CONN):
        return HypervisorUnavailable(failure.message)
    return _BY_CODE.get(failure.code, HypervisorOperationFailed)(failure.message)


class Host:
    """One libvirt connection (``qemu:///system``, ``test:///default``, ...) used by all guests."""

    def __init__(
        self, uri: str, *, deadline: float = 30.0, workers: int = 16, events: bool = True
    ) -> None:
        self.uri = uri
        self.deadline = deadline
        self.events = EventHub()  # lifecycle and device-removal events of every domain
        self._want_events = events
        self._event_ids: list[int] = []
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="libvirt")
        self._conn: lv.Connection | None = None
        self._connect_lock = threading.Lock()

    async def call(self, fn: Callable[[lv.Connection], T], *, deadline: float | None = None) -> T:
        """Run ``fn(connection)`` in a worker thread, within ``deadline`` seconds.

        A call that fails because the connection died is retried once on a new connection.
        """
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._call_blocking, fn)
        try:
            return await asyncio.wait_for(
                future, deadline if deadline is not None else self.deadline
            )
        except TimeoutError as exc:
            raise HypervisorTimeout(
                f"hypervisor call overran {deadline or self.deadline} s"
            ) from exc

    def _call_blocking(self, fn: Callable[[lv.Connection], T]) -> T:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                return fn(conn)
            except Exception as exc:
                error = translate(exc)
                if isinstance(error, HypervisorUnavailable) and attempt == 1:
                    log.warning("event=libvirt_connection_lost uri=%s error=%s", self.uri, error)
                    self._drop(conn)
                    continue
                if error is exc:
                    raise
                raise error from exc
        raise AssertionError("unreachable")

    def _connection(self) -> lv.Connection:
        with self._connect_lock:
            conn = self._conn
            if conn is not None and _alive(conn):
                return conn
            try:
                if self._want_events:
                    lv.start_event_loop()  # before opening: the connection must see it
                self._conn = lv.open_connection(self.uri)
            except HypervisorError:
                raise
            except Exception as exc:
                error = translate(exc)
                raise HypervisorUnavailable(f"cannot connect to {self.uri}: {error}") from exc
            log.info("event=libvirt_connected uri=%s", self.uri)
            if self._want_events:
                self._subscribe(self._conn)
            return self._conn

    def _subscribe(self, conn: lv.Connection) -> None:
        try:
            self._event_ids = lv.register_domain_events(
                conn, self.events.on_lifecycle, self.events.on_device
            )
        except Exception as exc:  # noqa: BLE001 - heartbeats still report every state
            self._event_ids = []
            log.warning("event=libvirt_events_unavailable uri=%s error=%s", self.uri, exc)

    def _drop(self, conn: lv.Connection) -> None:
        with self._connect_lock:
            if self._conn is conn:
                self._conn = None
        try:
            conn.close()
        except Exception as exc:  # noqa: BLE001 - the connection is already broken
            log.debug("event=libvirt_close_failed error=%s", exc)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            ids, self._event_ids = self._event_ids, []
            await asyncio.get_running_loop().run_in_executor(
                self._pool, lv.close_connection, conn, ids
            )
        self._pool.shutdown(wait=False)

    # --- host facts ------------------------------------------------------------------------

    async def version(self) -> int:
        """libvirt's version of the hypervisor (e.g. 7002000 for QEMU 7.2)."""
        return int(await self.call(lambda conn: conn.getVersion()))

    async def domain_names(self) -> list[str]:
        """Names of every defined domain, running or not."""
        return sorted(str(d.name()) for d in await self.call(lambda c: c.listAllDomains(0)))

    async def define(self, xml: str) -> None:
        """Define (or redefine) a persistent domain from its XML."""
        await self.call(lambda conn: conn.defineXML(xml))


def _alive(conn: lv.Connection) -> bool:
    try:
        return bool(conn.isAlive())
    except Exception:  # noqa: BLE001 - a broken connection is simply not alive
        return False
