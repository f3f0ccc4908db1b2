"""The instance state machine: user transitions and what node reports mean."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.ec2 import instance_states as s


def test_terminate() -> None:
    assert s.terminate(s.RUNNING) == s.Change(s.SHUTTING_DOWN, s.USER_SHUTDOWN)
    assert s.terminate(s.PENDING).state == s.SHUTTING_DOWN
    assert s.terminate(s.STOPPED).state == s.SHUTTING_DOWN
    assert s.terminate(s.TERMINATED).state is None
    assert s.terminate(s.SHUTTING_DOWN).state is None


def test_stop_and_start() -> None:
    assert s.stop(s.RUNNING, "ebs").state == s.STOPPING
    assert s.stop(s.STOPPED, "ebs").state is None
    with pytest.raises(s.TransitionRefused):
        s.stop(s.TERMINATED, "ebs")
    assert s.start(s.STOPPED).state == s.PENDING
    assert s.start(s.RUNNING).state is None
    for state in (s.TERMINATED, s.SHUTTING_DOWN, s.STOPPING):
        with pytest.raises(s.TransitionRefused):
            s.start(state)


def test_reboot() -> None:
    assert s.reboot(s.RUNNING) is True
    assert s.reboot(s.STOPPED) is False
    with pytest.raises(s.TransitionRefused):
        s.reboot(s.TERMINATED)


@pytest.mark.parametrize(("state", "node", "behavior", "root", "expected"), [
    (s.PENDING, "running", "stop", "instance-store", s.RUNNING),
    (s.PENDING, None, "stop", "instance-store", None),
    (s.STOPPING, "shutoff", "stop", "ebs", s.STOPPED),
    (s.SHUTTING_DOWN, "terminated", "stop", "instance-store", s.TERMINATED),
    (s.SHUTTING_DOWN, None, "stop", "instance-store", s.TERMINATED),
    (s.RUNNING, "shutoff", "stop", "instance-store", s.SHUTTING_DOWN),
    (s.RUNNING, "shutoff", "stop", "ebs", s.STOPPED),
    (s.RUNNING, "shutoff", "terminate", "ebs", s.SHUTTING_DOWN),
    (s.RUNNING, None, "stop", "ebs", None),
    (s.STOPPED, "running", "stop", "ebs", None),
])
def test_node_reports(state: str, node: str | None, behavior: str, root: str,
                      expected: str | None) -> None:
    assert s.from_node_report(state, node, behavior, root).state == expected


def test_codes_and_reason() -> None:
    assert s.CODES == {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
                       "stopping": 64, "stopped": 80}
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert s.user_initiated(when) == "User initiated (2026-01-02 03:04:05 GMT)"
