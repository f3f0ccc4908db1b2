"""Marking silent nodes unhealthy: a function for tests and a loop for the app's lifespan."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from controller.db.engine import transaction
from controller.logs import event
from controller.nodes.registry import mark_silent_nodes

log = logging.getLogger("ironbark.nodes")


def reconcile_node_health(
    sessions: sessionmaker[Session],
    heartbeat_seconds: float,
    missed: int,
    now: datetime | None = None,
) -> list[str]:
    """Nodes silent for more than ``missed`` heartbeat intervals become unhealthy."""
    silence = timedelta(seconds=heartbeat_seconds * missed)
    with transaction(sessions) as session:
        silent = mark_silent_nodes(session, now or datetime.now(UTC), silence)
    for node_id in silent:
        event(log, logging.WARNING, "nodes.unhealthy", node=node_id,
              silent_for_more_than=silence.total_seconds())
    return silent


async def node_health_loop(
    sessions: sessionmaker[Session], heartbeat_seconds: float, missed: int
) -> None:
    while True:
        await asyncio.sleep(heartbeat_seconds)
        try:
            await asyncio.to_thread(reconcile_node_health, sessions, heartbeat_seconds, missed)
        except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
            event(log, logging.ERROR, "nodes.health_failed", exc_info=True)
