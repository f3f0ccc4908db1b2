"""``create_app(settings)``: the controller's ASGI application.

One endpoint for every service, routed by the shape of the request (DESIGN.md): a request with an
``Action`` parameter is a Query-protocol call; anything else is S3 REST.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from urllib.parse import parse_qsl

from fastapi import FastAPI
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from controller import ids
from controller.auth.request import HttpRequest, join_headers, parse_form
from controller.cloudwatch import endpoint as cloudwatch
from controller.cloudwatch.jobs import cloudwatch_loop
from controller.config import Settings
from controller.ec2 import errors as ec2_errors
from controller.ec2.instance_reconciler import instance_loop
from controller.ec2.registry import actions
from controller.ec2.snapshot_job import snapshot_loop
from controller.ec2.volume_reconciler import volume_loop
from controller.logs import event, request_id_var
from controller.metadata.listener import MetadataListener
from controller.metadata.service import MetadataService
from controller.nodes.embedded import embedded_node
from controller.nodes.health import node_health_loop
from controller.nodes.routes import node_routes
from controller.protocol import compression
from controller.protocol.xml_serializer import serialize_ec2_error
from controller.runtime import Runtime, build_runtime
from controller.s3.access_log_delivery import access_log_loop
from controller.s3.housekeeping import reaper_loop
from controller.s3.lifecycle_job import lifecycle_loop

log = logging.getLogger("ironbark.frontend")
INTERNAL_PREFIX = "/_ironbark/"
HEALTH_PATH = INTERNAL_PREFIX + "health"
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
        scope = request.scope
        headers = join_headers(scope["headers"])
        site = self.runtime.website.bucket_of(headers.get("host", ""))
        if site is not None:
            return await self.runtime.website.handle(request, site, request_id)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        is_form = scope["method"] == "POST" and content_type == FORM
        rpc = cloudwatch.rpc_operation(scope["method"], scope["path"], headers)
        if rpc is not None:
            return await self._cloudwatch_rpc(request, request_id, *rpc)
        query: bytes = scope["query_string"]
        if not is_form and (not query or not any(
                name == "Action" for name, _ in parse_qsl(query.decode("latin-1")))):
            return await self.runtime.s3.handle(request, request_id, headers)
        try:
            body = await _read_body(request, self.limit)
        except BodyTooLarge:
            return self._too_large(request_id)
        http = HttpRequest.from_asgi(request.scope, body)
        if is_form and compression.is_gzip(http.headers):
            try:
                plain = compression.decoded_body(http.headers, body, self.limit)
            except compression.TooLarge:
                return self._too_large(request_id)
            except compression.BadEncoding:
                plain = b""
            http = dataclasses.replace(http, form=parse_form(http.headers, plain))
        params = http.query + (http.form or [])
        if cloudwatch.is_query_call(http, params):
            cw = await run_in_threadpool(self.runtime.cloudwatch.handle_query, http, params,
                                         request_id)
            return Response(cw.body, cw.status, media_type=cw.content_type, headers=dict(cw.headers))
        reply = self.runtime.ec2.handle(http, params, request_id)
        return Response(reply.body, reply.status, media_type=reply.content_type,
                        headers={"x-amzn-requestid": request_id})

    async def _cloudwatch_rpc(self, request: Request, request_id: str, wire: cloudwatch.Wire,
                              name: str) -> Response:
        endpoint = self.runtime.cloudwatch
        try:
            body = await _read_body(request, self.limit)
            http = HttpRequest.from_asgi(request.scope, body, parse_form_body=False)
            payload = compression.decoded_body(http.headers, body, self.limit)
        except (BodyTooLarge, compression.TooLarge):
            reply = endpoint.too_large(wire, request_id, self.limit)
            return Response(reply.body, reply.status, media_type=reply.content_type,
                            headers={**reply.headers, "connection": "close"})
        except compression.BadEncoding:
            payload = b"\xff"  # unreadable: the endpoint answers SerializationException
        reply = await run_in_threadpool(endpoint.handle_rpc, wire, name, http, payload,
                                        request_id)
        return Response(reply.body, reply.status, media_type=reply.content_type,
                        headers=dict(reply.headers))

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


class Dispatch:
    """The outermost ASGI application. The API requests (every path outside ``/_ironbark/``)
    go straight to the :class:`Frontend`, which answers every failure itself; FastAPI serves
    the rest (health, node agents) and the lifespan. On the S3 and EC2 hot paths its
    middleware and router cost more than a fast handler."""

    def __init__(self, app: FastAPI, frontend: Frontend) -> None:
        self.app = app
        self._frontend = frontend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(INTERNAL_PREFIX):
            request = Request(scope, receive, send)
            response = await self._frontend(request)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


_GC_YOUNG = 20_000


def _warm_up_and_freeze() -> None:
    """Load the service models now rather than on the first request, then move everything
    built so far out of the garbage collector's sight: the models are hundreds of thousands of
    long-lived objects that every full collection would otherwise walk again."""
    from controller.protocol.model import operation_model
    from controller.protocol.s3_model import s3_service_model
    from controller.s3.routes import routes

    for name in actions():
        operation_model(name)
    cloudwatch.warm_up()
    routes()
    s3_service_model()
    gc.collect()
    gc.freeze()
    # A request allocates a few thousand short-lived objects, nearly all freed by reference
    # counting. With the default threshold (700) the young generation is collected once or
    # twice per request, each time walking the objects of the requests in flight; a larger
    # one lets those die first, so collections are rare and walk what truly survives.
    gc.set_threshold(_GC_YOUNG, *gc.get_threshold()[1:])


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    on_started: Callable[[Runtime], None] | None = None,
) -> Dispatch:
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
            settings.s3_lifecycle_day_seconds, settings.s3_lifecycle_interval_seconds,
            state["runtime"].s3.logs))
        node_health = asyncio.create_task(node_health_loop(
            state["runtime"].sessions, settings.node_heartbeat_seconds,
            settings.node_missed_heartbeats))
        rt = state["runtime"]
        instances = asyncio.create_task(instance_loop(rt.sessions, rt.box, settings))
        snapshots = asyncio.create_task(snapshot_loop(rt.sessions, rt.box, rt.blobs, settings))
        volumes = asyncio.create_task(volume_loop(rt.sessions, rt.box, settings, rt.blobs))
        monitoring = asyncio.create_task(cloudwatch_loop(rt.sessions, settings))
        access_logs = asyncio.create_task(access_log_loop(
            rt.sessions, rt.blobs, rt.keys, rt.s3.logs, settings.s3_access_log_interval_seconds))
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
        volumes.cancel()
        monitoring.cancel()
        reaper.cancel()
        lifecycle.cancel()
        node_health.cancel()
        access_logs.cancel()  # it delivers what was gathered before it ends
        with suppress(asyncio.CancelledError):
            await access_logs
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
                  include_in_schema=False)  # ``/_ironbark/`` paths no route serves
    return Dispatch(app, frontend)
