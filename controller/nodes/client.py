"""A small typed client of a node agent's command API (``nodeagent/api.py``).

Every command is idempotent and keyed by instance id; the answer is the instance's state on
the node (``running``, ``shutoff``, ..., ``terminated``). Transport failures and 5xx answers
are :class:`NodeUnavailable` (try again later); 4xx answers are :class:`NodeRefused` (the node
will not do it: a bad spec, an unknown instance, a conflicting spec).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx


class NodeCommandError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class NodeUnavailable(NodeCommandError):
    pass


class NodeRefused(NodeCommandError):
    pass


@dataclass(frozen=True)
class NodeTarget:
    endpoint: str
    token: str


class NodeClient:
    def __init__(self, client: httpx.AsyncClient, target: NodeTarget) -> None:
        self._client = client
        self._base = target.endpoint.rstrip("/") + "/v1/instances/"
        self._headers = {"Authorization": f"Bearer {target.token}"}

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        try:
            reply = await self._client.request(method, self._base + path, json=body,
                                               headers=self._headers)
        except httpx.HTTPError as exc:
            raise NodeUnavailable(0, type(exc).__name__, str(exc)) from exc
        try:
            data = reply.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if reply.status_code >= 400:
            kind = NodeRefused if reply.status_code < 500 or reply.status_code == 502 \
                else NodeUnavailable
            raise kind(reply.status_code, str(data.get("error", "")),
                       str(data.get("message", ""))[:300])
        return data

    async def _state(self, method: str, path: str, body: Any = None) -> str:
        return str((await self._call(method, path, body)).get("state", ""))

    async def run(self, instance_id: str, spec: dict[str, Any]) -> str:
        return await self._state("PUT", instance_id, spec)

    async def start(self, instance_id: str) -> str:
        return await self._state("POST", f"{instance_id}/start")

    async def stop(self, instance_id: str) -> str:
        return await self._state("POST", f"{instance_id}/stop", {})

    async def reboot(self, instance_id: str) -> str:
        return await self._state("POST", f"{instance_id}/reboot")

    async def terminate(self, instance_id: str) -> str:
        return await self._state("DELETE", instance_id)

    async def console(self, instance_id: str) -> bytes:
        data = await self._call("GET", f"{instance_id}/console")
        return base64.b64decode(str(data.get("output", "")))

    async def attach_volume(self, instance_id: str, volume_id: str,
                            body: dict[str, str]) -> str:
        """Plug the volume (``device``, ``format`` and ``path`` or ``nbd``); ``attached``."""
        return await self._state("PUT", f"{instance_id}/volumes/{volume_id}", body)

    async def detach_volume(self, instance_id: str, volume_id: str) -> str:
        """Unplug it once the guest released it; ``detached``."""
        return await self._state("DELETE", f"{instance_id}/volumes/{volume_id}")

    # --- live backups of attached volumes (ebs-snapshots) ---

    async def backup_volume(self, instance_id: str, volume_id: str,
                            name: str) -> dict[str, str]:
        """A point-in-time copy of an attached volume, made by the node (libvirt's backup
        API); answers when it is complete: ``{"path": file on the node, "format": "raw"}``."""
        data = await self._call("POST", f"{instance_id}/volumes/{volume_id}/backups/{name}", {})
        return {"path": str(data.get("path", "")), "format": str(data.get("format", "raw"))}

    async def drop_backup(self, instance_id: str, volume_id: str, name: str) -> None:
        await self._call("DELETE", f"{instance_id}/volumes/{volume_id}/backups/{name}")
