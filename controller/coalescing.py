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

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped: Any = CoalescingTransport(transport, self.loop)
        super().connection_made(wrapped)
