"""The node agent's side of registration and heartbeats (the controller's ``/_ironbark/nodes``).

At start the agent reuses the node id and credential saved in ``STATE/controller.json`` (0600);
without them, or when the controller refuses them (403: it forgot the node), it registers with
the cluster token and saves the new ones. Then it sends a heartbeat with its capacity and the
state of every instance every interval; failures are logged and retried, never fatal. The real
agent and the fake one (:mod:`nodeagent.fake`) use this same class. Metrics batches
(:mod:`nodeagent.metrics.shipper`) go through :meth:`ControllerLink.send_metrics`, with the
same credential and the same re-registration on 403.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("ironbark.node.link")

NUDGE_COALESCE = 0.05  # seconds: events that come together are reported together
Report = Callable[[], Awaitable[list[dict[str, str]]]]


class RegistrationRefused(Exception):
    """The controller refused the cluster token or the registration body (403/400)."""


class MetricsRejected(Exception):
    """The controller refused a metrics batch as malformed (400): sending it again won't do."""


@dataclass(frozen=True)
class Identity:
    controller_url: str
    node_id: str
    credential: str


@dataclass(frozen=True)
class NodeDescription:
    """What the agent tells the controller about itself."""

    name: str
    endpoint: str
    hypervisor: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    max_instances: int
    api_token: str | None = None

    def capacity(self) -> dict[str, int]:
        return {"vcpus": self.vcpus, "memory_mib": self.memory_mib,
                "disk_gib": self.disk_gib, "max_instances": self.max_instances}


class IdentityFile:
    """``controller.json`` in the state directory, written atomically, mode 0600."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self, controller_url: str) -> Identity | None:
        if self.path is None or not self.path.is_file():
            return None
        data = json.loads(self.path.read_text())
        if data.get("controller_url") != controller_url:
            return None
        return Identity(controller_url, str(data["node_id"]), str(data["credential"]))

    def save(self, identity: Identity) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".controller-")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(identity.__dict__, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class ControllerLink:
    def __init__(
        self,
        controller_url: str,
        cluster_token: str,
        node: NodeDescription,
        report: Report,
        *,
        identity_file: Path | None,
        client: httpx.AsyncClient,
        heartbeat_interval: float | None = None,
    ) -> None:
        self.base = controller_url.rstrip("/") + "/_ironbark/nodes"
        self.controller_url = controller_url
        self.cluster_token = cluster_token
        self.node = node
        self.report = report
        self.file = IdentityFile(identity_file)
        self.client = client
        self.interval_override = heartbeat_interval
        self.interval = heartbeat_interval or 10.0
        self.identity: Identity | None = None
        self.last_state: str | None = None
        self._wake: asyncio.Event | None = None
        self._registering = asyncio.Lock()

    async def register(self) -> Identity:
        body: dict[str, Any] = {"name": self.node.name, "endpoint": self.node.endpoint,
                                "hypervisor": self.node.hypervisor,
                                "capacity": self.node.capacity()}
        if self.node.api_token is not None:
            body["api_token"] = self.node.api_token
        reply = await self.client.post(f"{self.base}/register", json=body,
                                       headers={"Authorization": f"Bearer {self.cluster_token}"})
        if reply.status_code in (400, 403):
            raise RegistrationRefused(f"{reply.status_code} {reply.text}")
        reply.raise_for_status()
        data = reply.json()
        self.identity = Identity(self.controller_url, data["node_id"], data["credential"])
        self._advised(data)
        self.file.save(self.identity)
        log.info("event=node_registered node_id=%s controller=%s", self.identity.node_id,
                 self.controller_url)
        return self.identity

    def _advised(self, data: dict[str, Any]) -> None:
        if self.interval_override is None:
            self.interval = float(data.get("heartbeat_seconds", self.interval))

    async def _post_as_node(
        self, request: Callable[[Identity], Awaitable[tuple[str, dict[str, Any]]]]
    ) -> httpx.Response:
        """POST ``request(identity)`` (a path under ``/_ironbark/nodes/`` and a JSON body) with
        the node's credential; registers first when there is no identity, and again once
        when the controller refuses the credential (403)."""
        if self.identity is None:
            async with self._registering:
                if self.identity is None:
                    self.identity = (self.file.load(self.controller_url)
                                     or await self.register())
        for attempt in range(2):
            identity = self.identity
            path, body = await request(identity)
            reply = await self.client.post(
                f"{self.base}/{path}", json=body,
                headers={"Authorization": f"Bearer {identity.credential}"})
            if reply.status_code == 403 and attempt == 0:
                log.warning("event=node_credential_refused node_id=%s", identity.node_id)
                async with self._registering:  # once, however many requests were refused
                    if self.identity is identity:
                        await self.register()
                continue
            return reply
        return reply

    async def heartbeat(self) -> str:
        """One heartbeat; registers first (again) when there is no identity or it is refused."""

        async def request(identity: Identity) -> tuple[str, dict[str, Any]]:
            return (f"{identity.node_id}/heartbeat",
                    {"capacity": self.node.capacity(), "instances": await self.report()})

        reply = await self._post_as_node(request)
        reply.raise_for_status()
        data = reply.json()
        self._advised(data)
        self.last_state = str(data["state"])
        return self.last_state

    async def send_metrics(self, samples: list[dict[str, Any]]) -> int:
        """One batch of metric samples (the wire contract's ``samples``) → how many the
        controller accepted. 400 raises :class:`MetricsRejected`; other failures raise
        ``httpx.HTTPError`` (the caller keeps the batch and retries)."""

        async def request(identity: Identity) -> tuple[str, dict[str, Any]]:
            return "metrics", {"node_id": identity.node_id, "samples": samples}

        reply = await self._post_as_node(request)
        if reply.status_code == 400:
            raise MetricsRejected(reply.text[:500])
        reply.raise_for_status()
        return int(reply.json()["accepted"])

    def nudge(self) -> None:
        """Send the next heartbeat now (a state change the controller should hear of at once,
        e.g. a guest that powered itself off). Call on the loop :meth:`run` runs on."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Heartbeats forever (until cancelled), every interval or at once when nudged;
        errors are logged and retried at the next one."""
        self._wake = asyncio.Event()
        while True:
            self._wake.clear()
            try:
                await self.heartbeat()
            except (httpx.HTTPError, RegistrationRefused, ValueError, KeyError) as exc:
                log.warning("event=node_heartbeat_failed controller=%s error=%r",
                            self.controller_url, exc)
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
                await asyncio.sleep(NUDGE_COALESCE)  # one report for a burst of events
            except TimeoutError:
                pass
