"""CloudWatch storage on both databases: merging into existing periods, retention, idempotent
node samples, impaired status checks, and concurrent writers to the same period."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from controller.cloudwatch.jobs import record_impaired
from controller.cloudwatch.store import (
    MetricKey,
    Point,
    StatSet,
    claim_samples,
    expire,
    find_metric,
    put,
    read,
)
from controller.db.engine import make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.db.models import Account, CwDatapoint, Instance, Node, Reservation

ACCOUNT = "123456789012"
KEY = MetricKey.of("App", "Latency", [("Svc", "a")])
HOUR = 36_000 * 3600


@pytest.fixture(scope="module")
def sessions(fresh_engine: Engine) -> sessionmaker[Session]:
    upgrade(fresh_engine)
    factory = make_session_factory(fresh_engine)
    with transaction(factory) as session:
        session.add(Account(id=ACCOUNT, name="a", canonical_user_id="c" * 64))
    return factory


def _point(ts: int, *values: float, key: MetricKey = KEY) -> Point:
    return Point(key, ts, "Milliseconds", StatSet.of_values(list(values), [1.0] * len(values)))


def test_put_merges_into_existing_periods(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        put(session, ACCOUNT, [_point(HOUR + 60, 1.0, 2.0)], HOUR)
    with transaction(sessions) as session:
        put(session, ACCOUNT, [_point(HOUR + 90, 10.0), _point(HOUR + 400, 5.0)], HOUR)
    with sessions() as session:
        metric_id = find_metric(session, ACCOUNT, KEY)
        assert metric_id is not None
        minutes = read(session, metric_id, [60], HOUR, HOUR + 3600, None, sketches=True)
        assert [(r.ts, r.stats.count, r.stats.total, r.stats.high) for r in minutes] == [
            (HOUR + 60, 3, 13, 10), (HOUR + 360, 1, 5, 5)]
        [hour] = read(session, metric_id, [3600], HOUR, HOUR + 3600, None, sketches=True)
        assert (hour.stats.count, hour.stats.total, hour.stats.low) == (4, 18, 1)
        assert hour.stats.sketch is not None and hour.stats.sketch.count == 4
        assert read(session, metric_id, [60], HOUR, HOUR + 3600, "Count") == []


def test_retention_drops_each_resolution_after_its_time(sessions: sessionmaker[Session]) -> None:
    key = MetricKey.of("App", "Old", [])
    with transaction(sessions) as session:
        put(session, ACCOUNT, [_point(HOUR, 1.0, key=key)], HOUR)
        metric_id = find_metric(session, ACCOUNT, key)
    day = 86400
    with transaction(sessions) as session:
        expire(session, HOUR + 16 * day)  # 1-minute rows (15 days) go, the others stay
    with sessions() as session:
        kept = session.execute(select(CwDatapoint.resolution).where(
            CwDatapoint.metric_id == metric_id)).scalars().all()
        assert sorted(kept) == [300, 3600]
    with transaction(sessions) as session:
        expire(session, HOUR + 456 * day)
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(CwDatapoint).where(
            CwDatapoint.metric_id == metric_id)).scalar() == 0


def test_node_samples_are_claimed_once(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        assert claim_samples(session, [("i-1", 60), ("i-1", 120), ("i-1", 60)]) == set()
    with transaction(sessions) as session:
        assert claim_samples(session, [("i-1", 120), ("i-1", 180)]) == {("i-1", 120)}


def test_running_instances_on_silent_nodes_fail_system_checks(
        sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        session.add(Node(id="node-0123456789abcdef0", name="n1", endpoint="http://n1/",
                         hypervisor="fake", vcpus=4, memory_mib=4096, disk_gib=10,
                         max_instances=4, credential_hash="x", state="unhealthy",
                         registered_at=now, last_heartbeat_at=now))
        session.flush()
        session.add(Reservation(id="r-0123456789abcdef0", account_id=ACCOUNT, requester_id="u"))
        session.flush()
        session.add(Instance(
            id="i-0123456789abcdef0", account_id=ACCOUNT, reservation_id="r-0123456789abcdef0",
            launch_index=0, image_id="ami-1", instance_type="t1.micro", vcpus=1, memory_mib=128,
            disk_gib=0, architecture="x86_64", root_device_type="instance-store",
            state="running", availability_zone="z", node_id="node-0123456789abcdef0",
            mac="d0:0d:00:00:00:00", monitoring=False))
    assert record_impaired(sessions, now) == 3
    with sessions() as session:
        key = MetricKey.of("AWS/EC2", "StatusCheckFailed_System",
                           [("InstanceId", "i-0123456789abcdef0")])
        metric_id = find_metric(session, ACCOUNT, key)
        assert metric_id is not None
        stamp = int(now.timestamp())
        rows = read(session, metric_id, [300], stamp - 600, stamp + 600, None)
        assert [r.stats.high for r in rows] == [1.0]


def test_concurrent_writers_to_one_period_lose_nothing(sessions: sessionmaker[Session]) -> None:
    """Two controllers merging into the same existing period: the row lock serialises them."""
    key = MetricKey.of("App", "Busy", [])
    with transaction(sessions) as session:
        put(session, ACCOUNT, [_point(HOUR, 0.0, key=key)], HOUR)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                with transaction(sessions) as session:
                    put(session, ACCOUNT, [_point(HOUR + 1, 1.0, key=key)], HOUR)
                time.sleep(0.001)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sessions() as session:
        metric_id = find_metric(session, ACCOUNT, key)
        assert metric_id is not None
        [row] = read(session, metric_id, [60], HOUR, HOUR + 60, None)
        assert (row.stats.count, row.stats.total) == (21, 20)
