"""The node agent inside another process's event loop (``ironbark up --with-node``).

The agent's API server runs as a task next to the controller; it leaves signal handling to
the host process (the controller's uvicorn) and stops when the context exits. It starts only
once the controller answers, so its first registration does not race the controller's own
start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Generator

import httpx
import uvicorn

from nodeagent.server import node_server
from nodeagent.settings import NodeSettings

log = logging.getLogger("ironbark.node.embedded")


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the host process owns SIGINT/SIGTERM


async def _wait_until_up(url: str, deadline: float = 60.0) -> None:
    async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
        for _ in range(int(deadline / 0.1)):
            try:
                await client.get(url)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    log.warning("event=embedded_node_controller_not_up url=%s", url)


@contextlib.asynccontextmanager
async def embedded_node(settings: NodeSettings, controller_health_url: str
                        ) -> AsyncIterator[None]:
    """Run the agent (registering with ``settings.controller_url``) while the context is open."""
    server = node_server(settings, _EmbeddedServer)

    async def run() -> None:
        await _wait_until_up(controller_health_url)
        await server.serve()
        if not server.started:
            log.error("event=embedded_node_failed state_dir=%s", settings.state_dir)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 30)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
