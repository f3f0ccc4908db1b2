"""The node's instance commands against libvirt's test driver: idempotence, persistence,
re-adoption by a new agent (new Host, new manager) from the specs on disk."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from nodeagent.hypervisor.designer import NodePolicy
from nodeagent.hypervisor.guest import Guest
from nodeagent.hypervisor.host import Host
from nodeagent.instances import InstanceManager, NoNetwork, SpecConflict, UnknownInstance
from nodeagent.spec import EphemeralDisk, InstanceSpec
from tests.conftest import host_tests_unavailable
from tests.hostcheck import require_libvirt_binding

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    require_libvirt_binding()
    if shutil.which("qemu-img") is None:
        host_tests_unavailable("qemu-img missing (deploy/host-setup.sh installs qemu-utils)")
    root = tmp_path / "root.img"
    root.write_bytes(b"\0" * 1024 * 1024)
    return root


def manager(state: Path) -> InstanceManager:
    policy = NodePolicy(virt_type="qemu", bridge="ibr0")
    return InstanceManager(Host("test:///default"), state, policy, NoNetwork(), stop_grace=2)


def new_spec(image: Path) -> InstanceSpec:
    return InstanceSpec(
        instance_id="i-" + uuid.uuid4().hex[:17],
        memory_mib=128,
        vcpus=1,
        kernel="/boot/vmlinuz",
        root_image=str(image),
        mac="52:54:00:00:00:02",
        tap="ib-t2",
        private_ip="10.77.0.12",
    )


def test_commands_are_idempotent(image: Path, tmp_path: Path) -> None:
    node = manager(tmp_path / "state")
    spec = new_spec(image)
    assert run(node.run(spec)).state == "running"
    assert run(node.run(spec)).state == "running"
    paths = node.store.paths(spec.instance_id)
    assert paths.overlay.is_file()
    assert node.store.load(spec.instance_id) == spec
    with pytest.raises(SpecConflict):
        run(node.run(InstanceSpec(**{**vars(spec), "memory_mib": 256})))
    assert run(node.stop(spec.instance_id)).state == "shutoff"
    assert run(node.stop(spec.instance_id)).state == "shutoff"
    assert run(node.start(spec.instance_id)).state == "running"
    assert run(node.start(spec.instance_id)).state == "running"
    assert run(node.reboot(spec.instance_id)).state == "running"
    assert run(node.terminate(spec.instance_id)).state == "terminated"
    assert run(node.terminate(spec.instance_id)).state == "terminated"
    assert not paths.root.exists()
    with pytest.raises(UnknownInstance):
        run(node.start(spec.instance_id))
    with pytest.raises(UnknownInstance):
        run(node.console(spec.instance_id))


def test_a_restarted_agent_readopts_its_instances(image: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = manager(state)
    running, stopped = new_spec(image), new_spec(image)
    run(first.run(running))
    run(first.run(stopped))
    run(first.stop(stopped.instance_id))
    run(Guest(first.host, stopped.instance_id).undefine())  # lost while the agent was down

    # A new agent (new connection, new manager) on the same state directory. The first
    # connection stays open: the test driver's domains live as long as one connection does,
    # as a real libvirtd's outlive the agent.
    second = manager(state)
    statuses = {s.instance_id: s.state for s in run(second.adopt())}
    assert statuses == {running.instance_id: "running", stopped.instance_id: "shutoff"}
    assert run(second.start(stopped.instance_id)).state == "running"
    for spec in (running, stopped):
        run(second.terminate(spec.instance_id))
    assert run(second.adopt()) == []
    run(first.host.close())
    run(second.host.close())


def test_ephemeral_disks_are_made_kept_and_removed(image: Path, tmp_path: Path) -> None:
    """A blank sparse qcow2 of the spec's size per ephemeral disk, attached as its virtio
    disk, kept across stop/start (the data on it too), gone with the instance."""
    import json
    import subprocess

    node = manager(tmp_path / "state")
    spec = InstanceSpec(**{**vars(new_spec(image)),
                           "ephemeral": (EphemeralDisk("ephemeral0", "vdc", 3),)})
    assert run(node.run(spec)).state == "running"
    disk = node.store.paths(spec.instance_id).ephemeral("ephemeral0")
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(disk)],
                                     capture_output=True, check=True, text=True).stdout)
    assert info["format"] == "qcow2" and info["virtual-size"] == 3 * 1024 ** 3
    assert info["actual-size"] < 1024 * 1024  # sparse
    xml = run(Guest(node.host, spec.instance_id).xml())
    assert f"<source file='{disk}'/>" in xml and "<target dev='vdc' bus='virtio'/>" in xml
    made = disk.stat().st_mtime_ns
    run(node.stop(spec.instance_id))
    assert run(node.start(spec.instance_id)).state == "running"
    assert disk.stat().st_mtime_ns == made  # the same disk, not a new blank one
    run(node.terminate(spec.instance_id))
    assert not disk.exists()
