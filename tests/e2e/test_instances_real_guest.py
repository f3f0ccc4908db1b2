"""The whole cloud on a real guest: ``ironbark up --with-node`` (controller, metadata listener
and node agent in one process), the demo image imported with ``ironbark admin image import``,
then boto3 only: RunInstances with user-data that reads its instance id and public key from
169.254.169.254, ``running``, the markers in GetConsoleOutput, a reboot, and a termination that
leaves no domain, tap, lease or nftables rule behind.

One guest (the CI machines have two cores), on the first configured database backend. The
node gets its own bridge and subnet, so it never meets the default ``ibr0`` network.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import Server, running_server
from tests.e2e.test_cli import ironbark
from tests.hostcheck import require_real_host

BRIDGE = "ibe2e1"
SUBNET = "10.81.0.0/24"
GATEWAY_CIDR = "10.81.0.1/24"
NODE_NAME = "real-guest"
DEADLINE = 180.0
USER_DATA = """#!/bin/sh
md=http://169.254.169.254/latest/meta-data
echo "E2E-ID=$(timeout 5 wget -q -O - $md/instance-id)"
echo "E2E-KEY=$(timeout 5 wget -q -O - $md/public-keys/0/openssh-key)"
"""
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_backend() -> str:
    return os.environ.get("IRONBARK_TEST_BACKENDS", "sqlite").split(",")[0].strip() or "sqlite"


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-guest-node")


@pytest.fixture(scope="module")
def server(demo_image_dir: Path, node_dir: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """All in one with the metadata listener on: the node DNATs guests' 169.254.169.254:80 to
    its bridge gateway on ``metadata_port``, where the controller listens (on every address)."""
    require_real_host("dnsmasq", "nft", "ip")
    metadata_port = free_port()
    env = {"IRONBARK_WITH_NODE": "1", "IRONBARK_NODE_STATE_DIR": str(node_dir),
           "IRONBARK_NODE_PORT": str(free_port()), "IRONBARK_NODE_NODE_NAME": NODE_NAME,
           "IRONBARK_NODE_BRIDGE": BRIDGE, "IRONBARK_NODE_GATEWAY_CIDR": GATEWAY_CIDR,
           "IRONBARK_NODE_METADATA_PORT": str(metadata_port),
           "IRONBARK_PRIVATE_SUBNET": SUBNET, "IRONBARK_METADATA_HOST": "0.0.0.0",
           "IRONBARK_METADATA_PORT": str(metadata_port)}
    try:
        with running_server(first_backend(), tmp_path_factory, env) as srv:
            yield srv
    finally:
        asyncio.run(_clean_host(node_dir))


async def _clean_host(node_dir: Path, bridge: str = BRIDGE, gateway: str = GATEWAY_CIDR) -> None:
    """Whatever a failed test left: the node's domains, then its bridge, dnsmasq and tables."""
    from nodeagent.hypervisor.guest import Guest
    from nodeagent.hypervisor.host import Host
    from nodeagent.network.bridge import BridgeSettings, SpecNetwork

    host = Host("qemu:///system", deadline=60)
    try:
        instances = node_dir / "instances"
        for name in sorted(p.name for p in instances.iterdir()) if instances.is_dir() else []:
            guest = Guest(host, name)
            await guest.destroy()
            await guest.undefine()
    finally:
        await host.close()
    await SpecNetwork(BridgeSettings(bridge, gateway), node_dir / "network").teardown()


def eventually(check: Callable[[], T | None], what: str, deadline: float = DEADLINE) -> T:
    end = time.monotonic() + deadline
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline:.0f} s")
        time.sleep(1)


def state_of(ec2: Any, instance_id: str) -> str:
    reply = ec2.describe_instances(InstanceIds=[instance_id])
    return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])


def console(ec2: Any, instance_id: str) -> str:
    """The console text (botocore decodes GetConsoleOutput's base64 itself)."""
    return str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")


def wait_console(ec2: Any, instance_id: str, marker: str, count: int = 1) -> str:
    last = [""]

    def seen() -> str | None:
        last[0] = console(ec2, instance_id).replace("\r", "")
        if "IRONBARK-BOOT-FAILED" in last[0]:
            raise AssertionError(f"the guest failed to boot:\n{last[0][-3000:]}")
        return last[0] if last[0].count(marker) >= count else None

    try:
        return eventually(seen, f"{marker!r} x{count} on the console")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; console:\n{last[0][-3000:]}") from None


def host_leftovers(instance_id: str, mac: str, tap: str, node_dir: Path) -> list[str]:
    def out(*command: str) -> str:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout

    found = []
    if instance_id in out("virsh", "-c", "qemu:///system", "list", "--all", "--name").split():
        found.append("libvirt domain")
    if subprocess.run(["ip", "link", "show", tap], capture_output=True, check=False).returncode == 0:
        found.append("tap")
    hosts = node_dir / "network" / "dhcp-hosts"
    if mac in (hosts.read_text() if hosts.exists() else ""):
        found.append("DHCP lease")
    if tap in out("nft", "list", "ruleset"):
        found.append("nftables rule")
    if (node_dir / "instances" / instance_id).exists():
        found.append("instance directory")
    return found


def test_run_a_demo_guest_reading_its_metadata(server: Server, make_ec2: Any,
                                               demo_image_dir: Path, node_dir: Path) -> None:
    started = time.monotonic()
    imported = ironbark(server, "image", "import", str(demo_image_dir), "--bucket", "images",
                        "--endpoint", server.endpoint)
    image_id = json.loads(imported.stdout)["ImageId"]
    ec2 = make_ec2(server.admin)
    key = ec2.create_key_pair(KeyName="real-guest")
    public = ec2.describe_key_pairs(KeyNames=["real-guest"], IncludePublicKey=True)
    public_key = public["KeyPairs"][0]["PublicKey"].strip()
    assert key["KeyMaterial"].startswith("-----BEGIN") and public_key.startswith("ssh-")

    reply = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t1.micro",
                              KeyName="real-guest", UserData=USER_DATA)
    instance = reply["Instances"][0]
    instance_id, private_ip = instance["InstanceId"], instance["PrivateIpAddress"]
    launched = time.monotonic()
    eventually(lambda: state_of(ec2, instance_id) == "running", "running")
    running = time.monotonic()
    spec = json.loads((node_dir / "instances" / instance_id / "spec.json").read_text())
    assert spec["private_ip"] == private_ip
    text = wait_console(ec2, instance_id, "IRONBARK-USERDATA-END")
    booted = time.monotonic()
    assert "IRONBARK-USERDATA-END rc=0" in text
    ids = re.findall(r"E2E-ID=(\S*)", text)
    keys = re.findall(r"E2E-KEY=(.*)", text)
    assert ids == [instance_id], text[-3000:]
    assert [k.strip() for k in keys] == [public_key], text[-3000:]
    assert f"IRONBARK-BOOT-OK instance-id={instance_id} ip={private_ip}" in text

    ec2.reboot_instances(InstanceIds=[instance_id])
    text = wait_console(ec2, instance_id, "IRONBARK-BOOT-OK", count=2)
    wait_console(ec2, instance_id, "IRONBARK-USERDATA-SKIPPED")
    rebooted = time.monotonic()
    assert state_of(ec2, instance_id) == "running"

    ec2.terminate_instances(InstanceIds=[instance_id])
    eventually(lambda: state_of(ec2, instance_id) == "terminated", "terminated")
    terminated = time.monotonic()
    assert host_leftovers(instance_id, spec["mac"], spec["tap"], node_dir) == []
    print(f"\ntimings: import {launched - started:.1f} s, running after "
          f"{running - launched:.1f} s, user-data output after {booted - launched:.1f} s, "
          f"reboot {rebooted - booted:.1f} s, terminate {terminated - rebooted:.1f} s")

