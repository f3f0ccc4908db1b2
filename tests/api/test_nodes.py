"""The controller's node endpoints in process: registration, heartbeats, health, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from controller.db.models import Node
from controller.nodes.health import reconcile_node_health
from tests.api.conftest import Api

CAPACITY = {"vcpus": 4, "memory_mib": 8192, "disk_gib": 100, "max_instances": 10}


def token(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.runtime.cluster_token}"}


def registration(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "endpoint": f"http://{name}:8774/", "hypervisor": "qemu",
            "capacity": CAPACITY, "api_token": "node-api-token", **extra}


def register(api: Api, name: str) -> dict[str, Any]:
    reply = api.client.post("/_ironbark/nodes/register", json=registration(name),
                            headers=token(api))
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def beat(api: Api, node_id: str, credential: str, body: Any = None) -> Any:
    return api.client.post(f"/_ironbark/nodes/{node_id}/heartbeat",
                           json={"instances": []} if body is None else body,
                           headers={"Authorization": f"Bearer {credential}"})


def node_row(api: Api, node_id: str) -> Node:
    with api.runtime.sessions() as session:
        node = session.get(Node, node_id)
        assert node is not None
        return node


def test_register_then_heartbeat(api: Api) -> None:
    made = register(api, "node-a")
    assert made["node_id"].startswith("node-") and len(made["credential"]) >= 32
    assert made["heartbeat_seconds"] == api.runtime.settings.node_heartbeat_seconds
    row = node_row(api, made["node_id"])
    assert (row.name, row.hypervisor, row.vcpus, row.memory_mib, row.disk_gib,
            row.max_instances, row.state) == ("node-a", "qemu", 4, 8192, 100, 10, "healthy")
    assert made["credential"] not in row.credential_hash  # only the hash is stored
    assert api.runtime.box.open(row.api_token_encrypted or b"") == "node-api-token"
    instances = [{"instance_id": "i-0123456789abcdef0", "state": "running"}]
    capacity = {**CAPACITY, "vcpus": 8}
    reply = beat(api, made["node_id"], made["credential"],
                 {"capacity": capacity, "instances": instances})
    assert reply.status_code == 200, reply.text
    assert reply.json()["state"] == "healthy"
    row = node_row(api, made["node_id"])
    assert row.vcpus == 8 and json.loads(row.instances or "") == instances


def test_reregistering_a_name_keeps_the_id_and_replaces_the_credential(api: Api) -> None:
    first = register(api, "node-b")
    second = register(api, "node-b")
    assert second["node_id"] == first["node_id"] and second["credential"] != first["credential"]
    assert beat(api, first["node_id"], first["credential"]).status_code == 403
    assert beat(api, second["node_id"], second["credential"]).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic abc"}])
def test_register_refuses_a_wrong_cluster_token(api: Api, headers: dict[str, str]) -> None:
    reply = api.client.post("/_ironbark/nodes/register", json=registration("n-x"),
                            headers=headers)
    assert reply.status_code == 403 and reply.json()["error"] == "Forbidden"
    listed = api.client.get("/_ironbark/nodes", headers=headers)
    assert listed.status_code == 403


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b"{}", json.dumps(registration("n y")).encode(),
    json.dumps(registration("n-y", hypervisor="xen")).encode(),
    json.dumps(registration("n-y", endpoint="ftp://x/")).encode(),
    json.dumps(registration("n-y", capacity={**CAPACITY, "vcpus": 0})).encode(),
    json.dumps(registration("n-y", capacity={**CAPACITY, "vcpus": "4"})).encode(),
    json.dumps(registration("n-y", surprise=1)).encode(),
    b"\xff\xfe",
])
def test_register_refuses_a_malformed_body(api: Api, body: bytes) -> None:
    reply = api.client.post("/_ironbark/nodes/register", content=body,
                            headers={**token(api), "Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "BadRequest"


def test_heartbeat_refusals(api: Api) -> None:
    made = register(api, "node-c")
    node_id, credential = made["node_id"], made["credential"]
    assert beat(api, node_id, "wrong").status_code == 403
    assert beat(api, "node-0123456789abcdef0", credential).status_code == 403
    assert beat(api, "not-a-node", credential).status_code == 403
    no_auth = api.client.post(f"/_ironbark/nodes/{node_id}/heartbeat", json={})
    assert no_auth.status_code == 403
    for body in ({"instances": [{"instance_id": "x", "state": "running"}]},
                 {"instances": "many"}, {"capacity": {"vcpus": 1}}, [1]):
        reply = beat(api, node_id, credential, body)
        assert reply.status_code == 400, (body, reply.text)
    bad_json = api.client.post(f"/_ironbark/nodes/{node_id}/heartbeat", content=b"{",
                               headers={"Authorization": f"Bearer {credential}"})
    assert bad_json.status_code == 400


def test_the_prefix_is_reserved(api: Api) -> None:
    for method, path in (("GET", "/_ironbark/nodes/register"), ("PUT", "/_ironbark/x"),
                         ("DELETE", "/_ironbark/nodes/node-1/heartbeat")):
        reply = api.client.request(method, path, headers=token(api))
        assert reply.status_code in (404, 405), (method, path, reply.text)
        assert "xml" not in reply.headers.get("content-type", "")
    assert api.client.get("/_ironbark/health").json() == {"status": "ok"}


def test_silent_nodes_become_unhealthy_and_come_back(api: Api) -> None:
    made = register(api, "node-d")
    settings = api.runtime.settings
    interval, missed = settings.node_heartbeat_seconds, settings.node_missed_heartbeats
    now = datetime.now(UTC)
    almost = now + timedelta(seconds=interval * missed - 1)
    assert made["node_id"] not in reconcile_node_health(
        api.runtime.sessions, interval, missed, almost)
    later = now + timedelta(seconds=interval * missed + 1)
    assert made["node_id"] in reconcile_node_health(api.runtime.sessions, interval, missed, later)
    assert made["node_id"] not in reconcile_node_health(
        api.runtime.sessions, interval, missed, later)  # once
    row = node_row(api, made["node_id"])
    assert row.state == "unhealthy"  # marked, not deleted
    listed = api.client.get("/_ironbark/nodes", headers=token(api)).json()["nodes"]
    assert {"node-d": "unhealthy"}.items() <= {n["name"]: n["state"] for n in listed}.items()
    reply = beat(api, made["node_id"], made["credential"])
    assert reply.status_code == 200 and reply.json()["state"] == "healthy"
    with api.runtime.sessions() as session:
        assert session.scalars(select(Node.state).where(Node.name == "node-d")).one() == "healthy"
