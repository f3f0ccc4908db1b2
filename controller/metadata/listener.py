"""Run the metadata service as a second uvicorn server inside the controller's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn

from controller.logs import event
from controller.metadata.service import MetadataService

log = logging.getLogger("ironbark.metadata")


class _Embedded(uvicorn.Server):
    """A uvicorn server that leaves signals to the main one."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class MetadataListener:
    def __init__(self, service: MetadataService, host: str, port: int) -> None:
        self.host = host
        self.port = port
        config = uvicorn.Config(service.app(), log_config=None, access_log=False,
                                server_header=False, lifespan="off")
        self.server = _Embedded(config)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> bool:
        """Bind and serve; a port in use is logged, not fatal (the EC2 API still works)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            event(log, logging.ERROR, "metadata.bind_failed", host=self.host, port=self.port,
                  error=str(exc))
            return False
        sock.listen(128)
        sock.setblocking(False)
        self.task = asyncio.create_task(self.server.serve(sockets=[sock]))
        event(log, logging.INFO, "metadata.listening", host=self.host, port=self.port)
        return True

    async def stop(self) -> None:
        if self.task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.task, 5)
