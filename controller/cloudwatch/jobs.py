"""CloudWatch's background work in the controller's lifespan: alarm evaluation every
``cloudwatch_alarm_seconds``; once a minute the status checks of instances whose node went
silent (StatusCheckFailed_System = 1: their node sends no samples); every ten minutes the
retention of metric data."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller.cloudwatch.alarm_eval import evaluate_alarms
from controller.cloudwatch.ingest import InstanceInfo, instance_points, status_values
from controller.cloudwatch.store import Point, expire, put
from controller.config import Settings
from controller.db.engine import transaction
from controller.db.models import Instance, Node
from controller.logs import event

log = logging.getLogger("ironbark.cloudwatch")
RETENTION_EVERY = 600.0
STATUS_EVERY = 60.0


def record_impaired(sessions: sessionmaker[Session], now: datetime) -> int:
    """Failed system status checks for running instances on unhealthy nodes."""
    stamp = int(now.timestamp())
    stamp -= stamp % 60
    with transaction(sessions) as session:
        rows = session.execute(select(Instance).join(Node, Instance.node_id == Node.id).where(
            Instance.state == "running", Node.state != "healthy")).scalars()
        by_account: dict[str, list[Point]] = {}
        for row in rows:
            info = InstanceInfo(row.id, row.account_id, row.image_id, row.instance_type,
                                row.monitoring)
            by_account.setdefault(row.account_id, []).extend(
                instance_points(info, stamp, status_values(True, False)))
        for account_id, points in by_account.items():
            put(session, account_id, points, stamp)
        return sum(len(p) for p in by_account.values())


def expire_metrics(sessions: sessionmaker[Session], now: datetime) -> int:
    with transaction(sessions) as session:
        return expire(session, int(now.timestamp()))


async def cloudwatch_loop(sessions: sessionmaker[Session], settings: Settings) -> None:
    last_retention = last_status = time.monotonic()
    while True:
        await asyncio.sleep(settings.cloudwatch_alarm_seconds)
        try:
            clock = time.monotonic()
            if clock - last_status >= STATUS_EVERY:
                last_status = clock
                await asyncio.to_thread(record_impaired, sessions, datetime.now(UTC))
            if clock - last_retention >= RETENTION_EVERY:
                last_retention = clock
                await asyncio.to_thread(expire_metrics, sessions, datetime.now(UTC))
            await asyncio.to_thread(evaluate_alarms, sessions, settings)
        except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
            event(log, logging.ERROR, "cloudwatch.job_failed", exc_info=True)
