"""A fake node agent for controller tests at scale: in process, no libvirt, no disks.

It speaks the real protocols — it registers and sends heartbeats through the real
:class:`ControllerLink`, and its command API is the real :func:`nodeagent.api.create_app` over
an in-memory instance table instead of :class:`InstanceManager` — so a test can run a hundred
of them against one controller. Never used by ``ironbark node``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI

from nodeagent.api import create_app
from nodeagent.backups import BackupRefused, BackupStatus
from nodeagent.controller_link import ControllerLink, NodeDescription
from nodeagent.instances import InstanceStatus, SpecConflict, UnknownInstance, VolumeStatus
from nodeagent.metrics.samples import BlockIO, NetIO, Sample
from nodeagent.spec import InstanceSpec
from nodeagent.volumes import VolumeAttachment, check_new


class FakeInstances:
    """Instances as entries in a dict: run makes one ``running``, stop ``shutoff``, ..."""

    def __init__(self) -> None:
        self.specs: dict[str, InstanceSpec] = {}
        self.states: dict[str, str] = {}
        self.attached: dict[str, list[VolumeAttachment]] = {}
        self.cpu_percent: dict[str, float] = {}  # what metrics report (default 10 %)

    def _known(self, instance_id: str) -> None:
        if instance_id not in self.specs:
            raise UnknownInstance(instance_id)

    def _status(self, instance_id: str) -> InstanceStatus:
        return InstanceStatus(instance_id, self.states[instance_id])

    async def run(self, spec: InstanceSpec) -> InstanceStatus:
        known = self.specs.get(spec.instance_id)
        if known is not None and known != spec:
            raise SpecConflict(f"{spec.instance_id} already runs with a different spec")
        self.specs[spec.instance_id] = spec
        self.states.setdefault(spec.instance_id, "running")
        return self._status(spec.instance_id)

    async def start(self, instance_id: str) -> InstanceStatus:
        self._known(instance_id)
        self.states[instance_id] = "running"
        return self._status(instance_id)

    async def stop(self, instance_id: str, grace: float | None = None) -> InstanceStatus:
        self._known(instance_id)
        self.states[instance_id] = "shutoff"
        return self._status(instance_id)

    async def reboot(self, instance_id: str) -> InstanceStatus:
        self._known(instance_id)
        return self._status(instance_id)

    async def terminate(self, instance_id: str) -> InstanceStatus:
        self.specs.pop(instance_id, None)
        self.states.pop(instance_id, None)
        self.attached.pop(instance_id, None)
        return InstanceStatus(instance_id, "terminated")

    async def console(self, instance_id: str) -> bytes:
        self._known(instance_id)
        return f"fake console of {instance_id}\n".encode()

    async def status(self, instance_id: str) -> InstanceStatus:
        self._known(instance_id)
        return self._status(instance_id)

    async def attach_volume(
        self, instance_id: str, attachment: VolumeAttachment
    ) -> VolumeStatus:
        self._known(instance_id)
        current = self.attached.setdefault(instance_id, [])
        if not check_new(current, attachment):
            current.append(attachment)
        return VolumeStatus(instance_id, attachment.volume_id, attachment.device, "attached")

    async def detach_volume(self, instance_id: str, volume_id: str) -> VolumeStatus:
        current = self.attached.get(instance_id, [])
        self.attached[instance_id] = [a for a in current if a.volume_id != volume_id]
        return VolumeStatus(instance_id, volume_id, None, "detached")

    async def volumes(self, instance_id: str) -> list[VolumeStatus]:
        self._known(instance_id)
        return [VolumeStatus(instance_id, a.volume_id, a.device, "attached")
                for a in self.attached.get(instance_id, [])]

    async def backup_volume(self, instance_id: str, volume_id: str,
                            name: str) -> BackupStatus:
        """No copy is made: the answer names the attached file itself."""
        self._known(instance_id)
        found = [a for a in self.attached.get(instance_id, []) if a.volume_id == volume_id]
        if not found or self.states[instance_id] != "running":
            raise BackupRefused(f"{volume_id} is not attached to a running {instance_id}")
        return BackupStatus(instance_id, volume_id, name, found[0].path, found[0].format)

    async def drop_backup(self, instance_id: str, volume_id: str, name: str) -> None:
        return None

    async def statuses(self) -> list[InstanceStatus]:
        return [self._status(iid) for iid in sorted(self.specs)]

    def power_off(self, instance_id: str) -> None:
        """What a guest powering itself off looks like: a state change nobody commanded."""
        self._known(instance_id)
        self.states[instance_id] = "shutoff"


class FakeNode:
    """One fake node: its instance table, its command API (an ASGI app) and its link."""

    def __init__(
        self,
        name: str,
        controller_url: str,
        cluster_token: str,
        client: httpx.AsyncClient,
        *,
        api_token: str = "fake-node-token",
        state_dir: Path | None = None,
        vcpus: int = 16,
        memory_mib: int = 65536,
        disk_gib: int = 1000,
        max_instances: int = 64,
    ) -> None:
        self.instances = FakeInstances()
        self.app: FastAPI = create_app(
            self.instances, api_token, capacity=lambda: {"hostname": name, "vcpus": vcpus,
                                                        "memory_mib": memory_mib,
                                                        "hypervisor": "fake"})
        description = NodeDescription(
            name=name, endpoint=f"http://{name}.fake.invalid:8774/", hypervisor="fake",
            vcpus=vcpus, memory_mib=memory_mib, disk_gib=disk_gib,
            max_instances=max_instances, api_token=api_token)
        self.link = ControllerLink(
            controller_url, cluster_token, description, self._report,
            identity_file=state_dir / "controller.json" if state_dir else None, client=client)

    async def _report(self) -> list[dict[str, str]]:
        return [{"instance_id": s.instance_id, "state": s.state}
                for s in await self.instances.statuses()]

    def samples(self, start: datetime, end: datetime) -> list[Sample]:
        """What a real agent would report for ``[start, end)``: a sample per running
        instance, CPU at its ``cpu_percent`` and a little I/O on every disk and volume."""
        seconds = int((end - start).total_seconds())
        out = []
        for iid, spec in sorted(self.instances.specs.items()):
            if self.instances.states[iid] != "running":
                continue
            percent = self.instances.cpu_percent.get(iid, 10.0)
            out.append(Sample(
                instance_id=iid, start=start, end=end, vcpus=spec.vcpus,
                cpu_time_ns=int(percent / 100 * seconds * 1e9 * spec.vcpus),
                disk=BlockIO(4096 * seconds, 8192 * seconds, seconds, 2 * seconds),
                net=NetIO(1500 * seconds, 500 * seconds, seconds, seconds),
                volumes={a.volume_id: BlockIO(4096 * seconds, 4096 * seconds, seconds, seconds)
                         for a in self.instances.attached.get(iid, [])}))
        return out

    async def send_metrics(self, start: datetime, end: datetime,
                           link: ControllerLink | None = None) -> int:
        """Ship :meth:`samples` for ``[start, end)`` through the real link (the wire
        contract, the node's credential; ``link``: the one this node registered with, when
        not its own) → how many the controller accepted."""
        samples = self.samples(start, end)
        if not samples:
            return 0
        return await (link or self.link).send_metrics([item.wire() for item in samples])

    def commands(self) -> httpx.AsyncClient:
        """A client for this node's command API, in process."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                 base_url=self.link.node.endpoint)
