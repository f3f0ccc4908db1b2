"""The node agent's HTTP+JSON command API, in process, over libvirt's test driver."""

from __future__ import annotations

import base64
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from nodeagent.api import create_app, host_capacity
from nodeagent.hypervisor.designer import NodePolicy
from nodeagent.hypervisor.host import Host
from nodeagent.instances import InstanceManager, NoNetwork
from tests.conftest import host_tests_unavailable
from tests.hostcheck import require_libvirt_binding

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    require_libvirt_binding()
    if shutil.which("qemu-img") is None:
        host_tests_unavailable("qemu-img missing (deploy/host-setup.sh installs qemu-utils)")
    (tmp_path / "root.img").write_bytes(b"\0" * 65536)
    manager = InstanceManager(
        Host("test:///default"),
        tmp_path / "state",
        NodePolicy("qemu", "ibr0"),
        NoNetwork(),
        stop_grace=2,
    )
    app = create_app(manager, TOKEN, capacity=lambda: host_capacity("qemu"))
    with TestClient(app) as client:
        client.root = tmp_path  # type: ignore[attr-defined]
        yield client


def spec_body(root: Path) -> dict[str, Any]:
    return {
        "memory_mib": 128,
        "vcpus": 1,
        "kernel": "/boot/vmlinuz",
        "root_image": str(root / "root.img"),
        "mac": "52:54:00:00:00:03",
        "tap": "ib-api",
        "private_ip": "10.77.0.13",
    }


def new_id() -> str:
    return "i-" + uuid.uuid4().hex[:17]


def test_needs_the_token(api: TestClient) -> None:
    assert api.get("/v1/node").status_code == 401
    wrong = api.get("/v1/node", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "Unauthorized"
    node = api.get("/v1/node", headers=AUTH).json()
    assert node["hypervisor"] == "qemu" and node["vcpus"] >= 1 and node["memory_mib"] > 0


def test_instance_commands(api: TestClient) -> None:
    iid, body = new_id(), spec_body(api.root)  # type: ignore[attr-defined]
    url = f"/v1/instances/{iid}"
    for _ in range(2):  # run is idempotent
        reply = api.put(url, json=body, headers=AUTH)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"instance_id": iid, "state": "running"}
    conflict = api.put(url, json={**body, "vcpus": 2}, headers=AUTH)
    assert conflict.status_code == 409 and conflict.json()["error"] == "SpecConflict"
    assert api.get(url, headers=AUTH).json()["state"] == "running"
    listed = api.get("/v1/instances", headers=AUTH).json()["instances"]
    assert {"instance_id": iid, "state": "running"} in listed
    stopped = api.post(f"{url}/stop", json={"grace": 1}, headers=AUTH)
    assert stopped.json()["state"] == "shutoff"
    assert api.post(f"{url}/stop", headers=AUTH).json()["state"] == "shutoff"
    assert api.post(f"{url}/start", headers=AUTH).json()["state"] == "running"
    assert api.post(f"{url}/reboot", headers=AUTH).json()["state"] == "running"
    console = api.get(f"{url}/console", headers=AUTH).json()
    assert base64.b64decode(console["output"]) == b""  # the test driver writes no console
    assert api.delete(url, headers=AUTH).json() == {"instance_id": iid, "state": "terminated"}
    assert api.delete(url, headers=AUTH).json()["state"] == "terminated"
    missing = api.get(url, headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"] == "UnknownInstance"
    assert api.post(f"{url}/start", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"mac": "not-a-mac"},
        {"tap": "vnet7"},
        {"memory_mib": 32},
        {"memory_mib": "128"},
        {"vcpus": True},
        {"kernel": None},
        {"surprise": 1},
        {"instance_id": "i-00000000000000000"},
    ],
)
def test_bad_specs_get_400(api: TestClient, change: dict[str, Any]) -> None:
    body = {**spec_body(api.root), **change}  # type: ignore[attr-defined]
    reply = api.put(f"/v1/instances/{new_id()}", json=body, headers=AUTH)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "InvalidSpec"


def test_bad_instance_id_in_path_gets_400(api: TestClient) -> None:
    reply = api.put("/v1/instances/i-..%2F..", json=spec_body(api.root), headers=AUTH)  # type: ignore[attr-defined]
    assert reply.status_code in (400, 404)
    assert api.get("/v1/instances/nonsense", headers=AUTH).status_code == 400


def test_an_address_outside_the_guest_network_is_a_bad_spec(tmp_path: Path) -> None:
    """The controller's private_subnet and the node's bridge network disagree: the node refuses
    (400, which the controller treats as a failed launch) rather than failing with a 500 that
    the controller retries until its launch deadline. No host command runs before the check."""
    from nodeagent.network.bridge import BridgeSettings, SpecNetwork

    require_libvirt_binding()
    if shutil.which("qemu-img") is None:
        host_tests_unavailable("qemu-img missing (deploy/host-setup.sh installs qemu-utils)")
    (tmp_path / "root.img").write_bytes(b"\0" * 65536)
    network = SpecNetwork(BridgeSettings("ibnever0", "10.81.0.1/24"), tmp_path / "network")
    manager = InstanceManager(Host("test:///default"), tmp_path / "state",
                              NodePolicy("qemu", "ibnever0"), network, stop_grace=2)
    app = create_app(manager, TOKEN, capacity=lambda: host_capacity("qemu"))
    iid = new_id()
    with TestClient(app) as client:
        reply = client.put(f"/v1/instances/{iid}", json=spec_body(tmp_path), headers=AUTH)
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"] == "InvalidSpec"
        assert "10.77.0.13 is not in this node's guest network 10.81.0.0/24" in reply.text
        gone = client.delete(f"/v1/instances/{iid}", headers=AUTH)  # the controller cleans up
        assert gone.status_code == 200 and gone.json()["state"] == "terminated"
    assert not network.hosts_file.exists()
