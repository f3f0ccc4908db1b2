"""Metrics of a real TCG guest, end to end through the whole node agent (``ironbark node``'s
server: sampler, shipper, controller link) to a recording stand-in for the controller.

The guest's user-data downloads 4 MiB and uploads 1 MiB (so the direction of the network
counters is checked: NetworkIn is what the guest received), writes 8 MiB to its root disk and
16 MiB to an attached volume (so own disks and volumes are told apart), then burns CPU for 20 s
and idles. The shipped samples must show all of it. One guest; about a minute.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from tests.e2e.test_node_boot import free_port
from tests.recording_controller import CLUSTER_TOKEN, RecordingController, recording_controller

BRIDGE = "ibcwm0"
GATEWAY = "10.87.0.1"
GUEST_IP = "10.87.0.23"
INSTANCE_ID = "i-0c0a00000000000c1"
VOLUME_ID = "vol-0c0a00000000000c1"
MAC = "52:54:00:87:00:17"
TAP = "ibt-cwm0"
MIB = 1024 * 1024
BLOB = 4 * MIB  # what the guest downloads
INTERVAL = 2
USER_DATA = b"""#!/bin/sh
md=http://169.254.169.254/latest
timeout 60 wget -q -O /dev/null $md/blob && echo IRONBARK-NET-IN-OK
head -c 1048576 /dev/zero | tr '\\0' a >/var/lib/ironbark/up  # wget stops at a NUL
timeout 60 wget -q -O /dev/null --post-file /var/lib/ironbark/up $md/upload \
    && echo IRONBARK-NET-OUT-OK
dd if=/dev/zero of=/var/lib/ironbark/disk.bin bs=1M count=8 conv=fsync 2>/dev/null \
    && echo IRONBARK-DISK-OK
n=0
while [ ! -e /sys/block/vdb ] && [ $n -lt 120 ]; do sleep 1; n=$((n + 1)); done
[ -b /dev/vdb ] || mknod /dev/vdb b $(tr : ' ' </sys/block/vdb/dev)
dd if=/dev/zero of=/dev/vdb bs=1M count=16 conv=fsync 2>/dev/null && echo IRONBARK-VOLUME-OK
echo IRONBARK-BURN-BEGIN
timeout 20 sh -c 'while :; do :; done'
echo IRONBARK-BURN-END
"""


class GuestServices(BaseHTTPRequestHandler):
    """169.254.169.254 for the one guest: instance id, user-data, a blob, an upload sink."""

    def do_GET(self) -> None:
        if self.client_address[0] != GUEST_IP:
            self.send_error(404)
            return
        body = {"/latest/meta-data/instance-id": INSTANCE_ID.encode(),
                "/latest/user-data": USER_DATA, "/latest/blob": b"\xa5" * BLOB}.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self._reply(body)

    uploaded: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        self.uploaded.append(len(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
        self._reply(b"ok")

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def controller() -> Iterator[RecordingController]:
    with recording_controller() as recording:
        yield recording


@pytest.fixture(scope="module")
def agent(demo_image_dir: Path, controller: RecordingController,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    from nodeagent.server import node_server, teardown_network
    from nodeagent.settings import NodeSettings

    state = tmp_path_factory.mktemp("metrics-node")
    metadata_port = free_port()
    settings = NodeSettings(
        state_dir=state, port=0, libvirt_uri="qemu:///system", bridge=BRIDGE,
        gateway_cidr=f"{GATEWAY}/24", metadata_port=metadata_port, controller_url=controller.url,
        cluster_token=CLUSTER_TOKEN, api_token="agent-token", metrics_interval=INTERVAL,
        libvirt_deadline=60, stop_grace=5, disk_gib=10)
    server = node_server(settings)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    services: ThreadingHTTPServer | None = None
    try:
        end = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < end and thread.is_alive(), "the agent did not start"
            time.sleep(0.1)
        services = ThreadingHTTPServer((GATEWAY, metadata_port), GuestServices)
        threading.Thread(target=services.serve_forever, daemon=True).start()
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=120,
                          headers={"Authorization": "Bearer agent-token"}) as client:
            client.state_dir = state  # type: ignore[attr-defined]
            yield client
            client.delete(f"/v1/instances/{INSTANCE_ID}")
    finally:
        if services is not None:
            services.shutdown()
            services.server_close()
        server.should_exit = True
        thread.join(timeout=60)
        teardown_network(settings)


def wait_console(agent: httpx.Client, marker: str, deadline: float = 240) -> float:
    """Waits for ``marker`` on the guest's console; returns when it was first seen."""
    end = time.monotonic() + deadline
    text = ""
    while time.monotonic() < end:
        reply = agent.get(f"/v1/instances/{INSTANCE_ID}/console")
        text = base64.b64decode(reply.json()["output"]).decode(errors="replace")
        if marker in text:
            return time.time()
        if "IRONBARK-BOOT-FAILED" in text:
            break
        time.sleep(0.5)
    raise AssertionError(f"no {marker!r} within {deadline} s; console:\n{text[-3000:]}")


def qemu_cpu_ns(name: str) -> int:
    """User + system time of the guest's QEMU process, from /proc."""
    pid = Path(f"/run/libvirt/qemu/{name}.pid").read_text().strip()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def total(samples: list[dict[str, Any]], key: str) -> int:
    return sum(int(item[key]) for item in samples)


def cpu_percent(samples: list[dict[str, Any]]) -> float:
    def seconds(stamp: str) -> float:
        return time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))

    span = sum(seconds(s["end"]) - seconds(s["start"]) for s in samples)
    return total(samples, "cpu_time_ns") / (span * 1e9) * 100


def test_a_busy_guests_samples_show_its_cpu_disk_volume_and_network(
    agent: httpx.Client, controller: RecordingController, demo_image_dir: Path
) -> None:
    from nodeagent.images import ImageSource
    from nodeagent.spec import InstanceSpec

    manifest = json.loads((demo_image_dir / "image.json").read_text())
    images = {role: ImageSource(f"file://{demo_image_dir / manifest[role]['file']}",
                                manifest[role]["sha256"], manifest[role]["size"])
              for role in ("kernel", "ramdisk", "root")}
    spec = InstanceSpec(instance_id=INSTANCE_ID, memory_mib=128, vcpus=1, images=images,
                        cmdline=manifest["cmdline"], mac=MAC, tap=TAP, private_ip=GUEST_IP)
    body = {k: v for k, v in json.loads(spec.to_json()).items() if k != "instance_id"}
    reply = agent.put(f"/v1/instances/{INSTANCE_ID}", json=body)
    assert reply.status_code == 200, reply.text
    wait_console(agent, "IRONBARK-NET-IN-OK")
    wait_console(agent, "IRONBARK-NET-OUT-OK", deadline=60)
    assert GuestServices.uploaded == [MIB]
    wait_console(agent, "IRONBARK-DISK-OK", deadline=60)
    volume = agent.state_dir / "vol.raw"  # type: ignore[attr-defined]
    with volume.open("wb") as out:
        out.truncate(32 * MIB)
    reply = agent.put(f"/v1/instances/{INSTANCE_ID}/volumes/{VOLUME_ID}",
                      json={"device": "/dev/sdf", "path": str(volume)})
    assert reply.status_code == 200, reply.text
    wait_console(agent, "IRONBARK-VOLUME-OK")
    burn_begin = wait_console(agent, "IRONBARK-BURN-BEGIN")
    burn_end = wait_console(agent, "IRONBARK-BURN-END", deadline=60)
    time.sleep(5 * INTERVAL)  # idle rounds after the burn, and their shipping

    samples = [s for s in controller.samples if s["instance_id"] == INSTANCE_ID]
    assert controller.authorizations and set(controller.authorizations) == {
        f"Bearer {controller.credential}"}
    assert len(samples) >= 10 and all(s["vcpus"] == 1 for s in samples)
    assert [s["start"] for s in samples[1:]] == [s["end"] for s in samples[:-1]]  # no gaps

    # network: what the guest received is NetworkIn (the 4 MiB download), not the upload
    assert total(samples, "net_in_bytes") >= BLOB
    assert MIB <= total(samples, "net_out_bytes") < 2 * MIB
    # (packets are what the tap saw: with virtio-net offloads one packet may be 64 KiB)
    assert total(samples, "net_in_packets") > 0 and total(samples, "net_out_packets") > 0
    # disks: 8 MiB (and boot, upload file) on the root disk; the 16 MiB on the volume only
    assert total(samples, "disk_read_bytes") > 0 and total(samples, "disk_read_ops") > 0
    assert 8 * MIB <= total(samples, "disk_write_bytes") < 16 * MIB
    assert total(samples, "disk_write_ops") > 0
    written = sum(s["volumes"].get(VOLUME_ID, {}).get("write_bytes", 0) for s in samples)
    assert written >= 16 * MIB
    assert all(set(s["volumes"]) <= {VOLUME_ID} for s in samples)

    # CPU: the 20 s burn is far above the idle guest afterwards
    def stamp(moment: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))

    burning = [s for s in samples
               if s["start"] >= stamp(burn_begin) and s["end"] <= stamp(burn_end - 1)]
    idle = [s for s in samples if s["start"] >= stamp(burn_end + 2)]
    assert len(burning) >= 3 and idle, (burning, idle)
    busy, quiet = cpu_percent(burning), cpu_percent(idle)
    print(f"CPU while burning {busy:.1f} %, idle {quiet:.1f} %")
    # (a 2-core CI machine shared with other jobs gives a busy TCG guest 25-100 % of a core)
    assert busy > 10 and busy > 5 * quiet, (busy, quiet)
    # the samples add up to what the kernel charged the QEMU process (what they missed: the
    # moments before the first round and after the last shipped one; /proc counts in ticks)
    qemu_ns = qemu_cpu_ns(INSTANCE_ID)
    assert -0.1e9 < qemu_ns - total(samples, "cpu_time_ns") < (INTERVAL + 2) * 1e9, (
        qemu_ns, total(samples, "cpu_time_ns"))

    local = agent.get(f"/v1/instances/{INSTANCE_ID}/metrics").json()
    assert local["interval"] == INTERVAL and local["samples"]
    assert local["samples"][-1] in controller.samples
