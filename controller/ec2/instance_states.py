"""The EC2 instance state machine (pure): codes, allowed user transitions, reasons.

    pending ──> running ──> stopping ──> stopped ──> pending (start)
       │           │                        │
       └───────────┴──> shutting-down ──> terminated <┘

A failed launch goes pending → terminated with StateReason ``Server.InternalError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

PENDING = "pending"
RUNNING = "running"
SHUTTING_DOWN = "shutting-down"
TERMINATED = "terminated"
STOPPING = "stopping"
STOPPED = "stopped"

CODES = {PENDING: 0, RUNNING: 16, SHUTTING_DOWN: 32, TERMINATED: 48, STOPPING: 64, STOPPED: 80}
HOLDS_CAPACITY = (PENDING, RUNNING, STOPPING, SHUTTING_DOWN)
"""States whose instance occupies its node. A stopped (EBS-backed) instance does not: its node
lets go of the domain, and StartInstances places it again (see instance_reconciler)."""
LIVE = (PENDING, RUNNING, STOPPING, STOPPED)

USER_SHUTDOWN = "Client.UserInitiatedShutdown"
INSTANCE_SHUTDOWN = "Client.InstanceInitiatedShutdown"
INTERNAL_ERROR = "Server.InternalError"
REASON_MESSAGES = {
    USER_SHUTDOWN: "Client.UserInitiatedShutdown: User initiated shutdown",
    INSTANCE_SHUTDOWN: "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
    INTERNAL_ERROR: "Server.InternalError: Internal error on launch",
}


class TransitionRefused(Exception):
    """The instance is in a state from which the operation is not possible."""

    def __init__(self, state: str, operation: str) -> None:
        super().__init__(f"cannot {operation} in state {state}")
        self.state = state
        self.operation = operation


@dataclass(frozen=True)
class Change:
    """What a user operation does to an instance: its next state (None: unchanged)."""

    state: str | None
    reason_code: str | None = None


def user_initiated(now: datetime) -> str:
    """A StateTransitionReason as EC2 writes it."""
    return f"User initiated ({now.strftime('%Y-%m-%d %H:%M:%S')} GMT)"


def terminate(state: str) -> Change:
    if state in (SHUTTING_DOWN, TERMINATED):
        return Change(None)
    return Change(SHUTTING_DOWN, USER_SHUTDOWN)


def stop(state: str, root_device_type: str) -> Change:
    """StopInstances; instance-store instances cannot stop (the caller refuses them first)."""
    if state in (STOPPING, STOPPED):
        return Change(None)
    if state in (PENDING, RUNNING):
        return Change(STOPPING, USER_SHUTDOWN)
    raise TransitionRefused(state, "stop")


def start(state: str) -> Change:
    if state in (PENDING, RUNNING):
        return Change(None)
    if state == STOPPED:
        return Change(PENDING)
    raise TransitionRefused(state, "start")


def reboot(state: str) -> bool:
    """True when a reboot is to be sent; terminated instances refuse, others are a no-op."""
    if state == TERMINATED:
        raise TransitionRefused(state, "reboot")
    return state == RUNNING


def from_node_report(state: str, node_state: str | None, shutdown_behavior: str,
                     root_device_type: str) -> Change:
    """What a node's report means for an instance the controller thinks is in ``state``.

    ``node_state`` is the agent's guest state (``running``, ``shutoff``, ``crashed``, ...,
    ``terminated``) or None when the node does not know the instance."""
    if state == PENDING and node_state == RUNNING:
        return Change(RUNNING)
    if state == STOPPING and node_state in ("shutoff", "crashed"):
        return Change(STOPPED)
    if state == SHUTTING_DOWN and node_state in (None, TERMINATED):
        return Change(TERMINATED)
    if state == RUNNING and node_state in ("shutoff", "crashed"):
        # the guest powered itself off
        if shutdown_behavior == "stop" and root_device_type == "ebs":
            return Change(STOPPED, INSTANCE_SHUTDOWN)
        return Change(SHUTTING_DOWN, INSTANCE_SHUTDOWN)
    return Change(None)
