"""libvirt domain events, fanned out to subscribers and awaitable from asyncio.

libvirt delivers events on its own thread (:func:`libvirt_api.start_event_loop`); the
:class:`EventHub` hands each one to every subscriber there. Subscribers must be quick and
thread-safe: the asyncio ones (:meth:`EventHub.expect`, :meth:`EventHub.forward`) only hop
onto their event loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from nodeagent.hypervisor import libvirt_api as lv

log = logging.getLogger(__name__)

LIFECYCLE = "lifecycle"
DEVICE_REMOVED = "device-removed"
DEVICE_REMOVAL_FAILED = "device-removal-failed"

Subscriber = Callable[["DomainEvent"], None]


@dataclass(frozen=True)
class DomainEvent:
    domain: str
    kind: str  # LIFECYCLE, DEVICE_REMOVED or DEVICE_REMOVAL_FAILED
    event: int = 0  # lifecycle: virDomainEventType
    detail: int = 0  # lifecycle: the event's detail (e.g. STOPPED_CRASHED)
    alias: str = ""  # device events: the device's alias (``virtio-disk1``)

    @property
    def stopped(self) -> bool:
        """The guest stopped (powered off, destroyed, crashed, QEMU died) or crashed."""
        return self.kind == LIFECYCLE and self.event in (lv.EVENT_STOPPED, lv.EVENT_CRASHED)

    @property
    def state_change(self) -> bool:
        """Worth telling the controller about (started, stopped, paused, resumed, crashed)."""
        return self.kind == LIFECYCLE and self.event in (
            lv.EVENT_STARTED, lv.EVENT_SUSPENDED, lv.EVENT_RESUMED, lv.EVENT_STOPPED,
            lv.EVENT_CRASHED, lv.EVENT_PMSUSPENDED,
        )


class Waiter:
    """The first event matching a predicate, awaitable; subscribed from creation on, so it
    is created *before* the operation whose event it waits for."""

    def __init__(self, hub: EventHub, match: Callable[[DomainEvent], bool]) -> None:
        self._loop = asyncio.get_running_loop()
        self._future: asyncio.Future[DomainEvent] = self._loop.create_future()
        self._match = match
        self._unsubscribe = hub.subscribe(self._offer)

    def _offer(self, event: DomainEvent) -> None:
        if self._match(event):
            self._loop.call_soon_threadsafe(self._settle, event)

    def _settle(self, event: DomainEvent) -> None:
        if not self._future.done():
            self._future.set_result(event)

    async def wait(self, timeout: float) -> DomainEvent | None:
        """The event, or None when none came within ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._future), timeout)
        except TimeoutError:
            return None
        finally:
            self.close()

    def close(self) -> None:
        self._unsubscribe()


class EventHub:
    """Every domain event of one :class:`Host`, to whoever subscribed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` (on libvirt's event thread) for every event; returns the
        function that ends the subscription."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: DomainEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event=domain_event_subscriber_failed domain=%s", event.domain)

    def expect(self, match: Callable[[DomainEvent], bool]) -> Waiter:
        return Waiter(self, match)

    def forward(self, handler: Callable[[DomainEvent], None]) -> Callable[[], None]:
        """Call ``handler`` on the current asyncio loop for every event; returns unsubscribe."""
        loop = asyncio.get_running_loop()

        def hop(event: DomainEvent) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(handler, event)

        return self.subscribe(hop)

    # callbacks for lv.register_domain_events (run on libvirt's event thread)

    def on_lifecycle(self, domain: str, event: int, detail: int) -> None:
        log.info("event=domain_lifecycle domain=%s type=%d detail=%d", domain, event, detail)
        self.publish(DomainEvent(domain, LIFECYCLE, event, detail))

    def on_device(self, domain: str, alias: str, removed: bool) -> None:
        kind = DEVICE_REMOVED if removed else DEVICE_REMOVAL_FAILED
        log.info("event=domain_device domain=%s kind=%s alias=%s", domain, kind, alias)
        self.publish(DomainEvent(domain, kind, alias=alias))
