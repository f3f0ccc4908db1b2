"""``ironbark up --with-node`` (here: ``IRONBARK_WITH_NODE=1``): the node agent runs inside the
all-in-one process, registers with its own controller, and its guests' states reach the
controller at once (libvirt's test driver stands in for QEMU; no host network is touched).

On a hypervisor host, the whole first start as a new user meets it: the default
``demo_image = auto`` builds the demo image with deploy/images/build-demo.sh, registers it
public, and a brand-new account finds it and boots it, with an ephemeral disk the guest sees."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.conftest import Server, host_tests_unavailable, running_server
from tests.e2e.test_instances_real_guest import _clean_host, first_backend, state_of, wait_console
from tests.e2e.test_up_demo_image import announced_image
from tests.hostcheck import require_libvirt_binding, require_real_host

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


# --- the real thing: ironbark up --with-node builds, registers and boots the demo image -----

BRIDGE = "ibe2e5"
EPHEMERAL_USER_DATA = """#!/bin/sh
echo "E2E-VDB=$(cat /sys/block/vdb/size) $(cat /sys/block/vdb/serial)"
echo "E2E-MAPPING=$(timeout 5 wget -q -O - \
  http://169.254.169.254/latest/meta-data/block-device-mapping/ephemeral0)"
"""
GATEWAY_CIDR = "10.85.0.1/24"


@pytest.fixture
def first_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_real_host("dnsmasq", "nft", "ip", "qemu-img", "mkfs.ext4", "fakeroot", "busybox")
    node_dir = tmp_path_factory.mktemp("up-with-node")
    metadata_port = free_port()
    env = {"IRONBARK_WITH_NODE": "1", "IRONBARK_DEMO_IMAGE": "auto",
           "IRONBARK_NODE_STATE_DIR": str(node_dir), "IRONBARK_NODE_PORT": str(free_port()),
           "IRONBARK_NODE_NODE_NAME": "up-with-node", "IRONBARK_NODE_BRIDGE": BRIDGE,
           "IRONBARK_NODE_GATEWAY_CIDR": GATEWAY_CIDR,
           "IRONBARK_NODE_METADATA_PORT": str(metadata_port),
           "IRONBARK_PRIVATE_SUBNET": "10.85.0.0/24", "IRONBARK_METADATA_HOST": "0.0.0.0",
           "IRONBARK_METADATA_PORT": str(metadata_port)}
    try:
        with running_server(first_backend(), tmp_path_factory, env) as srv:
            yield srv
    finally:
        asyncio.run(_clean_host(node_dir, BRIDGE, GATEWAY_CIDR))


def test_a_new_user_boots_the_demo_image_of_a_first_start(first_start: Server) -> None:
    server = first_start
    image_id = announced_image(server, deadline=240)
    assert (server.data_dir / "demo-image" / "image.json").is_file()  # built by build-demo.sh
    user = server.new_account()
    ec2 = boto3.client("ec2", endpoint_url=server.endpoint, region_name="us-east-1",
                       aws_access_key_id=user.access_key_id,
                       aws_secret_access_key=user.secret_access_key)
    assert [i["ImageId"] for i in ec2.describe_images()["Images"]] == [image_id]
    # m1.small has a 2 GiB instance-store disk: ephemeral0 is the guest's vdb
    reply = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="m1.small",
                              UserData=EPHEMERAL_USER_DATA, BlockDeviceMappings=[
                                  {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}])
    instance_id = reply["Instances"][0]["InstanceId"]
    eventually(lambda: state_of(ec2, instance_id) == "running", 180)
    text = wait_console(ec2, instance_id, "IRONBARK-USERDATA-END")
    assert f"IRONBARK-BOOT-OK instance-id={instance_id}" in text
    assert f"E2E-VDB={2 * 1024 ** 3 // 512} ephemeral0" in text, text[-3000:]
    assert "E2E-MAPPING=sdb" in text, text[-3000:]
    ec2.terminate_instances(InstanceIds=[instance_id])
    eventually(lambda: state_of(ec2, instance_id) == "terminated", 120)
