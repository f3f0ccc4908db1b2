"""Immediate reports of state changes: libvirt lifecycle events nudge the controller link.

A guest that powers itself off, a QEMU that crashes or is killed, a domain destroyed behind
the agent's back: libvirt tells the agent at once (:class:`~nodeagent.hypervisor.events.
EventHub`), and the agent sends its next heartbeat (every instance's state) right away instead
of at the next interval. Changes the agent caused itself are reported the same way; the
heartbeat carries states, not events, so a repeated or coalesced report is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from nodeagent.hypervisor.events import DomainEvent, EventHub
from nodeagent.spec import INSTANCE_ID

log = logging.getLogger("ironbark.node.reports")


def report_state_changes(events: EventHub, nudge: Callable[[], None]) -> Callable[[], None]:
    """Call ``nudge`` (on the current event loop) whenever an instance's domain changes
    state; returns the function that stops it."""

    def handle(event: DomainEvent) -> None:
        if event.state_change and INSTANCE_ID.match(event.domain):
            if event.stopped:
                log.info("event=instance_stopped instance_id=%s type=%d detail=%d",
                         event.domain, event.event, event.detail)
            nudge()

    return events.forward(handle)
