"""Node agent benchmark (run by hand, as root, on a hypervisor host; one guest at a time):

(a) agent overhead: ``InstanceManager.run`` (spec persisted, image cache hit, qcow2 overlay,
    lease + guard, define, create) from the command to a started domain, next to a raw libvirt
    ``defineXML`` + ``create`` of the same XML on a prepared overlay, in the same run.

    sudo .venv/bin/python -m bench.bench_node [--rounds 5]

Not here yet: (b) 8 concurrent cold-cache launches, (c) memory per guest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

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
            await host.call(lambda c, x=xml: c.defineXML(x).create())
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ironbark-bench-node-") as tmp:
        work = Path(tmp)
        demo = work / "demo"
        subprocess.run([REPO / "deploy/images/build-demo.sh", demo], check=True,
                       capture_output=True)
        asyncio.run(bench_overhead(args.rounds, work, demo))


if __name__ == "__main__":
    main()
