"""Run the controller under uvicorn in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import logging

import uvicorn

from controller.app import create_app
from controller.config import Settings
from controller.logs import configure, event

log = logging.getLogger("ironbark.server")


def serve(settings: Settings, *, banner: str | None = None) -> None:
    configure(settings.log_level, settings.log_json)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        server_header=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    if banner:
        event(log, logging.INFO, "starting", endpoint=f"http://{settings.host}:{settings.port}/")
    server.run()
