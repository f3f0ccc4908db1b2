"""Node agents and a real ``ironbark up``: the agent's own link code registers, persists its
credential, sends heartbeats; a hundred fake agents register and report at once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nodeagent.controller_link import ControllerLink, NodeDescription, RegistrationRefused
from nodeagent.fake import FakeNode
from tests.conftest import Server, running_server


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Heartbeats every 0.5 s, so a silent node is unhealthy after 1.5 s."""
    env = {"IRONBARK_NODE_HEARTBEAT_SECONDS": "0.5", "IRONBARK_NODE_MISSED_HEARTBEATS": "3"}
    with running_server(db_backend, tmp_path_factory, env) as srv:
        yield srv


def cluster_token(server: Server) -> str:
    return (server.data_dir / "cluster-token").read_text().strip()


def nodes(server: Server) -> dict[str, dict[str, Any]]:
    reply = httpx.get(server.endpoint + "_ironbark/nodes", trust_env=False,
                      headers={"Authorization": f"Bearer {cluster_token(server)}"})
    assert reply.status_code == 200, reply.text
    return {node["name"]: node for node in reply.json()["nodes"]}


def link(server: Server, client: httpx.AsyncClient, name: str, state: Path,
         token: str | None = None) -> ControllerLink:
    description = NodeDescription(name, f"http://{name}:8774/", "qemu", 2, 4096, 50, 8, "tok")

    async def report() -> list[dict[str, str]]:
        return [{"instance_id": "i-00000000000000001", "state": "running"}]

    return ControllerLink(server.endpoint, token or cluster_token(server), description, report,
                          identity_file=state / "controller.json", client=client)


def test_agent_registers_once_and_reuses_its_credential(server: Server, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(trust_env=False) as client:
            first = link(server, client, "agent-1", tmp_path)
            assert await first.heartbeat() == "healthy"
            assert first.interval == 0.5  # the controller's advice
            saved = json.loads((tmp_path / "controller.json").read_text())
            assert (tmp_path / "controller.json").stat().st_mode & 0o077 == 0
            # a restarted agent: new object, same state dir, wrong cluster token even
            second = link(server, client, "agent-1", tmp_path, token="not-the-token")
            assert await second.heartbeat() == "healthy"
            assert second.identity is not None
            assert second.identity.node_id == saved["node_id"]
            assert json.loads((tmp_path / "controller.json").read_text()) == saved
            # a credential the controller does not know: register again (cluster token)
            (tmp_path / "controller.json").write_text(
                json.dumps({**saved, "credential": "forgotten"}))
            third = link(server, client, "agent-1", tmp_path)
            assert await third.heartbeat() == "healthy"
            assert third.identity is not None and third.identity.node_id == saved["node_id"]
            assert third.identity.credential != saved["credential"]
            with pytest.raises(RegistrationRefused):
                await link(server, client, "agent-2", tmp_path / "x", token="wrong").heartbeat()

    asyncio.run(scenario())
    node = nodes(server)["agent-1"]
    assert node["state"] == "healthy" and node["capacity"]["vcpus"] == 2
    assert node["instances"] == [{"instance_id": "i-00000000000000001", "state": "running"}]
    assert "agent-2" not in nodes(server)


def test_a_silent_node_turns_unhealthy_then_healthy_again(server: Server, tmp_path: Path) -> None:
    async def beat() -> None:
        async with httpx.AsyncClient(trust_env=False) as client:
            await link(server, client, "agent-silent", tmp_path).heartbeat()

    asyncio.run(beat())
    assert nodes(server)["agent-silent"]["state"] == "healthy"
    deadline = time.monotonic() + 10
    while nodes(server)["agent-silent"]["state"] != "unhealthy":  # the app's background loop
        assert time.monotonic() < deadline, "never marked unhealthy"
        time.sleep(0.2)
    asyncio.run(beat())
    assert nodes(server)["agent-silent"]["state"] == "healthy"


def test_a_hundred_fake_nodes(server: Server, tmp_path: Path) -> None:
    count = 100

    async def scenario() -> list[FakeNode]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(trust_env=False, limits=limits, timeout=60) as client:
            fakes = [FakeNode(f"fake-{n:03d}", server.endpoint, cluster_token(server), client,
                              state_dir=tmp_path / f"fake-{n:03d}") for n in range(count)]
            assert set(await asyncio.gather(*(f.link.heartbeat() for f in fakes))) == {"healthy"}
            # a command over the real command API, then a heartbeat reports it
            spec = {"memory_mib": 128, "vcpus": 1, "kernel": "/k", "root_image": "/r",
                    "mac": "52:54:00:00:00:01", "tap": "ib-fake", "private_ip": "10.0.0.2"}
            async with fakes[7].commands() as node:
                auth = {"Authorization": "Bearer fake-node-token"}
                reply = await node.put("/v1/instances/i-00000000000000007", json=spec,
                                       headers=auth)
                assert reply.json() == {"instance_id": "i-00000000000000007", "state": "running"}
                assert (await node.get("/v1/node")).status_code == 401
            await asyncio.gather(*(f.link.heartbeat() for f in fakes))
            return fakes

    started = time.monotonic()
    fakes = asyncio.run(scenario())
    elapsed = time.monotonic() - started
    seen = nodes(server)
    fake_view = {name: node for name, node in seen.items() if name.startswith("fake-")}
    assert len(fake_view) == count
    assert {node["state"] for node in fake_view.values()} == {"healthy"}
    assert len({node["node_id"] for node in fake_view.values()}) == count
    assert fake_view["fake-007"]["instances"] == [
        {"instance_id": "i-00000000000000007", "state": "running"}]
    assert fake_view["fake-042"]["capacity"] == {
        "vcpus": 16, "memory_mib": 65536, "disk_gib": 1000, "max_instances": 64}
    assert all(f.link.identity is not None for f in fakes)
    assert elapsed < 60, f"{count} nodes took {elapsed:.1f} s"
