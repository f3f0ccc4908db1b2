"""A real TCG guest through the node agent's hypervisor layer, end to end.

The demo image (deploy/images/build-demo.sh) boots on a test bridge with a static DHCP lease;
169.254.169.254:80 is redirected by nftables to a tiny metadata server in this test (the
controller's metadata service plays that role later). The guest must print its user-data
output on the serial console, power off on ACPI, boot again keeping its disk, and leave
nothing behind when terminated. One guest at a time: the CI machines have two cores.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

BRIDGE = "ibtest0"
GATEWAY_CIDR = "10.79.0.1/24"
GUEST_IP = "10.79.0.23"
INSTANCE_ID = "i-0e2e0000000000001"
MAC = "52:54:00:79:00:17"
TAP = "ibt-e2e0"
BOOT_DEADLINE = 180.0
VOLUME_ID = "vol-0e2e000000000000a"
# user-data: the greeting, then a watcher that prints the guest's disks (name=serial) on the
# console whenever the set changes, so hot-plug and unplug are seen from inside the guest.
USER_DATA = b"""#!/bin/sh
echo hello from $(hostname)
watch_disks() {
    last=""
    while true; do
        now=""
        for d in /sys/block/vd*; do now="$now${d##*/}=$(cat "$d/serial" 2>/dev/null) "; done
        [ "$now" != "$last" ] && echo "IRONBARK-DISKS $now" && last="$now"
        sleep 1
    done
}
watch_disks </dev/null >/dev/console 2>&1 &
"""
ROOT_ONLY = f"IRONBARK-DISKS vda={INSTANCE_ID} \n"
T = TypeVar("T")


def sync(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class MetadataServer:
    """Answers instance-id and user-data for the guest whose source address it knows."""

    instances: dict[str, tuple[str, bytes]]
    seen: list[tuple[str, str]] = field(default_factory=list)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                source = self.client_address[0]
                outer.seen.append((source, self.path))
                known = outer.instances.get(source)
                body: bytes | None = None
                if known is not None and self.path == "/latest/meta-data/instance-id":
                    body = known[0].encode()
                elif known is not None and self.path == "/latest/user-data":
                    body = known[1]
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_image(demo_image_dir: Path) -> Path:
    return demo_image_dir  # tests/e2e/conftest.py: built once per session


@pytest.fixture(scope="module")
def node(demo_image: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from nodeagent.hypervisor.designer import NodePolicy
    from nodeagent.hypervisor.host import Host
    from nodeagent.hypervisor.virt_type import detect_virt_type
    from nodeagent.images import ImageCache
    from nodeagent.instances import InstanceManager
    from nodeagent.network.bridge import BridgeSettings, SpecNetwork

    state = tmp_path_factory.mktemp("node-state")
    settings = BridgeSettings(bridge=BRIDGE, gateway_cidr=GATEWAY_CIDR, metadata_port=free_port())
    network = SpecNetwork(settings, state / "network")
    metadata = MetadataServer(
        {GUEST_IP: (INSTANCE_ID, USER_DATA)}
    )
    host = Host("qemu:///system", deadline=60)
    sync(network.setup())
    server = ThreadingHTTPServer((settings.gateway, settings.metadata_port), metadata.handler())
    try:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        policy = NodePolicy(virt_type=detect_virt_type("auto"), bridge=BRIDGE)
        images = ImageCache(state / "images", 1024**3)
        manager = InstanceManager(host, state, policy, network, stop_grace=90, images=images)
        manager.metadata = metadata  # type: ignore[attr-defined]
        yield manager
    finally:
        server.shutdown()
        server.server_close()
        sync(host.close())
        sync(images.close())
        sync(_forget_instance())
        sync(network.teardown())


async def _forget_instance() -> None:
    """Whatever the test left behind (it may have replaced the manager's Host)."""
    from nodeagent.hypervisor.guest import Guest
    from nodeagent.hypervisor.host import Host

    host = Host("qemu:///system")
    guest = Guest(host, INSTANCE_ID)
    await guest.destroy()
    await guest.undefine()
    await host.close()


def wait_console(manager: Any, marker: str, count: int = 1, deadline: float = BOOT_DEADLINE) -> str:
    end = time.monotonic() + deadline
    text = ""
    while time.monotonic() < end:
        text = sync(manager.console(INSTANCE_ID)).decode(errors="replace").replace("\r", "")
        if text.count(marker) >= count:
            return text
        if "IRONBARK-BOOT-FAILED" in text:
            break
        time.sleep(1)
    raise AssertionError(f"no {marker!r} (x{count}) within {deadline} s; console:\n{text[-3000:]}")


def restarted_agent(old: Any) -> Any:
    """A new manager on a new libvirt connection over the same state directory."""
    from nodeagent.hypervisor.host import Host
    from nodeagent.instances import InstanceManager

    sync(old.host.close())
    fresh = InstanceManager(
        Host("qemu:///system", deadline=60),
        old.store.state_dir,
        old.policy,
        old.network,
        stop_grace=90,
        images=old.images,
    )
    fresh.metadata = old.metadata
    return fresh


def nft_ruleset() -> str:
    return subprocess.run(
        ["nft", "list", "ruleset"], capture_output=True, text=True, check=False
    ).stdout


def test_guest_boots_runs_user_data_stops_starts_and_terminates(
    node: Any, demo_image: Path
) -> None:
    from nodeagent.hypervisor import libvirt_api as lv
    from nodeagent.hypervisor.guest import Guest
    from nodeagent.images import ImageSource
    from nodeagent.spec import InstanceSpec
    from nodeagent.volumes import VolumeAttachment

    manifest = json.loads((demo_image / "image.json").read_text())
    images = {  # through the image cache, from file:// URLs (all-in-one style)
        role: ImageSource(f"file://{demo_image / manifest[role]['file']}",
                          manifest[role]["sha256"], manifest[role]["size"])
        for role in ("kernel", "ramdisk", "root")
    }
    spec = InstanceSpec(
        instance_id=INSTANCE_ID,
        memory_mib=128,
        vcpus=1,
        images=images,
        root_image_format="raw",
        cmdline=manifest["cmdline"],
        mac=MAC,
        tap=TAP,
        private_ip=GUEST_IP,
    )
    paths = node.store.paths(INSTANCE_ID)

    assert sync(node.run(spec)).state == "running"
    assert sync(node.run(spec)).state == "running"  # idempotent
    text = wait_console(node, "IRONBARK-USERDATA-END")
    assert f"IRONBARK-BOOT-OK instance-id={INSTANCE_ID} ip={GUEST_IP}" in text
    assert "hello from ironbark-demo" in text
    assert "IRONBARK-USERDATA-END rc=0" in text
    assert (GUEST_IP, "/latest/user-data") in node.metadata.seen
    assert paths.overlay.is_file() and paths.spec.is_file()
    assert node.images.downloads == 3 and len(node.images.cached()) == 3
    assert f'"{TAP}"' in nft_ruleset()

    wait_console(node, ROOT_ONLY)

    volume = VolumeAttachment(VOLUME_ID, "/dev/sdf", str(paths.root.parent.parent / "vol.img"))
    Path(volume.path).write_bytes(b"\0" * 4 * 1024 * 1024)
    started = time.monotonic()
    assert sync(node.attach_volume(INSTANCE_ID, volume)).state == "attached"
    assert sync(node.attach_volume(INSTANCE_ID, volume)).state == "attached"  # idempotent
    assert time.monotonic() - started < 5
    text = wait_console(node, f"vdb={volume.serial} ", deadline=30)  # the guest sees it
    assert f"IRONBARK-DISKS vda={INSTANCE_ID} vdb={volume.serial} " in text

    node = restarted_agent(node)  # the agent restarts under the running guest and adopts it
    assert [(s.instance_id, s.state) for s in sync(node.adopt())] == [(INSTANCE_ID, "running")]
    assert "IRONBARK-USERDATA-END rc=0" in sync(node.console(INSTANCE_ID)).decode()
    assert [v.volume_id for v in sync(node.volumes(INSTANCE_ID))] == [VOLUME_ID]
    assert volume.serial in sync(Guest(node.host, INSTANCE_ID).xml(inactive=True))

    started = time.monotonic()
    assert sync(node.detach_volume(INSTANCE_ID, VOLUME_ID)).state == "detached"
    assert time.monotonic() - started < 10
    assert sync(node.detach_volume(INSTANCE_ID, VOLUME_ID)).state == "detached"  # idempotent
    wait_console(node, ROOT_ONLY, count=2, deadline=30)  # gone from the guest too
    assert volume.serial not in sync(Guest(node.host, INSTANCE_ID).xml())
    assert volume.serial not in sync(Guest(node.host, INSTANCE_ID).xml(inactive=True))
    assert sync(node.volumes(INSTANCE_ID)) == []

    assert sync(node.reboot(INSTANCE_ID)).state == "running"
    wait_console(node, "IRONBARK-BOOT-OK", count=2)
    wait_console(node, "IRONBARK-USERDATA-SKIPPED")  # the second boot, same disk

    events: list[Any] = []
    node.host.events.subscribe(events.append)  # libvirt's own events, on its thread
    started = time.monotonic()
    assert sync(node.stop(INSTANCE_ID)).state == "shutoff"
    assert time.monotonic() - started < 60, "ACPI shutdown should not need the destroy fallback"
    assert "IRONBARK-POWER-BUTTON" in wait_console(node, "IRONBARK-SHUTDOWN", deadline=5)
    assert sync(node.stop(INSTANCE_ID)).state == "shutoff"  # idempotent

    # attached while stopped: only the definition changes, the next boot has the disk
    assert sync(node.attach_volume(INSTANCE_ID, volume)).state == "attached"
    assert volume.serial in sync(Guest(node.host, INSTANCE_ID).xml(inactive=True))
    assert sync(node.start(INSTANCE_ID)).state == "running"
    assert volume.serial in sync(Guest(node.host, INSTANCE_ID).xml())
    text = wait_console(node, "IRONBARK-BOOT-OK", count=3)
    text = wait_console(node, "IRONBARK-USERDATA-SKIPPED", count=2)  # user-data ran once

    # the guest powered itself off on the ACPI button: a STOPPED/SHUTDOWN event
    assert (INSTANCE_ID, lv.EVENT_STOPPED, lv.STOPPED_SHUTDOWN) in [
        (e.domain, e.event, e.detail) for e in events]
    # QEMU killed behind the agent's back: the event arrives at once (what nudges a heartbeat)
    events.clear()
    subprocess.run(["virsh", "-c", "qemu:///system", "destroy", INSTANCE_ID], check=True,
                   capture_output=True)
    end = time.monotonic() + 5
    while not any(e.stopped and e.domain == INSTANCE_ID for e in events):
        assert time.monotonic() < end, f"no STOPPED event: {events}"
        time.sleep(0.05)
    assert sync(node.status(INSTANCE_ID)).state == "shutoff"

    assert sync(node.terminate(INSTANCE_ID)).state == "terminated"
    assert sync(node.terminate(INSTANCE_ID)).state == "terminated"  # idempotent
    assert sync(node.host.domain_names()).count(INSTANCE_ID) == 0
    assert not paths.root.exists()
    assert (
        subprocess.run(["ip", "link", "show", TAP], capture_output=True, check=False).returncode
        != 0
    )
    assert MAC not in (node.network.hosts_file.read_text())
    assert TAP not in nft_ruleset()
    assert shutil.which("nft")
