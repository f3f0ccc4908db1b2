"""``ironbark node``: the node agent in the foreground until SIGINT/SIGTERM.

At start: the guest network is set up (idempotently; running guests keep their leases and
guards), then every instance on disk is re-adopted. At stop nothing is torn down: guests keep
running without their agent, and the next start adopts them again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
from dataclasses import asdict
from pathlib import Path

import httpx
import uvicorn

from controller.logs import configure
from nodeagent.api import Commands, create_app, host_capacity
from nodeagent.controller_link import ControllerLink, NodeDescription
from nodeagent.hypervisor.designer import NodePolicy
from nodeagent.hypervisor.host import Host
from nodeagent.hypervisor.virt_type import detect_virt_type
from nodeagent.images import ImageCache
from nodeagent.instances import GuestNetwork, InstanceManager, NoNetwork
from nodeagent.metrics.sampler import Sampler, stored_targets
from nodeagent.metrics.shipper import MetricsShipper
from nodeagent.network.bridge import BridgeSettings, SpecNetwork
from nodeagent.settings import NodeSettings
from nodeagent.state_reports import report_state_changes

log = logging.getLogger("ironbark.node")


def api_token(settings: NodeSettings) -> str:
    """The configured token, else the one in STATE/api-token (created 0600 on first start)."""
    if settings.api_token:
        return settings.api_token
    path = settings.state_dir / "api-token"
    if path.exists():
        return path.read_text().strip()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token


def build(settings: NodeSettings) -> tuple[InstanceManager, GuestNetwork]:
    virt_type = detect_virt_type(settings.virt_type)
    host = Host(settings.libvirt_uri, deadline=settings.libvirt_deadline)
    network: GuestNetwork = NoNetwork()
    if settings.manage_network:
        bridge = BridgeSettings(settings.bridge, settings.gateway_cidr, settings.metadata_port)
        network = SpecNetwork(bridge, settings.state_dir / "network")
    policy = NodePolicy(virt_type=virt_type, bridge=settings.bridge)
    images = ImageCache(
        settings.image_cache_dir or settings.state_dir / "images",
        int(settings.image_cache_max_gib * 1024**3),
    )
    manager = InstanceManager(
        host, settings.state_dir, policy, network, stop_grace=settings.stop_grace, images=images
    )
    return manager, network


def teardown_network(settings: NodeSettings) -> int:
    """Remove the bridge, dnsmasq and nftables tables; refused while instances exist."""
    manager, network = build(settings)
    remaining = [spec.instance_id for spec in manager.store.all()]
    if remaining:
        print(f"ironbark node: instances still on this node: {', '.join(remaining)}")
        return 1
    if isinstance(network, SpecNetwork):
        asyncio.run(network.teardown())
    return 0


def disk_gib(settings: NodeSettings) -> int:
    if settings.disk_gib is not None:
        return settings.disk_gib
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(settings.state_dir).free // 1024**3


def controller_link(
    settings: NodeSettings, manager: Commands, token: str, virt_type: str
) -> ControllerLink | None:
    """The link to the controller, when one is configured (else the agent stands alone)."""
    if settings.controller_url is None:
        return None
    if not settings.cluster_token:
        raise ValueError("controller_url is set but cluster_token is not")
    capacity = host_capacity(virt_type)
    description = NodeDescription(
        name=settings.node_name or capacity["hostname"],
        endpoint=settings.advertise_url or f"http://{settings.host}:{settings.port}/",
        hypervisor=virt_type,
        vcpus=capacity["vcpus"],
        memory_mib=capacity["memory_mib"],
        disk_gib=disk_gib(settings),
        max_instances=settings.max_instances,
        api_token=token,
    )

    async def report() -> list[dict[str, str]]:
        return [asdict(status) for status in await manager.statuses()]

    return ControllerLink(
        settings.controller_url, settings.cluster_token, description, report,
        identity_file=settings.state_dir / "controller.json",
        client=httpx.AsyncClient(timeout=10, trust_env=False),
        heartbeat_interval=settings.heartbeat_interval,
    )


def node_server(settings: NodeSettings, server_class: type[uvicorn.Server] = uvicorn.Server
                ) -> uvicorn.Server:
    """The agent's API server (not started): network set-up, adoption and the controller link
    run in its lifespan."""
    manager, network = build(settings)
    token = api_token(settings)
    link = controller_link(settings, manager, token, manager.policy.virt_type)
    sampler = Sampler(
        manager.host,
        lambda: asyncio.to_thread(stored_targets, manager.store, manager.attachments),
        interval=settings.metrics_interval,
        keep=settings.metrics_buffer,
    )
    shipper = None
    if link is not None:
        shipper = MetricsShipper(link.send_metrics, per_instance=settings.metrics_buffer)
        sampler.sinks.append(shipper.add)
    tasks: list[asyncio.Task[None]] = []

    async def on_start() -> None:
        if manager.images is not None:
            await asyncio.to_thread(manager.images.clean_tmp)
        if isinstance(network, SpecNetwork):
            await network.setup()
        adopted = await manager.adopt()
        log.info(
            "event=node_started instances=%d virt_type=%s", len(adopted), manager.policy.virt_type
        )
        if link is not None:
            report_state_changes(manager.host.events, link.nudge)
            tasks.append(asyncio.create_task(link.run()))
        if shipper is not None:
            tasks.append(asyncio.create_task(shipper.run()))
        tasks.append(asyncio.create_task(sampler.run()))

    async def on_stop() -> None:
        for task in tasks:
            task.cancel()
        if link is not None:
            await link.client.aclose()
        if manager.images is not None:
            await manager.images.close()
        await manager.host.close()

    app = create_app(
        manager,
        token,
        capacity=lambda: host_capacity(manager.policy.virt_type),
        metrics=sampler,
        on_start=on_start,
        on_stop=on_stop,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    log.info(
        "event=node_listening endpoint=http://%s:%d/ state_dir=%s",
        settings.host,
        settings.port,
        Path(settings.state_dir),
    )
    return server_class(config)


def serve(settings: NodeSettings) -> None:
    configure(settings.log_level)  # the controller's structured key=value lines
    node_server(settings).run()
