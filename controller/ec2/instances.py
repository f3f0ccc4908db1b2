"""DescribeInstances, TerminateInstances, Stop/Start/RebootInstances, GetConsoleOutput,
DescribeInstanceStatus. The handlers only change rows; the reconciler talks to the nodes."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from controller import ids
from controller.db.models import Instance, Reservation, Volume
from controller.ec2 import errors
from controller.ec2 import instance_states as states
from controller.ec2.addresses import private_dns_name
from controller.ec2.context import RequestContext
from controller.ec2.filters import apply_filters
from controller.ec2.instances_view import (
    FILTERS,
    describe_instance,
    describe_reservation,
    groups_of,
    state_of,
)
from controller.ec2.pagination import check_max_results, decode_token, paginate
from controller.ec2.registry import Params, Result, action
from controller.ec2.tagging import tags_by_resource


def check_instance_ids(values: Sequence[str]) -> list[str]:
    for value in values:
        if not ids.is_resource_id(value, "i"):
            raise errors.InvalidInstanceIDMalformed(f'Invalid id: "{value[:64]}"')
    return list(dict.fromkeys(values))


def _not_found(missing: Sequence[str]) -> errors.InvalidInstanceIDNotFound:
    if len(missing) == 1:
        return errors.InvalidInstanceIDNotFound(f"The instance ID '{missing[0]}' does not exist")
    return errors.InvalidInstanceIDNotFound(
        f"The instance IDs '{', '.join(missing)}' do not exist")


def _visible_since(ctx: RequestContext) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=ctx.settings.terminated_visible_seconds)


def _query(ctx: RequestContext, instance_ids: Sequence[str], for_update: bool = False) -> Any:
    query = select(Instance).where(
        Instance.account_id == ctx.account_id,
        or_(Instance.state != states.TERMINATED, Instance.state_changed_at >= _visible_since(ctx)))
    if instance_ids:
        query = query.where(Instance.id.in_(instance_ids))
    return query.with_for_update() if for_update else query


def owned_instances(ctx: RequestContext, instance_ids: Sequence[str]) -> list[Instance]:
    """The caller's instances, in the order asked, locked; all exist or ``NotFound``."""
    wanted = check_instance_ids(instance_ids)
    if not wanted:
        raise errors.MissingParameter("The request must contain the parameter InstanceId")
    found = {i.id: i for i in ctx.session.scalars(_query(ctx, wanted, for_update=True))}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise _not_found(missing)
    return [found[i] for i in wanted]


def _tokens(session: Session, reservation_ids: Sequence[str]) -> dict[str, Reservation]:
    if not reservation_ids:
        return {}
    rows = session.scalars(select(Reservation).where(Reservation.id.in_(list(reservation_ids))))
    return {r.id: r for r in rows}


def attached_volumes(session: Session, instance_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each instance's attached EBS volumes as ``BlockDeviceMappings`` entries."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not instance_ids:
        return out
    rows = session.scalars(select(Volume).where(
        Volume.instance_id.in_(instance_ids), Volume.attach_state.is_not(None)
    ).order_by(Volume.device))
    for volume in rows:
        assert volume.instance_id is not None
        out.setdefault(volume.instance_id, []).append({
            "DeviceName": volume.device, "Ebs": {
                "VolumeId": volume.id, "Status": volume.attach_state,
                "AttachTime": volume.attach_time or volume.state_changed_at,
                "DeleteOnTermination": volume.delete_on_termination}})
    return out


def _group(ctx: RequestContext, instances: Sequence[Instance]) -> list[dict[str, Any]]:
    """Instances grouped into their reservations, in the order first seen."""
    tags = tags_by_resource(ctx.session, ctx.account_id, [i.id for i in instances])
    volumes = attached_volumes(ctx.session, [i.id for i in instances])
    reservations = _tokens(ctx.session, list(dict.fromkeys(i.reservation_id for i in instances)))
    grouped: dict[str, list[Instance]] = {}
    for instance in instances:
        grouped.setdefault(instance.reservation_id, []).append(instance)
    out = []
    for rid, members in grouped.items():
        reservation = reservations[rid]
        shown = [describe_instance(i, tags[i.id], ctx.settings.region, reservation.client_token,
                                   volumes.get(i.id, []))
                 for i in sorted(members, key=lambda i: i.launch_index)]
        out.append(describe_reservation(rid, reservation.account_id, reservation.requester_id,
                                        shown, groups_of(members[0])))
    return out


def describe_reservations(ctx: RequestContext, reservation_ids: Sequence[str]) -> list[dict[str, Any]]:
    ctx.session.flush()
    instances = list(ctx.session.scalars(select(Instance).where(
        Instance.reservation_id.in_(list(reservation_ids))).order_by(Instance.launch_index)))
    return _group(ctx, instances)


def _filtered(ctx: RequestContext, params: Params, wanted: list[str]) -> list[Instance]:
    """The instances asked for, in id order. Without InstanceIds the page's keyset is applied
    in SQL (ids after NextToken), and without filters so is its length: a page of 1,000 out of
    10,000 loads about 1,000 rows, not 10,000. :func:`paginate` then cuts the same page."""
    filters = params.get("Filters")
    query = _query(ctx, wanted).order_by(Instance.id)
    if not wanted:
        max_results = params.get("MaxResults")
        check_max_results(max_results)
        if params.get("NextToken"):
            query = query.where(Instance.id > decode_token(params["NextToken"]))
        if not filters and max_results is not None:
            query = query.limit(max_results + 1)
    instances = list(ctx.session.scalars(query))
    missing = [i for i in wanted if i not in {x.id for x in instances}]
    if missing:
        raise _not_found(missing)
    if not filters:
        return instances
    tags: dict[str, dict[str, str]] = {}

    def tags_of(instance: Instance) -> dict[str, str]:  # read only when a tag filter asks
        if not tags:
            tags.update(tags_by_resource(ctx.session, ctx.account_id, [i.id for i in instances]))
        return tags[instance.id]

    region = ctx.settings.region
    spec = {**FILTERS, "private-dns-name": lambda i: private_dns_name(i.private_ip, region)}
    return apply_filters(instances, filters, spec, tags_of)


@action("DescribeInstances", mutating=False)
def describe_instances(ctx: RequestContext, params: Params) -> Result:
    wanted = check_instance_ids(params.get("InstanceIds") or [])
    if wanted and params.get("MaxResults") is not None:
        raise errors.InvalidParameterCombination(
            "The parameter instancesSet cannot be used with the parameter maxResults")
    instances = _filtered(ctx, params, wanted)
    page, token = paginate(instances, lambda i: i.id, params.get("MaxResults"),
                           params.get("NextToken"))
    result: dict[str, Any] = {"Reservations": _group(ctx, page)}
    if token:
        result["NextToken"] = token
    return result


def _change(instance: Instance, state: str, reason: str | None, now: datetime,
            transition: str | None = None) -> None:
    instance.state = state
    instance.state_changed_at = now
    if reason is not None:
        instance.state_reason_code = reason
        instance.state_reason_message = states.REASON_MESSAGES.get(reason, reason)
    if transition is not None:
        instance.state_transition_reason = transition


def _state_change(instance: Instance, previous: dict[str, Any]) -> dict[str, Any]:
    return {"InstanceId": instance.id, "CurrentState": state_of(instance),
            "PreviousState": previous}


@action("TerminateInstances")
def terminate_instances(ctx: RequestContext, params: Params) -> Result:
    instances = owned_instances(ctx, params.get("InstanceIds") or [])
    for instance in instances:
        if instance.disable_api_termination:
            raise errors.OperationNotPermitted(
                f"The instance '{instance.id}' may not be terminated. Modify its "
                "'disableApiTermination' instance attribute and try again.")
    now = datetime.now(UTC)
    out = []
    for instance in instances:
        previous = state_of(instance)
        change = states.terminate(instance.state)
        if change.state is not None:
            _change(instance, change.state, change.reason_code, now, states.user_initiated(now))
        out.append(_state_change(instance, previous))
    return {"TerminatingInstances": out}


@action("StopInstances")
def stop_instances(ctx: RequestContext, params: Params) -> Result:
    instances = owned_instances(ctx, params.get("InstanceIds") or [])
    now = datetime.now(UTC)
    out = []
    for instance in instances:
        if instance.root_device_type != "ebs":
            raise errors.UnsupportedOperation(
                f"The instance '{instance.id}' does not have an 'ebs' root device type and "
                "cannot be stopped.")
        previous = state_of(instance)
        try:
            change = states.stop(instance.state, instance.root_device_type)
        except states.TransitionRefused:
            raise errors.IncorrectInstanceState(
                f"This instance '{instance.id}' is not in a state from which it can be "
                "stopped.") from None
        if change.state is not None:
            _change(instance, change.state, change.reason_code, now, states.user_initiated(now))
        out.append(_state_change(instance, previous))
    return {"StoppingInstances": out}


@action("StartInstances")
def start_instances(ctx: RequestContext, params: Params) -> Result:
    instances = owned_instances(ctx, params.get("InstanceIds") or [])
    now = datetime.now(UTC)
    out = []
    for instance in instances:
        previous = state_of(instance)
        try:
            change = states.start(instance.state)
        except states.TransitionRefused:
            raise errors.IncorrectInstanceState(
                f"The instance '{instance.id}' is not in a state from which it can be "
                "started.") from None
        if change.state is not None:
            _change(instance, change.state, None, now, "")
            instance.state_reason_code = instance.state_reason_message = None
        out.append(_state_change(instance, previous))
    return {"StartingInstances": out}


@action("RebootInstances")
def reboot_instances(ctx: RequestContext, params: Params) -> Result:
    instances = owned_instances(ctx, params.get("InstanceIds") or [])
    for instance in instances:
        try:
            wanted = states.reboot(instance.state)
        except states.TransitionRefused:
            raise errors.IncorrectInstanceState(
                f"The instance '{instance.id}' is not in a state from which it can be "
                "rebooted.") from None
        if wanted:
            instance.reboot_requested = True
    return {}


@action("GetConsoleOutput")
def get_console_output(ctx: RequestContext, params: Params) -> Result:
    """What the reconciler last fetched from the node; asking makes it fetch again (EC2's
    console output, too, lags behind the guest)."""
    instance = owned_instances(ctx, [params["InstanceId"]])[0]
    now = datetime.now(UTC)
    instance.console_wanted_at = now
    result: dict[str, Any] = {"InstanceId": instance.id, "Timestamp": instance.console_at or now}
    if instance.console_output:
        result["Output"] = base64.b64encode(instance.console_output[-64 * 1024:]).decode()
    return result


_STATUS_FILTERS = {
    "availability-zone": lambda i: i.availability_zone,
    "instance-state-name": lambda i: i.state,
    "instance-state-code": lambda i: states.CODES[i.state],
}


@action("DescribeInstanceStatus", mutating=False)
def describe_instance_status(ctx: RequestContext, params: Params) -> Result:
    wanted = check_instance_ids(params.get("InstanceIds") or [])
    instances = list(ctx.session.scalars(_query(ctx, wanted)))
    missing = [i for i in wanted if i not in {x.id for x in instances}]
    if missing:
        raise _not_found(missing)
    if not params.get("IncludeAllInstances"):
        instances = [i for i in instances if i.state == states.RUNNING]
    instances = apply_filters(instances, params.get("Filters"), _STATUS_FILTERS)
    page, token = paginate(instances, lambda i: i.id, params.get("MaxResults"),
                           params.get("NextToken"))
    result: dict[str, Any] = {"InstanceStatuses": [_status(i) for i in page]}
    if token:
        result["NextToken"] = token
    return result


def _status(instance: Instance) -> dict[str, Any]:
    running = instance.state == states.RUNNING
    check = "ok" if running else "not-applicable"
    detail = [{"Name": "reachability", "Status": "passed" if running else "initializing"}]
    return {"InstanceId": instance.id, "AvailabilityZone": instance.availability_zone,
            "InstanceState": state_of(instance),
            "InstanceStatus": {"Status": check, "Details": detail if running else []},
            "SystemStatus": {"Status": check, "Details": detail if running else []}}
