"""The node agent's command API: HTTP + JSON, idempotent commands keyed by instance id.

    PUT    /v1/instances/{id}           run (body: the instance spec)     -> status
    GET    /v1/instances                 every instance on the node        -> {"instances": [...]}
    GET    /v1/instances/{id}            status
    POST   /v1/instances/{id}/start      boot a stopped instance
    POST   /v1/instances/{id}/stop       ACPI shutdown, destroy after grace ({"grace": s})
    POST   /v1/instances/{id}/reboot     ACPI reboot
    DELETE /v1/instances/{id}            terminate (unknown ids are already terminated)
    GET    /v1/instances/{id}/console    last 64 KiB of the serial console, base64
    PUT    /v1/instances/{id}/volumes/{vol}  attach (body: device, format, and path or
                                         nbd "nbd://host:port/export")
    DELETE /v1/instances/{id}/volumes/{vol}  detach (waits for the guest to release it)
    GET    /v1/instances/{id}/volumes    the instance's attachments
    POST   /v1/instances/{id}/volumes/{vol}/backups/{name}  point-in-time copy of an attached
                                         volume, answered when complete: {"path", "format"}
    DELETE /v1/instances/{id}/volumes/{vol}/backups/{name}  remove that copy
    GET    /v1/instances/{id}/metrics    the instance's latest metric samples (oldest first)
    GET    /v1/node                      capacity and hypervisor kind

Every request carries ``Authorization: Bearer <token>``. Errors are ``{"error": code,
"message": text}`` with 400 (bad spec), 401, 404 (unknown instance), 409 (different spec for
a known id), 503 (hypervisor unreachable), 504 (hypervisor deadline), 500 otherwise.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from nodeagent.backups import BackupRefused, BackupStatus
from nodeagent.disks import DiskError
from nodeagent.hypervisor.errors import HypervisorError, HypervisorTimeout, HypervisorUnavailable
from nodeagent.images import ImageError
from nodeagent.instances import InstanceStatus, SpecConflict, UnknownInstance, VolumeStatus
from nodeagent.metrics.samples import Sample
from nodeagent.network.commands import NetworkError
from nodeagent.spec import InstanceSpec, InvalidSpec
from nodeagent.volumes import VolumeAttachment, VolumeInUse

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[Exception], int]] = [
    (InvalidSpec, 400),
    (UnknownInstance, 404),
    (SpecConflict, 409),
    (VolumeInUse, 409),
    (BackupRefused, 409),
    (HypervisorUnavailable, 503),
    (HypervisorTimeout, 504),
    (HypervisorError, 500),
    (ImageError, 502),
    (DiskError, 500),
    (NetworkError, 500),
]


class Commands(Protocol):
    """What the API drives: :class:`InstanceManager`, or the fake agent's in-memory one."""

    async def run(self, spec: InstanceSpec) -> InstanceStatus: ...

    async def start(self, instance_id: str) -> InstanceStatus: ...

    async def stop(self, instance_id: str, grace: float | None = None) -> InstanceStatus: ...

    async def reboot(self, instance_id: str) -> InstanceStatus: ...

    async def terminate(self, instance_id: str) -> InstanceStatus: ...

    async def console(self, instance_id: str) -> bytes: ...

    async def attach_volume(
        self, instance_id: str, attachment: VolumeAttachment
    ) -> VolumeStatus: ...

    async def detach_volume(self, instance_id: str, volume_id: str) -> VolumeStatus: ...

    async def volumes(self, instance_id: str) -> list[VolumeStatus]: ...

    async def backup_volume(self, instance_id: str, volume_id: str,
                            name: str) -> BackupStatus: ...

    async def drop_backup(self, instance_id: str, volume_id: str, name: str) -> None: ...

    async def status(self, instance_id: str) -> InstanceStatus: ...

    async def statuses(self) -> list[InstanceStatus]: ...


class Metrics(Protocol):
    """Where the latest samples come from (:class:`nodeagent.metrics.sampler.Sampler`)."""

    interval: float

    def recent(self, instance_id: str) -> list[Sample]: ...


class StopBody(BaseModel):
    grace: float | None = Field(default=None, ge=0, le=3600)


def _status(status: InstanceStatus) -> dict[str, Any]:
    return asdict(status)


def create_app(
    manager: Commands,
    token: str,
    *,
    capacity: Callable[[], dict[str, Any]],
    metrics: Metrics | None = None,
    on_start: Callable[[], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    """The API over ``manager``; ``on_start`` runs before serving (network set-up, adoption)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if on_start is not None:
            await on_start()
        yield
        if on_stop is not None:
            await on_stop()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def authenticate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return JSONResponse(
                {"error": "Unauthorized", "message": "missing or wrong bearer token"}, 401
            )
        return await call_next(request)

    for kind, code in _STATUS:
        app.add_exception_handler(kind, _handler(kind, code))

    @app.put("/v1/instances/{instance_id}")
    async def run(instance_id: str, request: Request) -> dict[str, Any]:
        body = await request.json()
        if not isinstance(body, dict):
            raise InvalidSpec("the body must be a JSON object")
        if body.setdefault("instance_id", instance_id) != instance_id:
            raise InvalidSpec("instance_id in the body differs from the one in the path")
        spec = InstanceSpec.from_dict(body)
        return _status(await manager.run(spec))

    @app.get("/v1/instances")
    async def list_instances() -> dict[str, Any]:
        return {"instances": [_status(status) for status in await manager.statuses()]}

    @app.get("/v1/instances/{instance_id}")
    async def describe(instance_id: str) -> dict[str, Any]:
        return _status(await manager.status(instance_id))

    @app.post("/v1/instances/{instance_id}/start")
    async def start(instance_id: str) -> dict[str, Any]:
        return _status(await manager.start(instance_id))

    @app.post("/v1/instances/{instance_id}/stop")
    async def stop(instance_id: str, body: StopBody | None = None) -> dict[str, Any]:
        return _status(await manager.stop(instance_id, body.grace if body else None))

    @app.post("/v1/instances/{instance_id}/reboot")
    async def reboot(instance_id: str) -> dict[str, Any]:
        return _status(await manager.reboot(instance_id))

    @app.delete("/v1/instances/{instance_id}")
    async def terminate(instance_id: str) -> dict[str, Any]:
        return _status(await manager.terminate(instance_id))

    @app.get("/v1/instances/{instance_id}/console")
    async def console(instance_id: str) -> dict[str, Any]:
        output = await manager.console(instance_id)
        return {"instance_id": instance_id, "output": base64.b64encode(output).decode()}

    @app.put("/v1/instances/{instance_id}/volumes/{volume_id}")
    async def attach_volume(instance_id: str, volume_id: str, request: Request) -> dict[str, Any]:
        body = await request.json()
        if not isinstance(body, dict):
            raise InvalidSpec("the body must be a JSON object")
        if body.setdefault("volume_id", volume_id) != volume_id:
            raise InvalidSpec("volume_id in the body differs from the one in the path")
        attachment = VolumeAttachment.from_dict(body)
        return asdict(await manager.attach_volume(instance_id, attachment))

    @app.delete("/v1/instances/{instance_id}/volumes/{volume_id}")
    async def detach_volume(instance_id: str, volume_id: str) -> dict[str, Any]:
        return asdict(await manager.detach_volume(instance_id, volume_id))

    @app.get("/v1/instances/{instance_id}/volumes")
    async def volumes(instance_id: str) -> dict[str, Any]:
        return {"volumes": [asdict(v) for v in await manager.volumes(instance_id)]}

    @app.post("/v1/instances/{instance_id}/volumes/{volume_id}/backups/{name}")
    async def backup_volume(instance_id: str, volume_id: str, name: str) -> dict[str, Any]:
        return asdict(await manager.backup_volume(instance_id, volume_id, name))

    @app.delete("/v1/instances/{instance_id}/volumes/{volume_id}/backups/{name}")
    async def drop_backup(instance_id: str, volume_id: str, name: str) -> dict[str, Any]:
        await manager.drop_backup(instance_id, volume_id, name)
        return {"instance_id": instance_id, "volume_id": volume_id, "name": name}

    @app.get("/v1/instances/{instance_id}/metrics")
    async def instance_metrics(instance_id: str) -> dict[str, Any]:
        status = await manager.status(instance_id)  # 404 for an unknown instance
        samples = metrics.recent(instance_id) if metrics is not None else []
        return {"instance_id": instance_id, "state": status.state,
                "interval": metrics.interval if metrics is not None else None,
                "samples": [item.wire() for item in samples]}

    @app.get("/v1/node")
    async def node() -> dict[str, Any]:
        return capacity()

    return app


def _handler(kind: type[Exception], status: int) -> Callable[[Request, Exception], Response]:
    def handle(request: Request, exc: Exception) -> Response:
        level = logging.ERROR if status >= 500 else logging.INFO
        log.log(level, "event=node_command_failed path=%s error=%r", request.url.path, exc)
        return JSONResponse({"error": kind.__name__, "message": str(exc)}, status)

    return handle


def host_capacity(virt_type: str) -> dict[str, Any]:
    """vCPUs, memory and hypervisor kind of this machine."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "hostname": os.uname().nodename,
        "vcpus": os.cpu_count() or 1,
        "memory_mib": pages // (1024 * 1024),
        "hypervisor": virt_type,
    }
