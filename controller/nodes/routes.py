"""The controller's private node endpoints, under the reserved ``/_ironbark/`` prefix (no S3
bucket can be called ``_ironbark``, so they never shadow an S3 path).

    POST /_ironbark/nodes/register          cluster token  -> {"node_id", "credential", ...}
    POST /_ironbark/nodes/{id}/heartbeat    node credential -> {"node_id", "state", ...}
    GET  /_ironbark/nodes                   cluster token  -> {"nodes": [...]}
    POST /_ironbark/nodes/metrics           node credential -> {"accepted": n} (CloudWatch)

Tokens travel as ``Authorization: Bearer ...``. Errors are ``{"error", "message"}``: 400 for a
malformed body, 403 for a wrong token, unknown node or wrong credential, 404/405 for anything
else under the prefix — never a 500 for a client's mistake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.cloudwatch.ingest import ingest
from controller.cloudwatch.samples import MetricsBatch
from controller.db.engine import transaction
from controller.db.models import Node
from controller.logs import event
from controller.nodes import registry
from controller.nodes.protocol import Heartbeat, HeartbeatReply, Registered, Registration
from controller.runtime import Runtime

log = logging.getLogger("ironbark.nodes")
PREFIX = "/_ironbark/nodes"
MAX_BODY = 16 * 1024 * 1024
Model = TypeVar("Model", bound=BaseModel)


class BadRequest(Exception):
    pass


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def _body(request: Request, model: type[Model]) -> Model:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise BadRequest("body too large")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise BadRequest(problems) from exc


Handler = Callable[[Request, Runtime], Awaitable[Response]]


def _guarded(handler: Handler, state: dict[str, Runtime]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, state["runtime"])
        except BadRequest as exc:
            return _error(400, "BadRequest", str(exc))
        except registry.NodeAuthError as exc:
            event(log, logging.INFO, "nodes.refused", path=request.url.path, reason=str(exc))
            return _error(403, "Forbidden", "wrong token, unknown node or wrong credential")

    return endpoint


async def register(request: Request, runtime: Runtime) -> Response:
    registry.check_cluster_token(_bearer(request), runtime.cluster_token)
    reg = await _body(request, Registration)

    def work() -> registry.NewCredential:
        with transaction(runtime.sessions) as session:
            return registry.register(session, runtime.box, reg, datetime.now(UTC))

    made = await run_in_threadpool(work)
    event(log, logging.INFO, "nodes.registered", node=made.node_id, node_name=reg.name,
          endpoint=reg.endpoint)
    reply = Registered(node_id=made.node_id, credential=made.credential,
                       heartbeat_seconds=runtime.settings.node_heartbeat_seconds)
    return JSONResponse(reply.model_dump())


async def heartbeat(request: Request, runtime: Runtime) -> Response:
    node_id = str(request.path_params["node_id"])
    credential = _bearer(request)

    def check() -> None:
        with runtime.sessions() as session:
            registry.authenticate(session, node_id, credential)

    await run_in_threadpool(check)  # authenticate before reading the body
    beat = await _body(request, Heartbeat)

    def work() -> str:
        with transaction(runtime.sessions) as session:
            node = registry.authenticate(session, node_id, credential)
            was = node.state
            registry.heartbeat(session, node, beat, datetime.now(UTC))
            if was != node.state:
                event(log, logging.INFO, "nodes.healthy_again", node=node_id)
            return node.state

    state = await run_in_threadpool(work)
    reply = HeartbeatReply(node_id=node_id, state=state,
                           heartbeat_seconds=runtime.settings.node_heartbeat_seconds)
    return JSONResponse(reply.model_dump())


async def metrics(request: Request, runtime: Runtime) -> Response:
    """A batch of instance samples from a node (``controller.cloudwatch.samples``); the node
    authenticates as for its heartbeat, with the node id in the body."""
    credential = _bearer(request)
    if credential is None:
        raise registry.NodeAuthError("no credential")
    batch = await _body(request, MetricsBatch)

    def work() -> int:
        with transaction(runtime.sessions) as session:
            registry.authenticate(session, batch.node_id, credential)
            return ingest(session, batch.node_id, batch.samples,
                          int(datetime.now(UTC).timestamp()))

    accepted = await run_in_threadpool(work)
    return JSONResponse({"accepted": accepted})


async def list_nodes(request: Request, runtime: Runtime) -> Response:
    registry.check_cluster_token(_bearer(request), runtime.cluster_token)

    def work() -> list[dict[str, Any]]:
        with runtime.sessions() as session:
            return [registry.describe(n) for n in session.scalars(select(Node).order_by(Node.name))]

    return JSONResponse({"nodes": await run_in_threadpool(work)})


async def _not_found(request: Request) -> Response:
    return _error(404, "NotFound", f"no {request.method} {request.url.path} here")


def node_routes(state: dict[str, Runtime]) -> list[Route]:
    """The routes, to be added before the catch-all S3 route; the last one keeps the rest of
    ``/_ironbark/`` from falling through to S3."""
    return [
        Route(f"{PREFIX}/register", _guarded(register, state), methods=["POST"]),
        Route(PREFIX + "/{node_id}/heartbeat", _guarded(heartbeat, state), methods=["POST"]),
        Route(f"{PREFIX}/metrics", _guarded(metrics, state), methods=["POST"]),
        Route(PREFIX, _guarded(list_nodes, state), methods=["GET"]),
        Route("/_ironbark/{rest:anything}", _not_found,
              methods=["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    ]
