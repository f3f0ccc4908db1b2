"""Alarm actions: the EC2 actions (``arn:aws:automate:REGION:ec2:stop|terminate|reboot|
recover``) act on the alarm's ``InstanceId`` through the EC2 handlers themselves, as the
alarm's owner would; other actions (SNS topics, Auto Scaling) have no target here and are
recorded as not executed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from controller import ids
from controller.cloudwatch.alarm_model import definition, record
from controller.config import Settings
from controller.db.models import CwAlarm
from controller.db.reader import Reader
from controller.ec2 import errors as ec2_errors
from controller.ec2.context import RequestContext
from controller.ec2.endpoint import LATEST_VERSION
from controller.ec2.instances import reboot_instances, stop_instances, terminate_instances
from controller.ec2.registry import Result

EC2_ACTION = re.compile(r"arn:aws:automate:(?P<region>[a-z0-9-]+):ec2:(?P<verb>stop|terminate|"
                        r"reboot|recover)")
SWF_ACTION = re.compile(r"arn:aws:swf:(?P<region>[a-z0-9-]+):\d{12}:action/actions/"
                        r"AWS_EC2\.InstanceId\.(?P<verb>Stop|Terminate|Reboot)/1\.0")

_HANDLERS: dict[str, Callable[[RequestContext, dict[str, Any]], Result]] = {
    "stop": stop_instances, "terminate": terminate_instances, "reboot": reboot_instances,
    "recover": reboot_instances,  # one host here: recovering is restarting the guest
}


@dataclass(frozen=True)
class Ec2Action:
    region: str
    verb: str


def ec2_action(arn: str) -> Ec2Action | None:
    """The EC2 action an ARN names, or None for any other kind of action."""
    match = EC2_ACTION.fullmatch(arn) or SWF_ACTION.fullmatch(arn)
    if match is None:
        return None
    return Ec2Action(match["region"], match["verb"].lower())


def instance_of(alarm_definition: dict[str, Any]) -> str | None:
    for dim in alarm_definition.get("Dimensions") or []:
        if dim["Name"] == "InstanceId":
            return str(dim["Value"])
    return None


def run_actions(session: Session, settings: Settings, alarm: CwAlarm, state: str,
                now: datetime) -> None:
    """Execute the actions of ``state`` (if the alarm's actions are enabled)."""
    if not alarm.actions_enabled:
        return
    spec = definition(alarm)
    key = {"ALARM": "AlarmActions", "OK": "OKActions"}.get(state, "InsufficientDataActions")
    for arn in spec.get(key) or []:
        action = ec2_action(arn)
        instance_id = instance_of(spec)
        if action is None or instance_id is None:
            record(session, alarm, "Action", f"Failed to execute action {arn}",
                   {"actionState": "Failed", "notificationResource": arn,
                    "error": "This action has no target in this cloud."}, now)
            continue
        outcome = _ec2(session, settings, alarm.account_id, action.verb, instance_id)
        summary = (f"Successfully executed action {arn}" if outcome is None
                   else f"Failed to execute action {arn}")
        data: dict[str, Any] = {"actionState": "Succeeded" if outcome is None else "Failed",
                                "notificationResource": arn}
        if outcome is not None:
            data["error"] = outcome
        record(session, alarm, "Action", summary, data, now)


def _ec2(session: Session, settings: Settings, account_id: str, verb: str,
         instance_id: str) -> str | None:
    """Run one EC2 action in a savepoint; None on success, else the EC2 error message."""
    ctx = RequestContext(reader=Reader.of_session(session), open_session=lambda: session,
                         settings=settings, account_id=account_id, user_id="cloudwatch",
                         request_id=ids.new_request_id(), api_version=LATEST_VERSION)
    nested = session.begin_nested()
    try:
        _HANDLERS[verb](ctx, {"InstanceIds": [instance_id]})
        session.flush()
    except ec2_errors.Ec2Error as exc:
        nested.rollback()
        return f"{exc.code}: {exc.message}"
    nested.commit()
    return None
