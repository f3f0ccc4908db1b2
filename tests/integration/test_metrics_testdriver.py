"""The metrics sampler and shipper over libvirt's test driver, shipping through the real
``ControllerLink`` to a real HTTP server standing in for the controller.

The test driver's bulk statistics call reports only domain states, so its counters come from
the per-domain calls (block and interface counters grow with the wall clock; the interface's
rx, what the guest received, grows twice as fast as its tx; CPU time is a constant). Real
QEMU guests, read by the bulk call, are in tests/e2e/test_metrics_real_guest.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nodeagent.controller_link import ControllerLink, NodeDescription
from nodeagent.hypervisor.designer import NodePolicy
from nodeagent.hypervisor.guest import Guest
from nodeagent.hypervisor.host import Host
from nodeagent.instances import InstanceManager, NoNetwork
from nodeagent.metrics.sampler import Sampler, stored_targets
from nodeagent.metrics.shipper import MetricsShipper
from nodeagent.spec import InstanceSpec
from nodeagent.volumes import VolumeAttachment
from tests.conftest import host_tests_unavailable
from tests.hostcheck import require_libvirt_binding
from tests.recording_controller import (
    CLUSTER_TOKEN,
    NODE_ID,
    RecordingController,
    recording_controller,
)

T0 = 1_794_999_960.0  # 2026-11-18T11:06:00Z, a whole minute


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[InstanceManager]:
    require_libvirt_binding()
    if shutil.which("qemu-img") is None:
        host_tests_unavailable("qemu-img missing (deploy/host-setup.sh installs qemu-utils)")
    (tmp_path / "root.img").write_bytes(b"\0" * 65536)
    manager = InstanceManager(Host("test:///default"), tmp_path / "state",
                              NodePolicy("qemu", "ibr0"), NoNetwork(), stop_grace=1)
    yield manager
    for spec in manager.store.all():
        asyncio.run(manager.terminate(spec.instance_id))


@pytest.fixture
def controller() -> Iterator[RecordingController]:
    with recording_controller() as recording:
        yield recording


def new_spec(root: Path, vcpus: int = 1, n: int = 1) -> InstanceSpec:
    return InstanceSpec(instance_id="i-" + uuid.uuid4().hex[:17], memory_mib=128, vcpus=vcpus,
                        kernel="/boot/vmlinuz", root_image=str(root / "root.img"),
                        mac=f"52:54:00:00:01:{n:02x}", tap=f"ib-m{n}", private_ip=f"10.77.0.{n}")


def sampler_for(manager: InstanceManager, interval: float = 60.0, keep: int = 60) -> Sampler:
    return Sampler(
        manager.host,
        lambda: asyncio.to_thread(stored_targets, manager.store, manager.attachments),
        interval=interval, keep=keep)


def test_samples_every_running_instance_through_appear_restart_and_stop(
    manager: InstanceManager, tmp_path: Path
) -> None:
    plain, with_volume = new_spec(tmp_path, vcpus=2, n=1), new_spec(tmp_path, n=2)
    volume_file = tmp_path / "vol.raw"
    volume_file.write_bytes(b"\0" * 65536)
    volume = VolumeAttachment("vol-0123456789abcdef0", "/dev/sdf", str(volume_file))
    sampler = sampler_for(manager)

    async def scenario() -> None:
        await manager.run(plain)
        await manager.run(with_volume)
        await manager.stop(with_volume.instance_id, grace=1)
        await manager.attach_volume(with_volume.instance_id, volume)  # definition only
        await manager.start(with_volume.instance_id)
        assert await sampler.round(now=T0) == []  # the first round only reads
        await asyncio.sleep(0.05)
        first = {s.instance_id: s for s in await sampler.round(now=T0 + 60)}
        # libvirt's own "test" domain runs too, but is no instance of ours
        assert set(first) == {plain.instance_id, with_volume.instance_id}
        for item in first.values():
            wire = item.wire()
            assert (wire["start"], wire["end"]) == ("2026-11-18T11:06:00Z", "2026-11-18T11:07:00Z")
            assert item.disk.read_bytes > 0 and item.disk.write_ops > 0
            # test driver: rx (the guest's in) grows at twice the rate of tx (its out)
            assert 1.8 < item.net.in_bytes / item.net.out_bytes < 2.2
            assert item.cpu_time_ns == 0  # the test driver's CPU time never moves
        assert first[plain.instance_id].vcpus == 2 and first[plain.instance_id].volumes == {}
        vol_io = first[with_volume.instance_id].volumes["vol-0123456789abcdef0"]
        assert vol_io.read_bytes > 0 and vol_io.write_ops > 0

        cpu_since_start = await manager.host.call(
            lambda c: c.lookupByName(plain.instance_id).getCPUStats(True)[0]["cpu_time"])
        await Guest(manager.host, plain.instance_id).destroy()  # QEMU gone ...
        await Guest(manager.host, plain.instance_id).start()  # ... and started again
        second = {s.instance_id: s for s in await sampler.round(now=T0 + 120)}
        assert second[plain.instance_id].cpu_time_ns == cpu_since_start  # counted from zero
        assert second[with_volume.instance_id].cpu_time_ns == 0
        assert second[plain.instance_id].wire()["start"] == "2026-11-18T11:07:00Z"

        await manager.stop(with_volume.instance_id, grace=1)
        third = await sampler.round(now=T0 + 180)
        assert [s.instance_id for s in third] == [plain.instance_id]
        assert len(sampler.recent(plain.instance_id)) == 3
        assert len(sampler.recent(with_volume.instance_id)) == 2
        await manager.terminate(with_volume.instance_id)
        await sampler.round(now=T0 + 240)
        assert sampler.recent(with_volume.instance_id) == []

    asyncio.run(scenario())


def test_same_second_rounds_and_hypervisor_gaps_never_span_wrong_intervals(
    manager: InstanceManager, tmp_path: Path
) -> None:
    spec = new_spec(tmp_path)
    sampler = sampler_for(manager)

    async def scenario() -> None:
        await manager.run(spec)
        await sampler.round(now=T0)
        assert await sampler.round(now=T0 + 0.2) == []  # same second: nothing, no reset
        assert len(await sampler.round(now=T0 + 60)) == 1
        broken = Host("test:///no-such-file.xml")  # a hypervisor that cannot be read
        sampler.host, good = broken, sampler.host
        assert await sampler.round(now=T0 + 120) == []
        sampler.host = good
        assert await sampler.round(now=T0 + 180) == []  # a fresh reading, not [60, 180)
        [item] = await sampler.round(now=T0 + 240)
        assert item.wire()["start"] == "2026-11-18T11:09:00Z"
        await broken.close()

    asyncio.run(scenario())


def test_statistics_constants_match_the_binding() -> None:
    require_libvirt_binding()
    import libvirt

    from nodeagent.hypervisor import libvirt_api as lv

    for name in ["STATE", "CPU_TOTAL", "INTERFACE", "BLOCK"]:
        assert getattr(lv, f"STATS_{name}") == getattr(libvirt, f"VIR_DOMAIN_STATS_{name}")
    for name in ["ACTIVE", "NOWAIT"]:
        assert getattr(lv, f"GET_ALL_DOMAINS_STATS_{name}") == getattr(
            libvirt, f"VIR_CONNECT_GET_ALL_DOMAINS_STATS_{name}")


def test_rounds_fall_on_multiples_of_the_interval(manager: InstanceManager) -> None:
    sampler = sampler_for(manager, interval=60)
    assert sampler.delay(now=T0 + 12.5) == 47.5
    assert sampler.delay(now=T0) == 60


async def _shipping(manager: InstanceManager, controller: RecordingController,
                    body: Any) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        link = ControllerLink(controller.url, CLUSTER_TOKEN,
                              NodeDescription("metrics-node", "http://127.0.0.1:1/", "qemu",
                                              2, 4096, 10, 8),
                              report=_no_instances, identity_file=None, client=client)
        sampler = sampler_for(manager, keep=3)
        shipper = MetricsShipper(link.send_metrics, per_instance=3, backoff=0.05,
                                 max_backoff=0.2)
        sampler.sinks.append(shipper.add)
        task = asyncio.create_task(shipper.run())
        try:
            await body(sampler, shipper, link)
        finally:
            task.cancel()


async def _no_instances() -> list[dict[str, str]]:
    return []


def ends(controller: RecordingController) -> list[tuple[str, str]]:
    return [(s["instance_id"], s["end"]) for s in controller.samples]


def test_batches_reach_the_controller_with_the_nodes_credential_and_survive_failures(
    manager: InstanceManager, controller: RecordingController, tmp_path: Path
) -> None:
    a, b = new_spec(tmp_path, n=1), new_spec(tmp_path, n=2)

    async def body(sampler: Sampler, shipper: MetricsShipper, link: ControllerLink) -> None:
        await manager.run(a)
        await manager.run(b)
        await sampler.round(now=T0)
        await sampler.round(now=T0 + 60)
        await asyncio.to_thread(controller.wait_for, 2)
        assert controller.registrations == 1
        assert controller.authorizations == ["Bearer credential-1"]
        assert controller.batches[0]["node_id"] == NODE_ID

        controller.fail_next = [503, 500]  # down for a moment: kept, retried with backoff
        await sampler.round(now=T0 + 120)
        await asyncio.to_thread(controller.wait_for, 4)
        assert controller.fail_next == []

        controller.credential = "replaced"  # the controller forgot our credential: 403
        await sampler.round(now=T0 + 180)
        await asyncio.to_thread(controller.wait_for, 6)
        assert controller.registrations == 2  # registered again, then delivered

        controller.fail_next = [503] * 1000  # a long outage: 5 rounds, 3 kept per instance
        for minute in range(4, 9):
            await sampler.round(now=T0 + 60 * minute)
        assert shipper.dropped == 4
        controller.fail_next = []
        got = await asyncio.to_thread(controller.wait_for, 12)
        assert len(got) == 12 and shipper.pending() == []
        # every (instance, end) exactly once; during the outage the newest 3 survived
        assert len(set(ends(controller))) == 12
        assert {end for _iid, end in ends(controller)[6:]} == {
            "2026-11-18T11:12:00Z", "2026-11-18T11:13:00Z", "2026-11-18T11:14:00Z"}
        # each interval starts where the previous one ended (the dropped ones are a gap)
        for iid in (a.instance_id, b.instance_id):
            mine = [s for s in got if s["instance_id"] == iid]
            assert [s["start"] for s in mine[1:]] == [s["end"] for s in mine[:-1]][:2] + [
                "2026-11-18T11:11:00Z", *[s["end"] for s in mine[3:-1]]]

        controller.fail_next = [400]  # malformed in the controller's eyes: dropped, logged
        await sampler.round(now=T0 + 540)
        await sampler.round(now=T0 + 600)
        got = await asyncio.to_thread(controller.wait_for, 14)
        assert shipper.dropped == 6 and ends(controller)[-1][1] == "2026-11-18T11:16:00Z"

    asyncio.run(_shipping(manager, controller, body))


def test_the_agent_samples_and_ships_on_its_own(
    controller: RecordingController, tmp_path: Path
) -> None:
    """``ironbark node`` wiring: the sampler and shipper tasks of the real agent process."""
    require_libvirt_binding()
    if shutil.which("qemu-img") is None:
        host_tests_unavailable("qemu-img missing (deploy/host-setup.sh installs qemu-utils)")
    import threading

    from nodeagent.server import node_server
    from nodeagent.settings import NodeSettings

    (tmp_path / "root.img").write_bytes(b"\0" * 65536)
    settings = NodeSettings(
        state_dir=tmp_path / "state", port=0, libvirt_uri="test:///default",
        virt_type="qemu", manage_network=False, controller_url=controller.url,
        cluster_token=CLUSTER_TOKEN, api_token="agent-token", metrics_interval=1,
        disk_gib=10)
    server = node_server(settings)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "agent did not start"
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        spec = new_spec(tmp_path, n=9)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False,
                          headers={"Authorization": "Bearer agent-token"}) as api:
            check_agent(api, controller, spec)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def check_agent(api: httpx.Client, controller: RecordingController, spec: InstanceSpec) -> None:
    body = {k: v for k, v in json.loads(spec.to_json()).items() if k != "instance_id"}
    reply = api.put(f"/v1/instances/{spec.instance_id}", json=body)
    assert reply.status_code == 200, reply.text
    end = time.monotonic() + 20
    while not any(s["instance_id"] == spec.instance_id for s in controller.samples):
        assert time.monotonic() < end, "no sample of the instance reached the controller"
        time.sleep(0.1)
    sample = next(s for s in controller.samples if s["instance_id"] == spec.instance_id)
    assert sample["disk_read_bytes"] > 0 and sample["net_in_bytes"] > 0
    assert controller.authorizations[0] == "Bearer credential-1"
    local = api.get(f"/v1/instances/{spec.instance_id}/metrics").json()
    assert local["interval"] == 1 and local["state"] == "running"
    assert local["samples"] and local["samples"][0]["instance_id"] == spec.instance_id
    assert api.get("/v1/instances/i-00000000000000000/metrics").status_code == 404
    assert api.delete(f"/v1/instances/{spec.instance_id}").status_code == 200


def test_fake_nodes_ship_samples_in_the_same_wire_format(
    controller: RecordingController, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from nodeagent.fake import FakeNode

    spec = new_spec(tmp_path, vcpus=2)
    start = datetime.fromtimestamp(T0, UTC)
    end = datetime.fromtimestamp(T0 + 60, UTC)

    async def scenario() -> None:
        async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
            fake = FakeNode("fake-metrics", controller.url, CLUSTER_TOKEN, client)
            await fake.instances.run(spec)
            fake.instances.cpu_percent[spec.instance_id] = 50.0
            assert await fake.send_metrics(start, end) == 1
            await fake.instances.stop(spec.instance_id)
            assert await fake.send_metrics(start, end) == 0  # nothing runs

    asyncio.run(scenario())
    [item] = controller.samples  # the recording controller checked the contract's shape
    assert item["cpu_time_ns"] == 60 * 10**9  # 50 % of 2 vCPUs for 60 s
    assert (item["start"], item["end"]) == ("2026-11-18T11:06:00Z", "2026-11-18T11:07:00Z")
    assert controller.authorizations == ["Bearer credential-1"]
