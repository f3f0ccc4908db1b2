"""The node's instances: idempotent commands keyed by instance id.

Each command persists what it needs (the spec first), then drives the network, the disks and
the hypervisor towards the wanted state; repeating a command is harmless and resumes a command
interrupted by a crash. Commands on one instance are serialised by a per-instance lock; there
is no node-wide lock, and none is held across a libvirt call for other instances.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from nodeagent.backups import BackupRefused, BackupStatus, backup_path
from nodeagent.disks import DiskError, create_blank, create_overlay
from nodeagent.hypervisor.config import DiskConfig
from nodeagent.hypervisor.designer import NodePolicy, design, volume_disk
from nodeagent.hypervisor.errors import HypervisorTimeout
from nodeagent.hypervisor.guest import Guest, GuestState, console_tail
from nodeagent.hypervisor.host import Host
from nodeagent.images import ImageCache
from nodeagent.spec import IMAGE_ROLES, InstanceSpec, InvalidSpec, SpecStore
from nodeagent.volumes import AttachmentStore, VolumeAttachment, check_new

log = logging.getLogger(__name__)


class UnknownInstance(LookupError):
    """No instance of that id on this node."""


class SpecConflict(ValueError):
    """``run`` repeated for an instance id with a different spec."""


class GuestNetwork(Protocol):
    """What the instances need from the node network (:class:`BridgeNetwork` or a null one)."""

    async def add_guest_for(self, spec: InstanceSpec) -> None: ...

    async def remove_guest_for(self, spec: InstanceSpec) -> None: ...


class NoNetwork:
    """For nodes and tests whose guests' network is set up by someone else."""

    async def add_guest_for(self, spec: InstanceSpec) -> None:
        return None

    async def remove_guest_for(self, spec: InstanceSpec) -> None:
        return None


@dataclass(frozen=True)
class InstanceStatus:
    instance_id: str
    state: str  # a GuestState value, or "terminated"


@dataclass(frozen=True)
class VolumeStatus:
    instance_id: str
    volume_id: str
    device: str | None
    state: str  # "attached" or "detached"


class InstanceManager:
    def __init__(
        self,
        host: Host,
        state_dir: Path,
        policy: NodePolicy,
        network: GuestNetwork,
        *,
        stop_grace: float = 60.0,
        images: ImageCache | None = None,
    ) -> None:
        self.host = host
        self.images = images
        if images is not None:
            images.in_use = self.images_in_use
        self.store = SpecStore(state_dir)
        self.attachments = AttachmentStore()
        self.policy = policy
        self.network = network
        self.stop_grace = stop_grace
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def _spec(self, instance_id: str) -> InstanceSpec:
        spec = self.store.load(instance_id)
        if spec is None:
            raise UnknownInstance(instance_id)
        return spec

    async def _status(self, instance_id: str) -> InstanceStatus:
        return InstanceStatus(instance_id, (await Guest(self.host, instance_id).state()).value)

    def images_in_use(self) -> set[str]:
        """SHA-256 of every image a stored instance boots from (never evicted)."""
        return {source.sha256 for spec in self.store.all() for source in spec.images.values()}

    async def _local(self, spec: InstanceSpec) -> InstanceSpec:
        """``spec`` with its ``images`` replaced by their paths in the image cache (fetched
        now if need be: concurrently, one download per image however many launches want it)."""
        if not spec.images:
            return spec
        if self.images is None:
            raise DiskError("this node has no image cache")
        roles = list(spec.images)
        got = await asyncio.gather(*(self.images.get(spec.images[role]) for role in roles))
        paths = {IMAGE_ROLES[role]: str(path) for role, path in zip(roles, got, strict=True)}
        return replace(spec, images={}, kernel=paths.get("kernel", spec.kernel),
                       ramdisk=paths.get("ramdisk", spec.ramdisk),
                       root_image=paths.get("root_image", spec.root_image))

    async def _define(self, spec: InstanceSpec) -> None:
        paths = self.store.paths(spec.instance_id)
        local = await self._local(spec)
        assert local.root_image is not None  # InstanceSpec guarantees a path or an image
        await create_overlay(paths.overlay, Path(local.root_image), local.root_image_format)
        for disk in spec.ephemeral:
            await create_blank(paths.ephemeral(disk.name), disk.size_gib)
        await self.network.add_guest_for(spec)
        volumes = self.attachments.load(paths)
        await self.host.define(design(local, paths, self.policy, volumes).to_string())

    async def run(self, spec: InstanceSpec) -> InstanceStatus:
        """Persist the spec, make its disk and network, define and boot the domain."""
        async with self._locks[spec.instance_id]:
            known = self.store.load(spec.instance_id)
            if known is not None and known != spec:
                raise SpecConflict(f"{spec.instance_id} already runs with a different spec")
            self.store.save(spec)
            await self._define(spec)
            await Guest(self.host, spec.instance_id).start()
            log.info("event=instance_run instance_id=%s", spec.instance_id)
            return await self._status(spec.instance_id)

    async def start(self, instance_id: str) -> InstanceStatus:
        """Boot a stopped instance again (XML re-rendered from the spec)."""
        async with self._locks[instance_id]:
            spec = self._spec(instance_id)
            guest = Guest(self.host, instance_id)
            if not (await guest.state()).active:
                await self._define(spec)
                await guest.start()
            return await self._status(instance_id)

    async def stop(self, instance_id: str, grace: float | None = None) -> InstanceStatus:
        """ACPI shutdown, destroy after the grace period; disk and spec are kept."""
        async with self._locks[instance_id]:
            self._spec(instance_id)
            clean = await Guest(self.host, instance_id).shutdown(
                self.stop_grace if grace is None else grace
            )
            log.info("event=instance_stop instance_id=%s graceful=%s", instance_id, clean)
            return await self._status(instance_id)

    async def reboot(self, instance_id: str) -> InstanceStatus:
        async with self._locks[instance_id]:
            self._spec(instance_id)
            guest = Guest(self.host, instance_id)
            if (await guest.state()).active:
                await guest.reboot()
            return await self._status(instance_id)

    async def terminate(self, instance_id: str) -> InstanceStatus:
        """Destroy and undefine the domain, drop its network, delete its files. Unknown ids
        are already terminated."""
        async with self._locks[instance_id]:
            spec = self.store.load(instance_id)
            guest = Guest(self.host, instance_id)
            await guest.destroy()
            await guest.undefine()
            if spec is not None:
                await self.network.remove_guest_for(spec)
            await asyncio.to_thread(self.store.delete, instance_id)
            log.info("event=instance_terminate instance_id=%s", instance_id)
            self._locks.pop(instance_id, None)
            return InstanceStatus(instance_id, "terminated")

    async def attach_volume(
        self, instance_id: str, attachment: VolumeAttachment
    ) -> VolumeStatus:
        """Record the attachment, then hot-plug the disk (live and persistent on a running
        guest, persistent only on a stopped one). Repeating it is harmless."""
        async with self._locks[instance_id]:
            spec = self._spec(instance_id)
            paths = self.store.paths(instance_id)
            if attachment.path and not await asyncio.to_thread(Path(attachment.path).is_file):
                raise InvalidSpec(f"volume file {attachment.path} does not exist")
            current = self.attachments.load(paths)
            if not check_new(current, attachment):
                self.attachments.save(paths, [*current, attachment])
            try:
                await self._plug(spec, volume_disk(attachment))
            except HypervisorTimeout:
                raise  # it may still complete: the record stays, a retry finishes it
            except Exception:
                self.attachments.save(paths, current)  # refused: not attached after all
                raise
            log.info("event=volume_attached instance_id=%s volume_id=%s device=%s",
                     instance_id, attachment.volume_id, attachment.device)
            return VolumeStatus(instance_id, attachment.volume_id, attachment.device, "attached")

    async def detach_volume(self, instance_id: str, volume_id: str) -> VolumeStatus:
        """Unplug the volume (waiting for the guest to release it), then forget it. A volume
        that is not attached, or an instance that is gone, answers ``detached``."""
        async with self._locks[instance_id]:
            spec = self.store.load(instance_id)
            if spec is None:
                return VolumeStatus(instance_id, volume_id, None, "detached")
            paths = self.store.paths(instance_id)
            current = self.attachments.load(paths)
            found = [a for a in current if a.volume_id == volume_id]
            if not found:
                return VolumeStatus(instance_id, volume_id, None, "detached")
            guest = Guest(self.host, instance_id)
            if (await guest.state()).active:
                await guest.detach_disk(volume_disk(found[0]))
            self.attachments.save(paths, [a for a in current if a.volume_id != volume_id])
            if not (await guest.state()).active:
                await self._define(spec)  # the definition, re-rendered without the volume
            log.info("event=volume_detached instance_id=%s volume_id=%s", instance_id, volume_id)
            return VolumeStatus(instance_id, volume_id, found[0].device, "detached")

    async def _plug(self, spec: InstanceSpec, disk: DiskConfig) -> None:
        """A running guest gets the disk hot-plugged (live and persistent); a stopped one gets
        its definition re-rendered from the spec and the recorded attachments."""
        guest = Guest(self.host, spec.instance_id)
        if (await guest.state()).active:
            await guest.attach_disk(disk)
        else:
            await self._define(spec)

    async def volumes(self, instance_id: str) -> list[VolumeStatus]:
        self._spec(instance_id)
        return [VolumeStatus(instance_id, a.volume_id, a.device, "attached")
                for a in self.attachments.load(self.store.paths(instance_id))]

    async def backup_volume(self, instance_id: str, volume_id: str,
                            name: str) -> BackupStatus:
        """A point-in-time copy of an attached volume of a running guest (``backups``)."""
        async with self._locks[instance_id]:
            self._spec(instance_id)
            target = backup_path(self.store.state_dir, instance_id, volume_id, name)
            found = [a for a in self.attachments.load(self.store.paths(instance_id))
                     if a.volume_id == volume_id]
            guest = Guest(self.host, instance_id)
            if not found or not (await guest.state()).active:
                raise BackupRefused(f"{volume_id} is not attached to a running {instance_id}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            try:
                await guest.backup_disk(found[0].target_dev, target)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            log.info("event=volume_backup instance_id=%s volume_id=%s path=%s",
                     instance_id, volume_id, target)
            return BackupStatus(instance_id, volume_id, name, str(target))

    async def drop_backup(self, instance_id: str, volume_id: str, name: str) -> None:
        backup_path(self.store.state_dir, instance_id, volume_id, name).unlink(missing_ok=True)

    async def console(self, instance_id: str) -> bytes:
        self._spec(instance_id)
        return await console_tail(self.store.paths(instance_id).console_log)

    async def status(self, instance_id: str) -> InstanceStatus:
        self._spec(instance_id)
        return await self._status(instance_id)

    async def statuses(self) -> list[InstanceStatus]:
        """Every instance on the node (what heartbeats report)."""
        specs = await asyncio.to_thread(self.store.all)
        return [await self._status(spec.instance_id) for spec in specs]

    async def adopt(self) -> list[InstanceStatus]:
        """After an agent restart: every stored instance gets its network and domain definition
        back; running domains keep running untouched."""
        statuses = []
        for spec in self.store.all():
            async with self._locks[spec.instance_id]:
                state = await Guest(self.host, spec.instance_id).state()
                if state is GuestState.MISSING or not state.active:
                    await self._define(spec)
                else:
                    await self.network.add_guest_for(spec)
                    guest = Guest(self.host, spec.instance_id)
                    for volume in self.attachments.load(self.store.paths(spec.instance_id)):
                        await guest.attach_disk(volume_disk(volume))  # an interrupted attach
                statuses.append(await self._status(spec.instance_id))
        return statuses
