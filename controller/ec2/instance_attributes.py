"""Describe/Modify/ResetInstanceAttribute and Monitor/UnmonitorInstances.

instanceType, userData, kernel and ramdisk change only while the instance is stopped (as on
EC2); disableApiTermination, instanceInitiatedShutdownBehavior and groupSet change at any time
before termination.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from controller.db.models import Instance
from controller.ec2 import errors
from controller.ec2 import instance_states as states
from controller.ec2.context import RequestContext
from controller.ec2.images_store import visible_image
from controller.ec2.instances import attached_volumes, owned_instances
from controller.ec2.instances_run import instance_type_spec, resolve_groups
from controller.ec2.instances_view import groups_of
from controller.ec2.registry import Params, Result, action
from controller.ec2.volume_attach import set_delete_on_termination

_DESCRIBE: dict[str, Callable[[Instance], tuple[str, Any]]] = {
    "instanceType": lambda i: ("InstanceType", {"Value": i.instance_type}),
    "kernel": lambda i: ("KernelId", {"Value": i.kernel_id} if i.kernel_id else {}),
    "ramdisk": lambda i: ("RamdiskId", {"Value": i.ramdisk_id} if i.ramdisk_id else {}),
    "userData": lambda i: ("UserData", {"Value": base64.b64encode(i.user_data).decode()}
                           if i.user_data else {}),
    "disableApiTermination": lambda i: ("DisableApiTermination",
                                        {"Value": i.disable_api_termination}),
    "instanceInitiatedShutdownBehavior": lambda i: ("InstanceInitiatedShutdownBehavior",
                                                    {"Value": i.shutdown_behavior}),
    "rootDeviceName": lambda i: ("RootDeviceName",
                                 {"Value": i.root_device_name} if i.root_device_name else {}),
    "blockDeviceMapping": lambda i: ("BlockDeviceMappings", []),
    "productCodes": lambda i: ("ProductCodes", []),
    "sourceDestCheck": lambda i: ("SourceDestCheck", {"Value": True}),
    "groupSet": lambda i: ("Groups", groups_of(i)),
    "ebsOptimized": lambda i: ("EbsOptimized", {"Value": False}),
    "disableApiStop": lambda i: ("DisableApiStop", {"Value": False}),
}
_WHILE_STOPPED = ("instanceType", "userData", "kernel", "ramdisk")
_STRUCTURED = {"DisableApiTermination": "disableApiTermination", "InstanceType": "instanceType",
               "Kernel": "kernel", "Ramdisk": "ramdisk", "UserData": "userData",
               "InstanceInitiatedShutdownBehavior": "instanceInitiatedShutdownBehavior",
               "Groups": "groupSet", "SourceDestCheck": "sourceDestCheck",
               "EbsOptimized": "ebsOptimized"}


def _attribute_name(value: str | None) -> str:
    if not value:
        raise errors.MissingParameter("The request must contain the parameter attribute")
    if value not in _DESCRIBE:
        raise errors.InvalidParameterValue(
            f"Value ({value[:64]}) for parameter attribute is invalid. Unknown attribute.")
    return value


@action("DescribeInstanceAttribute", mutating=False)
def describe_instance_attribute(ctx: RequestContext, params: Params) -> Result:
    name = _attribute_name(params.get("Attribute"))
    instance = owned_instances(ctx, [params["InstanceId"]])[0]
    key, value = _DESCRIBE[name](instance)
    if name == "blockDeviceMapping":
        value = attached_volumes(ctx.session, [instance.id]).get(instance.id, [])
    return {"InstanceId": instance.id, key: value}


def _requested(params: Params) -> tuple[str, Any]:
    """The one attribute a ModifyInstanceAttribute call changes, and its new value."""
    found: list[tuple[str, Any]] = []
    if params.get("Attribute") is not None:
        found.append((_attribute_name(params["Attribute"]), params.get("Value")))
    for member, name in _STRUCTURED.items():
        value = params.get(member)
        if value is not None and value != []:
            found.append((name, value if member == "Groups" else value.get("Value")))
    if params.get("BlockDeviceMappings"):
        found.append(("blockDeviceMapping", params["BlockDeviceMappings"]))
    if not found:
        raise errors.MissingParameter("The request must contain the parameter attribute")
    if len(found) > 1:
        raise errors.InvalidParameterCombination(
            "Fields for multiple attribute types specified: "
            + ", ".join(sorted(name for name, _ in found)))
    return found[0]


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise errors.InvalidParameterValue(f"Value ({str(value)[:32]}) for parameter value is invalid.")


@action("ModifyInstanceAttribute")
def modify_instance_attribute(ctx: RequestContext, params: Params) -> Result:
    instance = owned_instances(ctx, [params["InstanceId"]])[0]
    name, value = _requested(params)
    if instance.state == states.TERMINATED:
        raise errors.IncorrectInstanceState(f"The instance '{instance.id}' is terminated.")
    if name in _WHILE_STOPPED and instance.state != states.STOPPED:
        raise errors.IncorrectInstanceState(
            f"The instance '{instance.id}' is not in the 'stopped' state.")
    _MODIFY.get(name, _unsupported)(ctx, instance, value)
    return {}


def _unsupported(_ctx: RequestContext, _instance: Instance, _value: Any) -> None:
    raise errors.UnsupportedOperation("Modifying this attribute is not supported.")


def _set_type(ctx: RequestContext, instance: Instance, value: Any) -> None:
    spec = instance_type_spec(ctx, str(value or ""))
    instance.instance_type = spec.name
    instance.vcpus, instance.memory_mib, instance.disk_gib = spec.vcpus, spec.memory_mib, spec.disk_gib


def _set_image(kind: str) -> Callable[[RequestContext, Instance, Any], None]:
    def apply(ctx: RequestContext, instance: Instance, value: Any) -> None:
        image = visible_image(ctx.session, ctx.account_id, str(value or ""))
        if image.image_type != kind:
            raise errors.InvalidParameterValue(f"The image id '[{image.id}]' is not a {kind} image.")
        setattr(instance, f"{kind}_id", image.id)

    return apply


def _set_user_data(_ctx: RequestContext, instance: Instance, value: Any) -> None:
    raw = value if isinstance(value, bytes) else str(value or "").encode()
    if len(raw) > 16 * 1024:
        raise errors.InvalidParameterValue("User data is limited to 16384 bytes.")
    instance.user_data = raw


def _set_protect(_ctx: RequestContext, instance: Instance, value: Any) -> None:
    instance.disable_api_termination = _boolean(value)


def _set_behavior(_ctx: RequestContext, instance: Instance, value: Any) -> None:
    if value not in ("stop", "terminate"):
        raise errors.InvalidParameterValue(
            f"Value ({str(value)[:32]}) for parameter instanceInitiatedShutdownBehavior is invalid.")
    instance.shutdown_behavior = value


def _set_groups(ctx: RequestContext, instance: Instance, value: Any) -> None:
    group_ids = value if isinstance(value, list) else [value]
    instance.security_groups = json.dumps(resolve_groups(ctx, [], [str(g) for g in group_ids]))


def _set_source_dest(_ctx: RequestContext, _instance: Instance, value: Any) -> None:
    _boolean(value)  # accepted; flat networking has no source/destination check to turn off


_MODIFY: dict[str, Callable[[RequestContext, Instance, Any], None]] = {
    "instanceType": _set_type, "kernel": _set_image("kernel"), "ramdisk": _set_image("ramdisk"),
    "userData": _set_user_data, "disableApiTermination": _set_protect,
    "instanceInitiatedShutdownBehavior": _set_behavior, "groupSet": _set_groups,
    "sourceDestCheck": _set_source_dest, "blockDeviceMapping": set_delete_on_termination,
}


@action("ResetInstanceAttribute")
def reset_instance_attribute(ctx: RequestContext, params: Params) -> Result:
    name = _attribute_name(params.get("Attribute"))
    instance = owned_instances(ctx, [params["InstanceId"]])[0]
    if name not in ("kernel", "ramdisk", "sourceDestCheck"):
        raise errors.InvalidParameterValue(
            f"Value ({name}) for parameter attribute is invalid. Only kernel, ramdisk and "
            "sourceDestCheck can be reset.")
    if name in ("kernel", "ramdisk"):
        if instance.state != states.STOPPED:
            raise errors.IncorrectInstanceState(
                f"The instance '{instance.id}' is not in the 'stopped' state.")
        image = visible_image(ctx.session, ctx.account_id, instance.image_id)
        setattr(instance, f"{name}_id", getattr(image, f"{name}_id"))
    return {}


def _monitor(ctx: RequestContext, params: Params, enabled: bool) -> Result:
    instances = owned_instances(ctx, params.get("InstanceIds") or [])
    out = []
    for instance in instances:
        instance.monitoring = enabled
        out.append({"InstanceId": instance.id,
                    "Monitoring": {"State": "enabled" if enabled else "disabled"}})
    return {"InstanceMonitorings": out}


@action("MonitorInstances")
def monitor_instances(ctx: RequestContext, params: Params) -> Result:
    return _monitor(ctx, params, True)


@action("UnmonitorInstances")
def unmonitor_instances(ctx: RequestContext, params: Params) -> Result:
    return _monitor(ctx, params, False)
