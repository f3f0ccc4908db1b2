"""Run the controller under uvicorn in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import FrameType

import uvicorn

from controller.app import create_app
from controller.coalescing import http_protocol
from controller.config import Settings
from controller.logs import configure, event
from controller.runtime import Runtime

log = logging.getLogger("ironbark.server")


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, which makes a clean stop end
    in a traceback or a death by signal; for us a graceful stop is a normal exit (status 0)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def serve(settings: Settings, *, on_started: Callable[[Runtime], None] | None = None) -> None:
    configure(settings.log_level, settings.log_json)
    app = create_app(settings, on_started=on_started)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        server_header=False,
        lifespan="on",
        http=http_protocol(settings.http_busy_poll_us),
        ws="none",  # no WebSocket endpoints: an upgrade is an ordinary request
    )
    event(log, logging.INFO, "starting", endpoint=f"http://{settings.host}:{settings.port}/")
    _Server(config).run()
    event(log, logging.INFO, "stopped")
