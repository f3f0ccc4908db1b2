"""The volume reconciler: makes and removes volume bytes and drives attachments.

One pass (``reconcile_volumes``), for the volumes kept on this storage host, in the three
steps of the instance reconciler:

1. *plan*, in one transaction: ``creating`` volumes to materialise, ``deleting`` ones to
   remove, attachments ``attaching``/``detaching`` to send to the instance's node, and
   attachments of terminated instances to release (deleted with DeleteOnTermination);
2. *send*, with no transaction open: the backend's disk work in a worker thread, the NBD
   export for a node on another host, the node's attach/detach command (idempotent);
3. *apply* the outcomes, in one transaction, to rows still as they were planned.

A crash anywhere leaves rows in a transitional state that the next pass repeats.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from controller.config import Settings
from controller.db.engine import transaction
from controller.db.models import Instance, Node, Volume
from controller.ec2 import instance_states as istates
from controller.ec2 import volume_rules as rules
from controller.ec2.snapshot_restore import Restorer, snapshot_restorer
from controller.ec2.tagging import delete_all_for
from controller.ec2.volume_attach import clear_attachment
from controller.identity.secretbox import SecretBox
from controller.logs import event
from controller.nodes.client import NodeClient, NodeRefused, NodeTarget, NodeUnavailable
from controller.nodes.registry import HEALTHY
from storage.objects import BlobStore
from storage.volumes import FileBackend, Placement, VolumeBackend, VolumeStorageError
from storage.volumes.backend import Format
from storage.volumes.nbd import NbdExports

log = logging.getLogger("ironbark.volumes")
PARALLEL = 16


def volume_backend(settings: Settings) -> FileBackend:
    exports = NbdExports(settings.volumes_dir / "exports", settings.nbd_address,
                         ports=settings.volume_nbd_ports)
    return FileBackend(settings.volumes_dir, settings.storage_host,
                       image_format=settings.volume_format, exports=exports)


@dataclass
class Job:
    volume_id: str
    planned: tuple[str, str | None]
    verb: str  # create | delete | attach | detach | release
    size_gib: int = 0
    snapshot_id: str | None = None
    placement: Placement | None = None
    instance_id: str | None = None
    device: str | None = None
    target: NodeTarget | None = None
    local: bool = True
    ok: bool = False
    refused: str | None = None


def _placement(volume: Volume) -> Placement | None:
    if volume.location is None or volume.host is None:
        return None
    fmt: Format = "qcow2" if volume.format == "qcow2" else "raw"
    return Placement(volume.backend, volume.host, volume.location, fmt)


def materialise(backend: VolumeBackend, job: Job, restorer: Restorer | None = None) -> Placement:
    """Make the volume's bytes: a zero-filled volume, or — with a ``snapshot_id`` — the
    snapshot's parts restored from the object store into it (``snapshot_restore``; the file
    is replaced whole, so a repeat after a crash restores again)."""
    placement = backend.create(job.volume_id, job.size_gib)
    if job.snapshot_id is not None:
        if restorer is None:
            raise VolumeStorageError("this controller has no object store to restore from")
        restorer(job.snapshot_id, placement, job.size_gib)
    return placement


def _attachment_job(volume: Volume, instance: Instance | None, nodes: dict[str, Node],
                    box: SecretBox, settings: Settings) -> Job | None:
    planned = (volume.state, volume.attach_state)
    if instance is None or instance.state == istates.TERMINATED:
        return Job(volume.id, planned, "release", placement=_placement(volume))
    if volume.attach_state not in (rules.ATTACHING, rules.DETACHING):
        return None
    node = nodes.get(instance.node_id or "")
    if node is None or node.state != HEALTHY:
        return None
    token = box.open(node.api_token_encrypted) if node.api_token_encrypted else ""
    verb = "attach" if volume.attach_state == rules.ATTACHING else "detach"
    local = settings.volume_attach == "auto" and node.name == volume.host
    return Job(volume.id, planned, verb, placement=_placement(volume), instance_id=instance.id,
               device=volume.device, target=NodeTarget(node.endpoint, token), local=local)


def plan(sessions: sessionmaker[Session], box: SecretBox, settings: Settings) -> list[Job]:
    jobs: list[Job] = []
    with transaction(sessions) as session:
        volumes = list(session.scalars(select(Volume).where(
            Volume.host == settings.storage_host,
            or_(Volume.state.in_((rules.CREATING, rules.DELETING)),
                Volume.attach_state.is_not(None))).order_by(Volume.id)))
        if not volumes:
            return jobs
        nodes = {n.id: n for n in session.scalars(select(Node))}
        wanted = {v.instance_id for v in volumes if v.instance_id}
        instances = {i.id: i for i in session.scalars(
            select(Instance).where(Instance.id.in_(wanted)))} if wanted else {}
        for volume in volumes:
            planned = (volume.state, volume.attach_state)
            if volume.state == rules.CREATING:
                jobs.append(Job(volume.id, planned, "create", size_gib=volume.size_gib,
                                snapshot_id=volume.snapshot_id))
            elif volume.state == rules.DELETING:
                jobs.append(Job(volume.id, planned, "delete", placement=_placement(volume)))
            elif volume.attach_state is not None:
                job = _attachment_job(volume, instances.get(volume.instance_id or ""), nodes,
                                      box, settings)
                if job is not None:
                    jobs.append(job)
    return jobs


def _body(backend: VolumeBackend, job: Job) -> dict[str, str]:
    assert job.placement is not None and job.device is not None
    if job.local:
        return {"device": job.device, "format": job.placement.format,
                "path": job.placement.location}
    export = backend.export(job.placement, job.volume_id)
    return {"device": job.device, "format": "raw", "nbd": export.uri}


async def send(client: httpx.AsyncClient, backend: VolumeBackend, job: Job,
               restorer: Restorer | None = None) -> Job:
    try:
        if job.verb == "create":
            job.placement = await asyncio.to_thread(materialise, backend, job, restorer)
        elif job.verb == "delete":
            if job.placement is not None:
                await asyncio.to_thread(backend.delete, job.placement)
        elif job.verb == "attach":
            assert job.target is not None and job.instance_id is not None
            body = await asyncio.to_thread(_body, backend, job)
            await NodeClient(client, job.target).attach_volume(job.instance_id, job.volume_id,
                                                               body)
        elif job.verb == "detach":
            assert job.target is not None and job.instance_id is not None
            await NodeClient(client, job.target).detach_volume(job.instance_id, job.volume_id)
        if job.verb in ("detach", "release") and job.placement is not None:
            await asyncio.to_thread(backend.unexport, job.placement, job.volume_id)
        job.ok = True
    except (VolumeStorageError, NodeRefused) as exc:
        job.refused = str(exc)[:255]
        event(log, logging.WARNING, "volume.refused", volume=job.volume_id, verb=job.verb,
              error=job.refused)
    except NodeUnavailable as exc:
        event(log, logging.WARNING, "volume.node_unavailable", volume=job.volume_id,
              verb=job.verb, error=str(exc))
    return job


def apply(sessions: sessionmaker[Session], jobs: list[Job]) -> None:
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        for job in jobs:
            volume = session.get(Volume, job.volume_id, with_for_update=True)
            if volume is None or (volume.state, volume.attach_state) != job.planned:
                continue
            _apply_one(session, volume, job, now)


def _apply_one(session: Session, volume: Volume, job: Job, now: datetime) -> None:
    if job.verb == "create":
        if job.ok and job.placement is not None:
            volume.host, volume.location = job.placement.host, job.placement.location
            volume.format, volume.backend = job.placement.format, job.placement.backend
            _set(volume, rules.AVAILABLE, now)
        elif job.refused is not None:
            _set(volume, rules.ERROR, now, job.refused)
    elif job.verb == "delete" and job.ok:
        delete_all_for(session, volume.account_id, volume.id)
        session.delete(volume)
        event(log, logging.INFO, "volume.deleted", volume=volume.id)
    elif job.verb == "attach" and job.ok:
        volume.attach_state = rules.ATTACHED
        event(log, logging.INFO, "volume.attached", volume=volume.id,
              instance=volume.instance_id, device=volume.device, nbd=not job.local)
    elif job.verb == "attach" and job.refused is not None:
        clear_attachment(volume, now)
        volume.state_message = job.refused
    elif job.verb == "detach" and job.ok:
        event(log, logging.INFO, "volume.detached", volume=volume.id, instance=volume.instance_id)
        clear_attachment(volume, now)
    elif job.verb == "release" and job.ok:
        gone = volume.delete_on_termination
        clear_attachment(volume, now)
        if gone:
            _set(volume, rules.DELETING, now)


def _set(volume: Volume, state: str, now: datetime, message: str | None = None) -> None:
    event(log, logging.INFO, "volume.state", volume=volume.id, was=volume.state, now=state)
    volume.state, volume.state_changed_at, volume.state_message = state, now, message


async def reconcile_volumes(sessions: sessionmaker[Session], box: SecretBox, settings: Settings,
                            client: httpx.AsyncClient, backend: VolumeBackend,
                            restorer: Restorer | None = None) -> int:
    """One pass; the number of jobs done or tried."""
    jobs = await asyncio.to_thread(plan, sessions, box, settings)
    if not jobs:
        return 0
    gate = asyncio.Semaphore(PARALLEL)

    async def limited(job: Job) -> Job:
        async with gate:
            return await send(client, backend, job, restorer)

    done = await asyncio.gather(*(limited(j) for j in jobs))
    await asyncio.to_thread(apply, sessions, list(done))
    return len(done)


async def volume_loop(sessions: sessionmaker[Session], box: SecretBox,
                      settings: Settings, blobs: BlobStore | None = None) -> None:
    backend = volume_backend(settings)
    restorer = snapshot_restorer(sessions, blobs) if blobs is not None else None
    async with httpx.AsyncClient(trust_env=False, timeout=60) as client:
        while True:
            try:
                await reconcile_volumes(sessions, box, settings, client, backend, restorer)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                event(log, logging.ERROR, "volumes.reconcile_failed", exc_info=True)
            await asyncio.sleep(settings.volume_reconcile_seconds)
