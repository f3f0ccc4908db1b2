"""Two placements at once (two controllers) never over-commit a node: the claim serialises them."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from controller.db.engine import make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.db.models import Account, Instance, Node, Reservation
from controller.ec2.placement_claim import lock_healthy_nodes, rooms
from controller.ec2.scheduler import Demand, place


def _seed(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        session.add(Account(id="123456789012", name="a", canonical_user_id="c" * 64))
        session.add(Node(id="node-0123456789abcdef0", name="n1", endpoint="http://n1/",
                         hypervisor="fake", vcpus=1, memory_mib=1024, disk_gib=10,
                         max_instances=1, credential_hash="x", state="healthy",
                         registered_at=now, last_heartbeat_at=now))
        session.flush()
        session.add(Reservation(id="r-0123456789abcdef0", account_id="123456789012",
                                requester_id="u"))


def _launch(engine: Engine, number: int, results: list[bool]) -> None:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        snapshot = rooms(session, lock_healthy_nodes(session), ["z"], {})
        chosen = place(snapshot, Demand(1, 128, 0), None, 1, 1)
        if chosen:
            session.add(Instance(
                id=f"i-{number:017x}", account_id="123456789012",
                reservation_id="r-0123456789abcdef0", launch_index=0, image_id="ami-1",
                instance_type="t1.micro", vcpus=1, memory_mib=128, disk_gib=0,
                architecture="x86_64", root_device_type="instance-store", state="pending",
                state_transition_reason="", reboot_requested=False, security_groups="[]",
                availability_zone="z", node_id=chosen[0], mac="d0:0d:00:00:00:00",
                disable_api_termination=False, shutdown_behavior="stop",
                metadata_options="{}", monitoring=False))
            session.flush()
            time.sleep(0.3)  # hold the claim while the other controller tries
        results.append(bool(chosen))


def test_concurrent_claims_do_not_over_commit(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    _seed(fresh_engine)
    results: list[bool] = []
    threads = [threading.Thread(target=_launch, args=(fresh_engine, n, results)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False, True]
    with fresh_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Instance)) == 1
