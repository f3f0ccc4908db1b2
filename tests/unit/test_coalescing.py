"""controller.coalescing: the writes of one loop turn leave as one, in order; close sends
what is pending first; a real uvicorn server on it answers whole responses; busy polling
keeps the loop awake for its window after activity, and no longer."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from controller.coalescing import BusyPoll, CoalescingHttpTools, CoalescingTransport, http_protocol


class _Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 7


def test_writes_of_one_turn_leave_as_one_write() -> None:
    async def scenario() -> list[bytes]:
        inner = _Recorder()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(bytearray(b"body"))
        assert inner.writes == []  # nothing left yet
        await asyncio.sleep(0)
        transport.write(b"next")
        await asyncio.sleep(0)
        return inner.writes

    assert asyncio.run(scenario()) == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"next"]


def test_close_sends_pending_writes_first_and_other_calls_pass_through() -> None:
    async def scenario() -> _Recorder:
        inner = _Recorder()
        transport: Any = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"last words")
        assert transport.get_write_buffer_size() == 7
        transport.close()
        await asyncio.sleep(0)  # the scheduled flush finds nothing more to send
        return inner

    inner = asyncio.run(scenario())
    assert inner.writes == [b"last words"] and inner.closed


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b"x" * 5000
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def _server(keep_alive: float = 5, http: type[CoalescingHttpTools] = CoalescingHttpTools
            ) -> Iterator[int]:
    """A real uvicorn server on the protocol; its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app, host="127.0.0.1", port=port, log_config=None,
                                           http=http, lifespan="off",
                                           timeout_keep_alive=keep_alive))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize("busy_poll_us", [0, 250])
def test_a_real_server_on_it_answers_keep_alive_requests_whole(busy_poll_us: int) -> None:
    with _server(http=http_protocol(busy_poll_us)) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}",
                                         trust_env=False) as client:
        for _ in range(20):  # one connection, kept alive
            reply = client.get("/")
            assert reply.status_code == 200 and reply.content == b"x" * 5000


_REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"x" * 5000):
        chunk = sock.recv(65536)
        assert chunk, "closed before the answer"
        data += chunk
    return data


def test_keep_alive_closes_an_idle_connection_only() -> None:
    """One timer per connection: a connection in use (requests, or a request arriving in
    parts) stays open past the keep-alive time; an idle one is closed once it has passed."""
    with _server(keep_alive=0.6) as port:
        with socket.create_connection(("127.0.0.1", port)) as busy:
            for _ in range(8):  # 1.6 s of requests, never 0.6 s apart
                busy.sendall(_REQUEST)
                assert _answer(busy).startswith(b"HTTP/1.1 200")
                time.sleep(0.2)
            busy.sendall(_REQUEST[:10])  # a request sent slowly, in two parts
            time.sleep(0.4)
            busy.sendall(_REQUEST[10:])
            time.sleep(0.4)  # 0.8 s after the last response, 0.4 s after the last data
            assert _answer(busy).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", port)) as idle:
            idle.sendall(_REQUEST)
            _answer(idle)
            started = time.monotonic()
            idle.settimeout(5)
            assert idle.recv(1) == b""  # closed by the server
            assert 0.5 <= time.monotonic() - started < 2.5


def test_large_writes_leave_at_once() -> None:
    async def scenario() -> list[bytes]:
        inner = _Recorder()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"head")
        transport.write(b"x" * (64 * 1024))
        sent_at_once = list(inner.writes)
        transport.write(b"tail")
        await asyncio.sleep(0)
        return [*sent_at_once, b"--", *inner.writes]

    big = b"head" + b"x" * (64 * 1024)
    assert asyncio.run(scenario()) == [big, b"--", big, b"tail"]


class _CountingPoll(BusyPoll):
    __slots__ = ("spins",)

    def __init__(self, loop: asyncio.AbstractEventLoop, window: float) -> None:
        super().__init__(loop, window)
        self.spins = 0

    def _spin(self) -> None:
        self.spins += 1
        super()._spin()


def test_busy_poll_keeps_the_loop_polling_for_its_window_then_sleeps() -> None:
    async def scenario() -> tuple[int, int, int, int]:
        poll = _CountingPoll(asyncio.get_running_loop(), 0.05)
        await asyncio.sleep(0.02)
        idle = poll.spins  # nothing touched it: the loop slept
        poll.touch()
        poll.touch()  # a second touch extends the window, it does not start a second poller
        await asyncio.sleep(0.02)
        during = poll.spins
        await asyncio.sleep(0.1)
        after = poll.spins
        await asyncio.sleep(0.05)
        return idle, during, after, poll.spins

    idle, during, after, later = asyncio.run(scenario())
    assert idle == 0
    assert during > 20  # polled over and over while the timer ran
    assert after == later  # the window passed: no more polling


def test_the_protocol_class_carries_the_window() -> None:
    assert http_protocol(0) is CoalescingHttpTools
    polling = http_protocol(250)
    assert issubclass(polling, CoalescingHttpTools)
    assert polling.busy_poll_seconds == pytest.approx(0.00025)
