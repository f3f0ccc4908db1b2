"""One write per response: uvicorn writes a response's status line and headers as soon as the
application starts the response and its body as a second write. For small replies (most API
calls, small S3 objects) that is two system calls and two TCP segments, and the client wakes
up twice. :class:`CoalescingHttpTools` gives uvicorn's HTTP protocol a transport that gathers
the writes of one event-loop turn and sends them as one at the end of that turn."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_FLUSH_AT = 64 * 1024


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

    _idle_timer: asyncio.TimerHandle | None = None
    _active_at = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped: Any = CoalescingTransport(transport, self.loop)
        super().connection_made(wrapped)
        self._active_at = self.loop.time()

    def data_received(self, data: bytes) -> None:
        self._active_at = self.loop.time()
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
