"""One write per response: uvicorn writes a response's status line and headers as soon as the
application starts the response and its body as a second write. For small replies (most API
calls, small S3 objects) that is two system calls and two TCP segments, and the client wakes
up twice. :class:`CoalescingHttpTools` gives uvicorn's HTTP protocol a transport that gathers
the writes of one event-loop turn and sends them as one at the end of that turn.

It also polls busily for a short while after each request and response (:class:`BusyPoll`),
so that a client's next request does not have to wake the server's CPU from its idle state."""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

_FLUSH_AT = 64 * 1024


class BusyPoll:
    """Keeps the event loop polling (``epoll_wait`` with no timeout) for ``window`` seconds
    after the last :meth:`touch`, instead of sleeping in the kernel.

    A server that sleeps between a response and the client's next request is woken by the
    kernel when that request arrives; on a virtual machine whose idle CPUs halt, that wake-up
    and the caches gone cold meanwhile cost more than a small request's own work (see
    docs/s3-performance.md). While the loop polls, it answers at once. The cost is CPU: at
    most ``window`` of one core after each burst of traffic, none when idle."""

    __slots__ = ("_loop", "_spinning", "_until", "_window")

    def __init__(self, loop: asyncio.AbstractEventLoop, window: float) -> None:
        self._loop = loop
        self._window = window
        self._until = 0.0
        self._spinning = False

    def touch(self) -> None:
        self._until = time.monotonic() + self._window
        if not self._spinning:
            self._spinning = True
            self._loop.call_soon(self._spin)

    def _spin(self) -> None:
        # A ready callback makes the loop poll without blocking; this one keeps itself ready
        # until the window has passed with nothing new.
        if time.monotonic() < self._until:
            self._loop.call_soon(self._spin)
        else:
            self._spinning = False


_polls: weakref.WeakKeyDictionary[ServerState, BusyPoll] = weakref.WeakKeyDictionary()
"""One :class:`BusyPoll` per server (a server runs on one loop)."""


class CoalescingTransport:
    """Wraps a transport: ``write`` is deferred to the end of the current loop turn, where
    everything written in that turn goes out in one call; ``close`` sends what is pending
    first. Everything else is the wrapped transport's."""

    __slots__ = ("_loop", "_pending", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data) if not isinstance(data, bytes) else data)
        self._size += len(data)
        if self._size >= _FLUSH_AT:
            # Large writes go out at once: the wrapped transport's buffer and its flow control
            # (pause_writing) see them, and nothing large waits here.
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:  # asked several times per request: no __getattr__ detour
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`CoalescingTransport`, with one keep-alive
    timer per connection: uvicorn arms a new timer after every response and cancels it when
    the next request arrives, which on a busy keep-alive connection costs more than the write
    coalescing saves. Here the timer is armed once and, when it fires, closes the connection
    only if it has been idle (no response in progress, no data) for ``timeout_keep_alive``
    seconds; else it waits for the rest of that time."""

    busy_poll_seconds = 0.0
    """How long the loop polls busily after a request's data or a response (0: never)."""

    _idle_timer: asyncio.TimerHandle | None = None
    _active_at = 0.0
    _poll: BusyPoll | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped: Any = CoalescingTransport(transport, self.loop)
        super().connection_made(wrapped)
        self._active_at = self.loop.time()
        if self.busy_poll_seconds > 0:
            poll = _polls.get(self.server_state)
            if poll is None:
                poll = _polls[self.server_state] = BusyPoll(self.loop, self.busy_poll_seconds)
            self._poll = poll

    def data_received(self, data: bytes) -> None:
        self._active_at = self.loop.time()
        if self._poll is not None:
            self._poll.touch()
        super().data_received(data)

    def on_response_complete(self) -> None:
        # uvicorn's own, but for the keep-alive timer (see the class).
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._active_at = self.loop.time()
        if self._poll is not None:
            self._poll.touch()
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_later(self.timeout_keep_alive, self._idle_check)

    def _idle_check(self) -> None:
        self._idle_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # busy: on_response_complete arms the timer again
        idle = self.loop.time() - self._active_at
        if idle >= self.timeout_keep_alive:
            self.timeout_keep_alive_handler()
        else:
            self._idle_timer = self.loop.call_later(self.timeout_keep_alive - idle,
                                                    self._idle_check)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)


def http_protocol(busy_poll_us: int) -> type[CoalescingHttpTools]:
    """The protocol class for uvicorn, polling busily for ``busy_poll_us`` microseconds after
    each request and response (0: never)."""
    if busy_poll_us <= 0:
        return CoalescingHttpTools
    return type("BusyPollingHttpTools", (CoalescingHttpTools,),
                {"busy_poll_seconds": busy_poll_us / 1e6})
