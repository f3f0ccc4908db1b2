"""Fake node agents (``nodeagent.fake``) served over real HTTP for a real controller.

``nodeagent.fake.FakeNode`` registers a ``*.fake.invalid`` endpoint that only an in-process
client can reach; here each fake's command API runs under uvicorn on a loopback port, and the
node registers that address (through the real ``ControllerLink``) and sends heartbeats, all on
one background event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

from nodeagent.controller_link import ControllerLink, NodeDescription
from nodeagent.fake import FakeNode

if TYPE_CHECKING:
    from tests.conftest import Server


class _Quiet(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class NodeShape:
    name: str
    vcpus: int = 64
    memory_mib: int = 65536
    disk_gib: int = 1000
    max_instances: int = 64


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeCluster:
    """Fake nodes of one controller; ``nodes[name].instances`` is each one's instance table."""

    def __init__(self, controller_url: str, cluster_token: str, state_dir: Path) -> None:
        self.url = controller_url
        self.token = cluster_token
        self.state_dir = state_dir
        self.nodes: dict[str, FakeNode] = {}
        self.links: dict[str, ControllerLink] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._tasks: list[asyncio.Task[Any]] = []
        self._servers: list[_Quiet] = []
        self._client: httpx.AsyncClient | None = None

    def call(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(60)

    def add(self, shape: NodeShape) -> FakeNode:
        return self.call(self._add(shape))  # type: ignore[no-any-return]

    async def _add(self, shape: NodeShape) -> FakeNode:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False, timeout=30)
        token = f"token-{shape.name}"
        fake = FakeNode(shape.name, self.url, self.token, self._client, api_token=token,
                        vcpus=shape.vcpus, memory_mib=shape.memory_mib,
                        disk_gib=shape.disk_gib, max_instances=shape.max_instances)
        port = free_port()
        server = _Quiet(uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_config=None,
                                       access_log=False, lifespan="off"))
        self._servers.append(server)
        self._tasks.append(asyncio.create_task(server.serve()))
        while not server.started:
            await asyncio.sleep(0.01)
        description = NodeDescription(shape.name, f"http://127.0.0.1:{port}/", "fake",
                                      shape.vcpus, shape.memory_mib, shape.disk_gib,
                                      shape.max_instances, token)
        link = ControllerLink(self.url, self.token, description, fake._report,
                              identity_file=self.state_dir / shape.name / "controller.json",
                              client=self._client)
        await link.heartbeat()
        self._tasks.append(asyncio.create_task(link.run()))
        self.nodes[shape.name] = fake
        self.links[shape.name] = link
        return fake

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.should_exit = True
            for task in self._tasks:
                if not task.done() and task.get_coro().__qualname__.startswith("ControllerLink"):
                    task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._client is not None:
                await self._client.aclose()

        self.call(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextlib.contextmanager
def fake_cluster(server: Server, state_dir: Path,
                 shapes: Iterable[NodeShape]) -> Iterator[FakeCluster]:
    """Fake node agents of ``shapes``, registered with ``server`` by its cluster token, closed
    when the block ends (the usual module-scoped ``cluster`` fixture)."""
    token = (server.data_dir / "cluster-token").read_text().strip()
    fakes = FakeCluster(server.endpoint, token, state_dir)
    try:
        for shape in shapes:
            fakes.add(shape)
        yield fakes
    finally:
        fakes.close()
