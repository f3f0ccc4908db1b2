"""EBS attach and detach latency on a real guest: AttachVolume/DetachVolume call → the guest
sees / loses the disk (its serial in ``/sys/block/vd*/serial``, reported by a user-data loop
every 0.3 s and read through GetConsoleOutput), and → the libvirt domain has / lacks it.

Needs what the real-guest tests need (root, libvirtd, deploy/host-setup.sh). Runs
``ironbark up --with-node`` on its own bridge, once with the volume opened by path and once
over NBD (``IRONBARK_VOLUME_ATTACH=nbd``)::

    python -m bench.bench_ebs_attach --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import libvirt
from botocore.config import Config

from bench.servers import ROOT, ironbark_server
from tests.e2e.test_instances_real_guest import eventually
from tests.e2e.test_volumes_real_guest import (
    boot_demo_guest,
    clean_host,
    guest_env,
    guest_sees,
    volume_state,
)


def in_domain(conn: Any, instance_id: str, serial: str) -> bool:
    return serial in conn.lookupByName(instance_id).XMLDesc(0)


def hypervisor_sees(conn: Any, instance_id: str, serial: str, present: bool) -> float:
    deadline = time.monotonic() + 60
    while in_domain(conn, instance_id, serial) != present:
        if time.monotonic() > deadline:
            raise SystemExit(f"libvirt never {'had' if present else 'dropped'} {serial}")
        time.sleep(0.02)
    return time.monotonic()


class _Server:
    """What ``boot_demo_guest`` needs of the tests' Server."""

    def __init__(self, endpoint: str, data_dir: Path) -> None:
        self.endpoint, self.data_dir = endpoint + "/", data_dir
        self.database_url = f"sqlite:///{data_dir / 'ironbark.db'}"


def one_mode(mode: str, rounds: int, demo: Path, work: Path) -> dict[str, list[float]]:
    node_dir = work / f"node-{mode}"
    env = guest_env(node_dir, mode)
    env["IRONBARK_LOG_LEVEL"] = "WARNING"
    times: dict[str, list[float]] = {k: [] for k in ("attach_hv", "attach_guest",
                                                      "detach_hv", "detach_guest")}
    try:
        with ironbark_server(work / f"data-{mode}", env) as srv:
            ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=srv.endpoint,
                               aws_access_key_id=srv.access_key_id,
                               aws_secret_access_key=srv.secret_access_key,
                               config=Config(retries={"max_attempts": 1}))
            instance_id = boot_demo_guest(_Server(srv.endpoint, srv.data_dir), ec2, demo)
            zone = "us-east-1a"
            volume_id = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
            eventually(lambda: volume_state(ec2, volume_id)[0] == "available", "available", 30)
            serial = volume_id.replace("-", "", 1)
            conn = libvirt.openReadOnly("qemu:///system")
            for _ in range(rounds):
                t0 = time.monotonic()
                ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
                times["attach_hv"].append(hypervisor_sees(conn, instance_id, serial, True) - t0)
                times["attach_guest"].append(guest_sees(ec2, instance_id, serial, True) - t0)
                eventually(lambda: volume_state(ec2, volume_id)[1] == "attached", "attached", 30)
                t0 = time.monotonic()
                ec2.detach_volume(VolumeId=volume_id)
                times["detach_hv"].append(hypervisor_sees(conn, instance_id, serial, False) - t0)
                times["detach_guest"].append(guest_sees(ec2, instance_id, serial, False) - t0)
                eventually(lambda: volume_state(ec2, volume_id)[0] == "available", "avail", 60)
            conn.close()
            ec2.terminate_instances(InstanceIds=[instance_id])
    finally:
        asyncio.run(clean_host(node_dir))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modes", default="path,nbd")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ebs-") as tmp:
        work = Path(tmp)
        demo = work / "demo"
        subprocess.run([ROOT / "deploy/images/build-demo.sh", demo], check=True, timeout=300,
                       capture_output=True)
        print(f"{'mode':5} {'measure':13} {'median':>8} {'min':>7} {'max':>7}  (s, {args.rounds} rounds)")
        for mode in args.modes.split(","):
            for name, values in one_mode(mode, args.rounds, demo, work).items():
                print(f"{mode:5} {name:13} {statistics.median(values):8.2f} "
                      f"{min(values):7.2f} {max(values):7.2f}")


if __name__ == "__main__":
    main()
