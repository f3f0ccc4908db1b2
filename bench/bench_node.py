"""Node agent benchmark (run by hand, as root, on a hypervisor host; one guest at a time):

(a) agent overhead: ``InstanceManager.run`` (spec persisted, image cache hit, qcow2 overlay,
    lease + guard, define, create) from the command to a started domain, next to a raw libvirt
    ``defineXML`` + ``create`` of the same XML on a prepared overlay, in the same run.

(b) 8 concurrent launches from a cold image cache: one download per image, every guest
    reaches its user-data marker (wall time from the commands to the last marker);
(c) memory per guest: RSS and PSS of each QEMU process while the 8 guests run.

    sudo .venv/bin/python -m bench.bench_node [--rounds 5] [--guests 8] [--skip-overhead]

Everything (guests, bridge, nftables tables, files) is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from nodeagent.disks import create_overlay
from nodeagent.hypervisor.designer import NodePolicy, design
from nodeagent.hypervisor.guest import Guest
from nodeagent.hypervisor.host import Host
from nodeagent.hypervisor.virt_type import detect_virt_type
from nodeagent.images import ImageCache, ImageSource
from nodeagent.instances import InstanceManager
from nodeagent.network.bridge import BridgeSettings, SpecNetwork
from nodeagent.spec import InstancePaths, InstanceSpec

REPO = Path(__file__).resolve().parents[1]
BRIDGE = "ibbench0"


def define_and_create(xml: str, conn: Any) -> None:
    conn.defineXML(xml).create()


def spec_for(n: int, demo: Path) -> InstanceSpec:
    manifest = json.loads((demo / "image.json").read_text())
    images = {role: ImageSource(f"file://{demo / manifest[role]['file']}",
                                manifest[role]["sha256"], manifest[role]["size"])
              for role in ("kernel", "ramdisk", "root")}
    return InstanceSpec(instance_id=f"i-0be0000000000{n:04x}", memory_mib=128, vcpus=1,
                        images=images, cmdline=manifest["cmdline"],
                        mac=f"52:54:00:be:00:{n:02x}", tap=f"ibb-{n}",
                        private_ip=f"10.78.0.{10 + n}")


async def bench_overhead(rounds: int, work: Path, demo: Path) -> None:
    network = SpecNetwork(BridgeSettings(BRIDGE, "10.78.0.1/24", 18775), work / "network")
    await network.setup()
    host = Host("qemu:///system", deadline=60)
    policy = NodePolicy(virt_type=detect_virt_type("auto"), bridge=BRIDGE)
    manager = InstanceManager(host, work / "state", policy, network, stop_grace=0,
                              images=ImageCache(work / "images", 1024**3))
    agent, raw = [], []
    try:
        await manager.run(spec_for(0, demo))  # warm: image cache, connection
        await manager.terminate(spec_for(0, demo).instance_id)
        for n in range(1, rounds + 1):
            spec = spec_for(n, demo)
            started = time.perf_counter()
            await manager.run(spec)
            agent.append(time.perf_counter() - started)
            xml = (await Guest(host, spec.instance_id).xml(inactive=True))
            await manager.terminate(spec.instance_id)
            # raw libvirt: the same XML, overlay made beforehand (not timed)
            local = await manager._local(spec)
            paths = InstancePaths(work / "raw" / spec.instance_id)
            paths.root.mkdir(parents=True)
            assert local.root_image is not None
            await create_overlay(paths.overlay, Path(local.root_image), "raw")
            xml = design(local, paths, policy).to_string()
            await network.add_guest_for(spec)  # the tap's guard, as the agent would
            started = time.perf_counter()
            await host.call(partial(define_and_create, xml))
            raw.append(time.perf_counter() - started)
            guest = Guest(host, spec.instance_id)
            await guest.destroy()
            await guest.undefine()
            await network.remove_guest_for(spec)
    finally:
        await host.close()
        await network.teardown()
    a, r = statistics.median(agent), statistics.median(raw)
    print(f"(a) agent run -> started: median {a * 1000:.0f} ms (all: "
          f"{', '.join(f'{x * 1000:.0f}' for x in agent)})")
    print(f"    raw define+create:    median {r * 1000:.0f} ms (all: "
          f"{', '.join(f'{x * 1000:.0f}' for x in raw)})")
    print(f"    overhead: {(a - r) * 1000:+.0f} ms (target <= +300 ms)")


def metadata_server(port: int, by_ip: dict[str, str]) -> ThreadingHTTPServer:
    """instance-id and a one-line user-data script for each guest address."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            instance_id = by_ip.get(self.client_address[0])
            bodies = {"/latest/meta-data/instance-id": instance_id,
                      "/latest/user-data": "#!/bin/sh\necho bench user-data\n"}
            body = bodies.get(self.path) if instance_id else None
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("10.78.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def qemu_memory(instance_id: str) -> tuple[int, int]:
    """RSS and PSS (KiB) of the guest's QEMU process."""
    pid = Path(f"/run/libvirt/qemu/{instance_id}.pid").read_text().strip()
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields["Rss"], fields["Pss"]


async def wait_markers(manager: InstanceManager, ids: list[str], deadline: float) -> None:
    end = time.monotonic() + deadline
    pending = set(ids)
    while pending and time.monotonic() < end:
        for instance_id in list(pending):
            if b"IRONBARK-USERDATA-END" in await manager.console(instance_id):
                pending.discard(instance_id)
        await asyncio.sleep(0.2)
    if pending:
        raise SystemExit(f"no user-data marker within {deadline} s: {sorted(pending)}")


async def bench_cold_launches(guests: int, work: Path, demo: Path) -> None:
    port = 18776
    network = SpecNetwork(BridgeSettings(BRIDGE, "10.78.0.1/24", port), work / "network-b")
    await network.setup()
    specs = [spec_for(100 + n, demo) for n in range(guests)]
    server = metadata_server(port, {s.private_ip: s.instance_id for s in specs})
    host = Host("qemu:///system", deadline=120)
    manager = InstanceManager(host, work / "state-b", NodePolicy(
        virt_type=detect_virt_type("auto"), bridge=BRIDGE), network, stop_grace=0,
        images=ImageCache(work / "images-b", 1024**3))
    try:
        started = time.perf_counter()
        await asyncio.gather(*(manager.run(spec) for spec in specs))
        commands = time.perf_counter() - started
        await wait_markers(manager, [s.instance_id for s in specs], 600)
        wall = time.perf_counter() - started
        assert manager.images is not None
        print(f"(b) {guests} concurrent cold-cache launches: downloads={manager.images.downloads} "
              f"(3 images), all run commands returned in {commands:.2f} s, every guest at "
              f"its user-data marker after {wall:.1f} s")
        memory = [qemu_memory(s.instance_id) for s in specs]
        rss = statistics.mean(m[0] for m in memory) / 1024
        pss = statistics.mean(m[1] for m in memory) / 1024
        print(f"(c) per guest (128 MiB, TCG, {guests} running): QEMU RSS {rss:.0f} MiB, "
              f"PSS {pss:.0f} MiB (min/max PSS {min(m[1] for m in memory) / 1024:.0f}/"
              f"{max(m[1] for m in memory) / 1024:.0f} MiB)")
    finally:
        for spec in specs:
            await manager.terminate(spec.instance_id)
        server.shutdown()
        server.server_close()
        await host.close()
        if manager.images is not None:
            await manager.images.close()
        await network.teardown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--guests", type=int, default=8, choices=range(1, 9))
    parser.add_argument("--skip-overhead", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ironbark-bench-node-") as tmp:
        work = Path(tmp)
        demo = work / "demo"
        subprocess.run([REPO / "deploy/images/build-demo.sh", demo], check=True,
                       capture_output=True)
        if not args.skip_overhead:
            asyncio.run(bench_overhead(args.rounds, work, demo))
        asyncio.run(bench_cold_launches(args.guests, work, demo))


if __name__ == "__main__":
    main()
