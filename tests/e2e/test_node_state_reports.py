"""State changes the agent did not cause reach a real controller at once, not at the next
heartbeat: a domain destroyed behind the agent's back (libvirt's test driver) shows up as
``shutoff`` in the controller while the agent's heartbeat interval is an hour."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nodeagent.controller_link import ControllerLink, NodeDescription
from nodeagent.hypervisor.designer import NodePolicy
from nodeagent.hypervisor.host import Host
from nodeagent.instances import InstanceManager, NoNetwork
from nodeagent.spec import InstanceSpec
from nodeagent.state_reports import report_state_changes
from tests.conftest import Server, host_tests_unavailable, running_server
from tests.hostcheck import require_libvirt_binding


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(db_backend, tmp_path_factory, {}) as srv:
        yield srv


def reported(server: Server, token: str, name: str) -> list[dict[str, str]]:
    reply = httpx.get(server.endpoint + "_ironbark/nodes", trust_env=False,
                      headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    by_name = {node["name"]: node for node in reply.json()["nodes"]}
    return list(by_name[name]["instances"]) if name in by_name else []


def test_a_guest_stopped_behind_the_agents_back_is_reported_at_once(
    server: Server, tmp_path: Path
) -> None:
    require_libvirt_binding()
    if shutil.which("qemu-img") is None:
        host_tests_unavailable("qemu-img missing (deploy/host-setup.sh installs qemu-utils)")
    token = (server.data_dir / "cluster-token").read_text().strip()
    image = tmp_path / "root.img"
    image.write_bytes(b"\0" * 1024 * 1024)
    instance_id = "i-" + uuid.uuid4().hex[:17]
    name = "events-" + instance_id
    spec = InstanceSpec(instance_id=instance_id, memory_mib=128, vcpus=1, kernel="/boot/vmlinuz",
                        root_image=str(image), mac="52:54:00:00:00:05", tap="ib-ev",
                        private_ip="10.77.0.15")

    async def wait_for(state: str, deadline: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < deadline:
            got = await asyncio.to_thread(reported, server, token, name)
            if {"instance_id": instance_id, "state": state} in got:
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        raise AssertionError(f"controller did not hear {state!r} within {deadline} s: {got}")

    async def scenario() -> None:
        manager = InstanceManager(Host("test:///default"), tmp_path / "state",
                                  NodePolicy(virt_type="qemu", bridge="ibr0"), NoNetwork())
        await manager.run(spec)

        async def report() -> list[dict[str, str]]:
            return [vars(status) for status in await manager.statuses()]

        async with httpx.AsyncClient(trust_env=False) as client:
            link = ControllerLink(
                server.endpoint, token,
                NodeDescription(name, "http://127.0.0.1:1/", "qemu", 2, 4096, 10, 8),
                report, identity_file=None, client=client, heartbeat_interval=3600)
            stop_reports = report_state_changes(manager.host.events, link.nudge)
            beating = asyncio.create_task(link.run())
            try:
                await wait_for("running", 10)  # the first heartbeat
                # behind the agent's back: not through the manager's commands
                await manager.host.call(lambda c: c.lookupByName(instance_id).destroy())
                assert await wait_for("shutoff", 5) < 5  # an hour before the next heartbeat
            finally:
                stop_reports()
                beating.cancel()
                await manager.terminate(instance_id)
                await manager.host.close()

    asyncio.run(scenario())
