"""Cost of one metrics sampler round (``nodeagent.metrics.sampler.Sampler.round``).

(a) libvirt's test driver (no root, no daemon: libvirt runs inside this process, so the
    process CPU time is all of it): 1, 10, 50 running domains defined by ``InstanceManager``.
    The test driver's bulk call reports only domain states, so every domain is also read
    with the per-domain calls (the sampler's fallback path, 4 libvirt calls per domain): an
    upper bound of what the bulk path costs.
(b) ``--real-counts 1,10`` (root, libvirtd): QEMU guests of the demo image on
    ``qemu:///system``, read by the one bulk call ``virConnectGetAllDomainStats``; the
    guests are paused once started, so they cost no CPU while measured. Reports the
    agent's CPU and libvirtd's CPU (from /proc) per round.

    .venv/bin/python -m bench.bench_metrics [--rounds 20] [--counts 1,10,50]
    sudo .venv/bin/python -m bench.bench_metrics --counts '' --real-counts 1,10

CPU is process time (all threads: the sampler's worker thread included), median per round
over ``--rounds`` rounds after one warm-up round. Everything is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from nodeagent.hypervisor.designer import NodePolicy
from nodeagent.hypervisor.host import Host
from nodeagent.hypervisor.virt_type import detect_virt_type
from nodeagent.images import ImageCache, ImageSource
from nodeagent.instances import InstanceManager, NoNetwork
from nodeagent.metrics.sampler import Sampler, stored_targets
from nodeagent.network.bridge import BridgeSettings, SpecNetwork
from nodeagent.spec import InstanceSpec

REPO = Path(__file__).resolve().parents[1]
BRIDGE = "ibcwb0"


def ticks_ns(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def libvirtd_pid() -> int | None:
    for path in ("/run/libvirtd.pid", "/var/run/libvirtd.pid"):
        if Path(path).is_file():
            return int(Path(path).read_text().strip())
    return None


async def measure(manager: InstanceManager, rounds: int) -> dict[str, float]:
    sampler = Sampler(
        manager.host,
        lambda: asyncio.to_thread(stored_targets, manager.store, manager.attachments))
    now = 1_794_999_960.0
    await sampler.round(now=now)  # warm-up: the first reading
    daemon = libvirtd_pid() if manager.host.uri.startswith("qemu") else None
    cpu, wall, samples = [], [], 0
    daemon_before = ticks_ns(daemon) if daemon else 0
    for n in range(1, rounds + 1):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        samples += len(await sampler.round(now=now + 60 * n))
        cpu.append((time.process_time() - cpu0) * 1000)
        wall.append((time.perf_counter() - wall0) * 1000)
    result = {"cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall),
              "samples_per_round": samples / rounds}
    if daemon:
        result["libvirtd_cpu_ms"] = (ticks_ns(daemon) - daemon_before) / rounds / 1e6
    return result


def spec_for(n: int, root: Path) -> InstanceSpec:
    return InstanceSpec(instance_id=f"i-0cb0000000000{n:04x}", memory_mib=128, vcpus=1,
                        mac=f"52:54:00:cb:{n // 256:02x}:{n % 256:02x}", tap=f"ibcb-{n}",
                        private_ip=f"10.88.0.{10 + n}", kernel="/boot/vmlinuz",
                        root_image=str(root / "root.img"))


def demo_spec(n: int, demo: Path) -> InstanceSpec:
    manifest = json.loads((demo / "image.json").read_text())
    images = {role: ImageSource(f"file://{demo / manifest[role]['file']}",
                                manifest[role]["sha256"], manifest[role]["size"])
              for role in ("kernel", "ramdisk", "root")}
    return replace(spec_for(n, demo), kernel=None, root_image=None, images=images,
                   cmdline=manifest["cmdline"])


async def pause(host: Host, name: str) -> None:
    await host.call(lambda c: c.lookupByName(name).suspend())


async def bench_test_driver(counts: list[int], rounds: int, work: Path) -> None:
    (work / "root.img").write_bytes(b"\0" * 65536)
    for count in counts:
        manager = InstanceManager(Host("test:///default"), work / f"td-{count}",
                                  NodePolicy("qemu", BRIDGE), NoNetwork())
        specs = [spec_for(n, work) for n in range(count)]
        for spec in specs:
            await manager.run(spec)
        try:
            result = await measure(manager, rounds)
        finally:
            for spec in specs:
                await manager.terminate(spec.instance_id)
            await manager.host.close()
        print(f"test driver, {count:3d} domains: {result['cpu_ms']:.2f} ms CPU, "
              f"{result['wall_ms']:.2f} ms wall per round "
              f"({result['samples_per_round']:.0f} samples)")


async def bench_real(counts: list[int], rounds: int, work: Path) -> None:
    network = SpecNetwork(BridgeSettings(BRIDGE, "10.88.0.1/24", 18776), work / "network")
    await network.setup()
    cache = ImageCache(work / "images", 1024**3)
    try:
        for count in counts:
            manager = InstanceManager(
                Host("qemu:///system", deadline=120), work / f"real-{count}",
                NodePolicy(detect_virt_type("auto"), BRIDGE), network, stop_grace=0,
                images=cache)
            specs = [demo_spec(n, work / "demo") for n in range(count)]
            try:
                for spec in specs:
                    await manager.run(spec)
                    await pause(manager.host, spec.instance_id)
                result = await measure(manager, rounds)
            finally:
                for spec in specs:
                    await manager.terminate(spec.instance_id)
                await manager.host.close()
            print(f"QEMU (bulk call), {count:3d} paused guests: {result['cpu_ms']:.2f} ms "
                  f"agent CPU + {result.get('libvirtd_cpu_ms', 0):.2f} ms libvirtd CPU, "
                  f"{result['wall_ms']:.2f} ms wall per round "
                  f"({result['samples_per_round']:.0f} samples)")
    finally:
        await cache.close()
        await network.teardown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--counts", default="1,10,50")
    parser.add_argument("--real-counts", default="")
    args = parser.parse_args()

    def numbers(text: str) -> list[int]:
        return [int(n) for n in text.split(",") if n.strip()]

    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        if numbers(args.counts):
            asyncio.run(bench_test_driver(numbers(args.counts), args.rounds, Path(tmp)))
        if numbers(args.real_counts):
            subprocess.run([REPO / "deploy/images/build-demo.sh", Path(tmp) / "demo"],
                           check=True, capture_output=True, timeout=300)
            asyncio.run(bench_real(numbers(args.real_counts), args.rounds, Path(tmp)))


if __name__ == "__main__":
    main()
