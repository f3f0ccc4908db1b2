"""Shipping samples to the controller: a bounded buffer, batches, retries with backoff.

The sampler hands each round's samples to :meth:`MetricsShipper.add` (cheap, on the event
loop); :meth:`MetricsShipper.run` sends what is buffered, oldest first, in batches of at most
``batch`` samples through the :class:`~nodeagent.controller_link.ControllerLink` (the node's
credential, as its heartbeats). A sample leaves the buffer only once the controller accepted
it (its ingestion is idempotent per instance and ``end``, so a batch sent again after a lost
reply counts once). While the controller is unreachable, failures are retried after 1, 2, 4,
... seconds, at most ``max_backoff``; the buffer keeps the newest ``per_instance`` samples of
each instance (an hour at the default interval) and counts what it had to drop. A batch the
controller rejects as malformed (400) is dropped and logged: sending it again cannot succeed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from nodeagent.controller_link import MetricsRejected
from nodeagent.metrics.samples import Sample

log = logging.getLogger("ironbark.node.metrics")

Send = Callable[[list[dict[str, Any]]], Awaitable[int]]


class MetricsShipper:
    def __init__(self, send: Send, *, per_instance: int = 60, batch: int = 500,
                 backoff: float = 1.0, max_backoff: float = 300.0) -> None:
        self.send = send
        self.per_instance = per_instance
        self.batch = batch
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sent = 0  # samples the controller accepted
        self.dropped = 0  # samples pushed out of a full buffer, or rejected
        self._queues: dict[str, deque[Sample]] = {}
        self._ready = asyncio.Event()

    def add(self, samples: list[Sample]) -> None:
        """Buffer ``samples`` and wake the sender (a full instance queue drops its oldest)."""
        for item in samples:
            queue = self._queues.setdefault(item.instance_id, deque(maxlen=self.per_instance))
            if len(queue) == queue.maxlen:
                self.dropped += 1
                log.warning("event=metrics_buffer_full instance_id=%s dropped_end=%s",
                            item.instance_id, queue[0].end.isoformat())
            queue.append(item)
        self._ready.set()

    def pending(self) -> list[Sample]:
        """Everything buffered, oldest first."""
        return sorted((item for queue in self._queues.values() for item in queue),
                      key=lambda item: (item.end, item.instance_id))

    def _forget(self, batch: list[Sample]) -> None:
        for item in batch:
            queue = self._queues.get(item.instance_id)
            if queue is not None and item in queue:
                queue.remove(item)
                if not queue:
                    del self._queues[item.instance_id]

    async def flush(self) -> int:
        """Send everything buffered, batch by batch; the first failure propagates (and what
        was not accepted stays buffered). Returns how many samples were accepted."""
        accepted = 0
        while batch := self.pending()[: self.batch]:
            try:
                await self.send([item.wire() for item in batch])
            except MetricsRejected:
                self.dropped += len(batch)
                self._forget(batch)
                raise
            self._forget(batch)
            accepted += len(batch)
            self.sent += len(batch)
        return accepted

    async def run(self) -> None:
        """Send whenever samples arrive; back off while the controller fails. Forever."""
        delay = self.backoff
        while True:
            await self._ready.wait()
            self._ready.clear()
            try:
                await self.flush()
                delay = self.backoff
            except MetricsRejected as exc:
                log.error("event=metrics_rejected error=%s", exc)
                self._ready.set()  # the rest of the buffer is not affected
            except Exception as exc:  # noqa: BLE001 - kept and retried; never fatal
                log.warning("event=metrics_send_failed pending=%d retry_in=%.0f error=%r",
                            len(self.pending()), delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                self._ready.set()
