"""The instance reconciler: drives every instance towards the state its row says.

One pass (``reconcile_instances``, also what tests call):

1. *plan*, in one transaction: apply the nodes' heartbeat reports (a report counts only if it
   arrived after the instance's last state change); fail launches past their deadline; list
   the commands to send (run, start, stop, reboot, terminate, console) with each node's
   endpoint and token;
2. *send* them, concurrently, with no transaction open — every command is idempotent, so a
   pass repeated after a crash or by a second controller does no harm;
3. *apply* the answers, in one transaction, to rows still in the state they were planned from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from controller.config import Settings
from controller.db.engine import transaction
from controller.db.models import Instance, Node
from controller.ec2 import instance_states as states
from controller.ec2.images_create import (
    BOOTING_AFTER_IMAGE,
    OFF_FOR_IMAGE,
    STOPPING_FOR_IMAGE,
    finish_images,
    imaging_done,
)
from controller.ec2.instance_volumes import VolumesFailed, VolumesNotReady, boot_volumes
from controller.ec2.node_spec import LaunchError, build_spec
from controller.ec2.volume_reconciler import volume_backend
from controller.identity.secretbox import SecretBox
from controller.logs import event
from controller.nodes.client import NodeClient, NodeRefused, NodeTarget, NodeUnavailable
from controller.nodes.registry import HEALTHY, instance_reports
from storage.volumes import Placement, VolumeBackend, VolumeStorageError

log = logging.getLogger("ironbark.instances")
CONSOLE_INTEREST = timedelta(minutes=10)
PARALLEL = 32


@dataclass
class Command:
    instance_id: str
    planned_state: str
    verb: str  # run | start | stop | reboot | terminate | console | release
    target: NodeTarget
    spec: dict[str, Any] | None = None
    exports: list[tuple[dict[str, str], Placement, str]] = field(default_factory=list)
    """Spec entries of volumes to serve over NBD to the node (filled in by ``send``)."""
    answer: str | None = None
    console: bytes | None = None
    refused: str | None = None
    extra: list[str] = field(default_factory=list)


def _set(instance: Instance, state: str, now: datetime, reason: str | None = None) -> None:
    event(log, logging.INFO, "instance.state", instance=instance.id, was=instance.state,
          now=state, reason=reason or "")
    instance.state = state
    instance.state_changed_at = now
    if state != states.RUNNING:
        instance.image_hold = None  # a CreateImage shutdown ends with the running state
    if reason is not None:
        instance.state_reason_code = reason
        instance.state_reason_message = states.REASON_MESSAGES.get(reason, reason)
    if state == states.TERMINATED:
        instance.private_ip = None


def _fail_launch(instance: Instance, now: datetime, why: str) -> None:
    event(log, logging.WARNING, "instance.launch_failed", instance=instance.id, why=why)
    _set(instance, states.SHUTTING_DOWN, now, states.INTERNAL_ERROR)


def _apply_reports(instance: Instance, node: Node | None, now: datetime) -> None:
    if node is None or node.state != HEALTHY:
        if instance.state == states.SHUTTING_DOWN:
            _set(instance, states.TERMINATED, now)  # nothing left to stop on a lost node
        return
    if node.last_heartbeat_at.replace(tzinfo=UTC) <= instance.state_changed_at.replace(tzinfo=UTC):
        return
    reported = {r["instance_id"]: r["state"] for r in instance_reports(node)}
    if instance.state == states.RUNNING and instance.image_hold is not None:
        # powered off on purpose for CreateImage
        if instance.image_hold == BOOTING_AFTER_IMAGE and reported.get(instance.id) == "running":
            instance.image_hold = None  # reports from now on are about the booted guest
        return
    change = states.from_node_report(instance.state, reported.get(instance.id),
                                     instance.shutdown_behavior, instance.root_device_type)
    if change.state is not None:
        _set(instance, change.state, now, change.reason_code)


def _verb(session: Session, instance: Instance, now: datetime) -> str | None:
    if instance.state == states.RUNNING and instance.image_hold == STOPPING_FOR_IMAGE:
        return "image-stop"  # CreateImage: shut the guest down for its snapshots
    if instance.state == states.RUNNING and instance.image_hold == OFF_FOR_IMAGE:
        return "image-start" if imaging_done(session, instance) else None
    if instance.state == states.PENDING:
        return "run"
    if instance.state == states.STOPPING:
        return "stop"
    if instance.state == states.SHUTTING_DOWN:
        return "terminate"
    if instance.state == states.RUNNING and instance.reboot_requested:
        return "reboot"
    if instance.state == states.STOPPED and instance.node_id is not None:
        return "release"  # an EBS-backed instance leaves its node while stopped
    wanted = instance.console_wanted_at
    if instance.state == states.RUNNING and wanted is not None \
            and wanted.replace(tzinfo=UTC) > now - CONSOLE_INTEREST:
        return "console"
    return None


def _busy(session: Session, nodes: Iterable[Node], now: datetime) -> list[Instance]:
    """The instances a pass must look at: those in a transitional state, those with a reboot
    or console request, and running ones their node reports powered off. Quiet running
    instances are not loaded at all (a pass stays cheap with thousands of them)."""
    off = [r["instance_id"] for node in nodes if node.state == HEALTHY
           for r in instance_reports(node) if r["state"] in ("shutoff", "crashed")]
    conditions = [
        Instance.state.in_((states.PENDING, states.STOPPING, states.SHUTTING_DOWN)),
        (Instance.state == states.STOPPED) & Instance.node_id.is_not(None),
        Instance.image_hold.is_not(None),
        (Instance.state == states.RUNNING) & Instance.reboot_requested.is_(True),
        (Instance.state == states.RUNNING) & (Instance.console_wanted_at > now - CONSOLE_INTEREST),
    ]
    if off:
        conditions.append((Instance.state == states.RUNNING) & Instance.id.in_(off))
    return list(session.scalars(select(Instance).where(or_(*conditions)).order_by(Instance.id)))


def plan(sessions: sessionmaker[Session], box: SecretBox, settings: Settings,
         now: datetime | None = None) -> list[Command]:
    now = now or datetime.now(UTC)
    deadline = timedelta(seconds=settings.instance_launch_timeout_seconds)
    commands: list[Command] = []
    with transaction(sessions) as session:
        finish_images(session)
        nodes: dict[str, Node] = {n.id: n for n in session.scalars(select(Node))}
        for instance in _busy(session, nodes.values(), now):
            node = nodes.get(instance.node_id or "")
            _apply_reports(instance, node, now)
            if instance.state == states.PENDING and \
                    instance.state_changed_at.replace(tzinfo=UTC) < now - deadline:
                _fail_launch(instance, now, "the node did not start it in time")
            verb = _verb(session, instance, now)
            if verb is None or node is None or node.state != HEALTHY:
                continue
            command = _command(session, box, settings, instance, node, verb, now)
            if command is not None:
                commands.append(command)
    return commands


def _command(session: Session, box: SecretBox, settings: Settings, instance: Instance,
             node: Node, verb: str, now: datetime) -> Command | None:
    token = box.open(node.api_token_encrypted) if node.api_token_encrypted else ""
    spec = None
    exports: list[tuple[dict[str, str], Placement, str]] = []
    if verb == "run":
        try:
            boot = boot_volumes(session, settings, instance, node.name)
            spec = build_spec(session, box, settings, instance, boot)
            exports = [(entry, Placement(v.backend, v.host or "", v.location or "",
                                         "qcow2" if v.format == "qcow2" else "raw"), v.id)
                       for entry, v in boot.exports]
        except VolumesNotReady:
            return None  # still restoring: the instance stays pending
        except (LaunchError, VolumesFailed) as exc:
            _fail_launch(instance, now, str(exc))
            verb = "terminate"
    return Command(instance.id, instance.state, verb, NodeTarget(node.endpoint, token), spec,
                   exports=exports)


async def _export(backend: VolumeBackend | None, command: Command) -> None:
    for entry, placement, volume_id in command.exports:
        if backend is None:
            raise VolumeStorageError("no volume backend to export from")
        export = await asyncio.to_thread(backend.export, placement, volume_id)
        entry.pop("path", None)
        entry["nbd"], entry["format"] = export.uri, "raw"


async def send(client: httpx.AsyncClient, command: Command,
               backend: VolumeBackend | None = None) -> Command:
    node = NodeClient(client, command.target)
    iid = command.instance_id
    try:
        if command.verb == "run":
            assert command.spec is not None
            await _export(backend, command)
            command.answer = await node.run(iid, command.spec)
            if command.answer == "shutoff":  # a started-again instance the node already has
                command.answer = await node.start(iid)
        elif command.verb == "console":
            command.console = await node.console(iid)
        else:
            calls: dict[str, Callable[[str], Awaitable[str]]] = {
                "stop": node.stop, "terminate": node.terminate, "reboot": node.reboot,
                "start": node.start, "release": node.terminate, "image-stop": node.stop,
                "image-start": node.start}
            command.answer = await calls[command.verb](iid)
    except (NodeRefused, VolumeStorageError) as exc:
        command.refused = str(exc)
    except NodeUnavailable as exc:
        event(log, logging.WARNING, "instance.node_unavailable", instance=iid,
              command=command.verb, error=str(exc))
    return command


def apply(sessions: sessionmaker[Session], commands: list[Command],
          now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    with transaction(sessions) as session:
        for command in commands:
            instance = session.get(Instance, command.instance_id, with_for_update=True)
            if instance is None or instance.state != command.planned_state:
                continue
            _apply_one(instance, command, now)


def _apply_one(instance: Instance, command: Command, now: datetime) -> None:
    if command.verb == "console":
        if command.console is not None:
            instance.console_output = command.console[-64 * 1024:]
            instance.console_at = now
        return
    if command.verb == "reboot":
        if command.answer is not None or command.refused is not None:
            instance.reboot_requested = False
        return
    if command.verb in ("image-stop", "image-start"):
        if command.verb == "image-stop" and command.answer in ("shutoff", "crashed"):
            instance.image_hold = OFF_FOR_IMAGE
        elif command.verb == "image-start" and command.answer == states.RUNNING:
            instance.image_hold = BOOTING_AFTER_IMAGE  # until a report shows it running
        return
    if command.verb == "release":
        if command.answer == states.TERMINATED:
            event(log, logging.INFO, "instance.released", instance=instance.id,
                  node=instance.node_id)
            instance.node_id = None
        return
    if command.refused is not None:
        if command.verb == "run":
            _fail_launch(instance, now, command.refused)
        elif command.verb == "terminate":
            _set(instance, states.TERMINATED, now)
        elif command.verb == "stop":
            _set(instance, states.STOPPED, now)  # stopped before it ever ran (still restoring)
        return
    if command.answer is None:
        return
    change = states.from_node_report(instance.state, command.answer,
                                     instance.shutdown_behavior, instance.root_device_type)
    if change.state is not None:
        _set(instance, change.state, now, change.reason_code)


async def reconcile_instances(sessions: sessionmaker[Session], box: SecretBox,
                              settings: Settings, client: httpx.AsyncClient,
                              backend: VolumeBackend | None = None) -> int:
    """One pass; the number of commands sent."""
    commands = await asyncio.to_thread(plan, sessions, box, settings)
    if not commands:
        return 0
    gate = asyncio.Semaphore(PARALLEL)

    async def limited(command: Command) -> Command:
        async with gate:
            return await send(client, command, backend)

    done = await asyncio.gather(*(limited(c) for c in commands))
    await asyncio.to_thread(apply, sessions, list(done))
    return len(done)


async def instance_loop(sessions: sessionmaker[Session], box: SecretBox,
                        settings: Settings) -> None:
    backend = volume_backend(settings)
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        while True:
            try:
                await reconcile_instances(sessions, box, settings, client, backend)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                event(log, logging.ERROR, "instances.reconcile_failed", exc_info=True)
            await asyncio.sleep(settings.instance_reconcile_seconds)
