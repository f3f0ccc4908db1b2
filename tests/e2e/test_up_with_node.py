"""``ironbark up --with-node`` (here: ``IRONBARK_WITH_NODE=1``): the node agent runs inside the
all-in-one process, registers with its own controller, and its guests' states reach the
controller at once (libvirt's test driver stands in for QEMU; no host network is touched)."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, host_tests_unavailable, running_server
from tests.hostcheck import require_libvirt_binding

INSTANCE_ID = "i-0a10000000000000e"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded-node")


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory,
           node_dir: Path) -> Iterator[Server]:
    require_libvirt_binding()
    if shutil.which("qemu-img") is None:
        host_tests_unavailable("qemu-img missing (deploy/host-setup.sh installs qemu-utils)")
    port = free_port()
    env = {"IRONBARK_WITH_NODE": "1", "IRONBARK_NODE_STATE_DIR": str(node_dir),
           "IRONBARK_NODE_PORT": str(port), "IRONBARK_NODE_MANAGE_NETWORK": "false",
           "IRONBARK_NODE_LIBVIRT_URI": "test:///default", "IRONBARK_NODE_VIRT_TYPE": "qemu",
           "IRONBARK_NODE_NODE_NAME": "all-in-one"}
    with running_server(db_backend, tmp_path_factory, env) as srv:
        srv.node_url = f"http://127.0.0.1:{port}/"  # type: ignore[attr-defined]
        yield srv


def node_record(server: Server) -> dict[str, Any] | None:
    token = (server.data_dir / "cluster-token").read_text().strip()
    reply = httpx.get(server.endpoint + "_ironbark/nodes", trust_env=False,
                      headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    by_name = {node["name"]: node for node in reply.json()["nodes"]}
    return by_name.get("all-in-one")


def eventually(check: Any, deadline: float) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"not within {deadline} s")


def test_the_embedded_node_registers_and_reports(server: Server, node_dir: Path) -> None:
    record = eventually(lambda: node_record(server), 20)
    assert record["state"] == "healthy" and record["hypervisor"] == "qemu"
    assert record["endpoint"] == server.node_url  # type: ignore[attr-defined]
    token = (node_dir / "api-token").read_text().strip()
    (node_dir / "root.img").write_bytes(b"\0" * 65536)
    spec = {"memory_mib": 128, "vcpus": 1, "kernel": "/boot/vmlinuz",
            "root_image": str(node_dir / "root.img"), "mac": "52:54:00:0a:10:0e",
            "tap": "ib-aio", "private_ip": "10.77.0.30"}
    with httpx.Client(base_url=server.node_url, trust_env=False,  # type: ignore[attr-defined]
                      headers={"Authorization": f"Bearer {token}"}) as node:
        reply = node.put(f"/v1/instances/{INSTANCE_ID}", json=spec)
        assert reply.status_code == 200 and reply.json()["state"] == "running", reply.text
        running = {"instance_id": INSTANCE_ID, "state": "running"}
        # heartbeats are 10 s apart: this arrives at once because the start event nudged one
        eventually(lambda: running in (node_record(server) or {}).get("instances", []), 3)
        assert node.delete(f"/v1/instances/{INSTANCE_ID}").json()["state"] == "terminated"


def test_the_node_is_off_unless_asked_for() -> None:
    from controller.cli.main import _settings, build_parser
    from controller.config import Settings

    assert Settings.model_fields["with_node"].default is False
    assert build_parser().parse_args(["up", "--with-node"]).with_node is True
    plain = build_parser().parse_args(["up"])
    assert plain.with_node is None  # not given: the setting (env, TOML) decides
    assert _settings(build_parser().parse_args(["up", "--with-node"])).with_node is True
