"""``create_app(settings)``: the controller's ASGI application.

One endpoint for every service, routed by the shape of the request (DESIGN.md): a request with an
``Action`` parameter is a Query-protocol call; anything else is S3 REST.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import parse_qsl

from fastapi import FastAPI
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from controller import ids
from controller.auth.request import HttpRequest
from controller.config import Settings
from controller.ec2 import errors as ec2_errors
from controller.ec2.instance_reconciler import instance_loop
from controller.ec2.registry import actions
from controller.ec2.snapshot_job import snapshot_loop
from controller.logs import event, request_id_var
from controller.metadata.listener import MetadataListener
from controller.metadata.service import MetadataService
from controller.nodes.embedded import embedded_node
from controller.nodes.health import node_health_loop
from controller.nodes.routes import node_routes
from controller.protocol.xml_serializer import serialize_ec2_error
from controller.runtime import Runtime, build_runtime
from controller.s3.housekeeping import reaper_loop
from controller.s3.lifecycle_job import lifecycle_loop

log = logging.getLogger("ironbark.frontend")
HEALTH_PATH = "/_ironbark/health"
FORM = "application/x-www-form-urlencoded"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]


class BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class Frontend:
    """Turns ASGI requests into :class:`HttpRequest` and hands them to the right API."""

    def __init__(self, settings: Settings, state: dict[str, Runtime]) -> None:
        self._state = state
        self.limit = settings.max_query_body_bytes

    @property
    def runtime(self) -> Runtime:
        return self._state["runtime"]

    async def __call__(self, request: Request) -> Response:
        request_id = ids.new_request_id()
        request_id_var.set(request_id)
        try:
            return await self._serve(request, request_id)
        except Exception:  # noqa: BLE001 - the last resort: answer InternalError, log the traceback
            event(log, logging.ERROR, "frontend.unhandled", exc_info=True)
            error = ec2_errors.InternalError()
            body = serialize_ec2_error(error.code, error.message, request_id)
            return Response(body, 500, media_type="text/xml;charset=UTF-8")

    async def _serve(self, request: Request, request_id: str) -> Response:
        """Query-protocol calls (an ``Action`` in the URL, or a form POST) are read whole, within
        a cap; everything else is S3, whose handlers stream the body themselves."""
        site = self.runtime.website.bucket_of(request.headers.get("host", ""))
        if site is not None:
            return await self.runtime.website.handle(request, site, request_id)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        is_form = request.method == "POST" and content_type == FORM
        if not is_form and not any(name == "Action" for name, _ in parse_qsl(request.url.query)):
            return await self.runtime.s3.handle(request, request_id)
        try:
            body = await _read_body(request, self.limit)
        except BodyTooLarge:
            return self._too_large(request_id)
        http = HttpRequest.from_asgi(request.scope, body)
        params = http.query + (http.form or [])
        reply = self.runtime.ec2.handle(http, params, request_id)
        return Response(reply.body, reply.status, media_type=reply.content_type,
                        headers={"x-amzn-requestid": request_id})

    def _too_large(self, request_id: str) -> Response:
        error = ec2_errors.RequestEntityTooLarge(
            f"Request body must not exceed {self.limit} bytes."
        )
        body = serialize_ec2_error(error.code, error.message, request_id)
        return Response(body, error.http_status, media_type="text/xml;charset=UTF-8",
                        headers={"connection": "close"})


class _Anything(Convertor[str]):
    """Starlette's ``path`` convertor stops at a newline; S3 keys may contain one (``%0A``)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anything", _Anything())


def _warm_up_and_freeze() -> None:
    """Load the service models now rather than on the first request, then move everything
    built so far out of the garbage collector's sight: the models are hundreds of thousands of
    long-lived objects that every full collection would otherwise walk again."""
    from controller.protocol.model import operation_model
    from controller.protocol.s3_model import s3_service_model
    from controller.s3.routes import routes

    for name in actions():
        operation_model(name)
    routes()
    s3_service_model()
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    on_started: Callable[[Runtime], None] | None = None,
) -> FastAPI:
    """Build the application; the runtime (database, migrations, keys) starts with the app."""
    state: dict[str, Runtime] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["runtime"] = runtime if runtime is not None else await run_in_threadpool(
            build_runtime, settings
        )
        _warm_up_and_freeze()
        if on_started is not None:
            on_started(state["runtime"])
        reaper = asyncio.create_task(
            reaper_loop(state["runtime"].sessions, state["runtime"].blobs))
        lifecycle = asyncio.create_task(lifecycle_loop(
            state["runtime"].sessions, state["runtime"].blobs,
            settings.s3_lifecycle_day_seconds, settings.s3_lifecycle_interval_seconds))
        node_health = asyncio.create_task(node_health_loop(
            state["runtime"].sessions, settings.node_heartbeat_seconds,
            settings.node_missed_heartbeats))
        rt = state["runtime"]
        instances = asyncio.create_task(instance_loop(rt.sessions, rt.box, settings))
        snapshots = asyncio.create_task(snapshot_loop(rt.sessions, rt.box, rt.blobs, settings))
        metadata = MetadataListener(MetadataService(settings, rt.sessions, rt.box),
                                    settings.metadata_host, settings.metadata_port)
        if settings.metadata_port:
            metadata.start()
        async with AsyncExitStack() as node:
            if settings.with_node:
                await node.enter_async_context(embedded_node(settings, rt))
            yield
        await metadata.stop()
        instances.cancel()
        snapshots.cancel()
        reaper.cancel()
        lifecycle.cancel()
        node_health.cancel()
        state["runtime"].close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    frontend = Frontend(settings, state)

    @app.get(HEALTH_PATH)
    async def health() -> JSONResponse:
        def ping() -> None:
            with state["runtime"].engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        await run_in_threadpool(ping)
        return JSONResponse({"status": "ok"})

    app.router.routes.extend(node_routes(state))
    app.add_route("/{path:anything}", frontend.__call__, methods=ALL_METHODS,
                  include_in_schema=False)
    return app
