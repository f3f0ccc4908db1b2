"""RunInstances: check the request, place the instances, record them ``pending``.

The reconciler (``controller/ec2/instance_reconciler.py``) then sends the run commands to the
chosen nodes; nothing here talks to a node.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from controller import ids
from controller.db.models import Image, Instance, KeyPair, Reservation, SecurityGroup
from controller.ec2 import errors
from controller.ec2.addresses import allocate, mac_of
from controller.ec2.context import RequestContext
from controller.ec2.idempotency import check_same_request, client_token, request_digest
from controller.ec2.images_store import visible_image
from controller.ec2.instance_devices import launch_mappings
from controller.ec2.instance_states import PENDING
from controller.ec2.instance_type_catalog import InstanceTypeSpec
from controller.ec2.instance_volumes import launch_volume_mappings, record_launch_volumes
from controller.ec2.instances import describe_reservations
from controller.ec2.placement_claim import lock_healthy_nodes, rooms
from controller.ec2.registry import Params, Result, action
from controller.ec2.scheduler import Demand, place
from controller.ec2.security_groups_store import check_group_id
from controller.ec2.tagging import set_tags, tags_from_specifications

MAX_USER_DATA = 16 * 1024
MAX_COUNT = 1000
DEFAULT_TYPE = "m1.small"


def _count(params: Params) -> tuple[int, int]:
    low, high = params.get("MinCount"), params.get("MaxCount")
    if low is None:
        raise errors.MissingParameter("The request must contain the parameter MinCount")
    if high is None:
        raise errors.MissingParameter("The request must contain the parameter MaxCount")
    if low < 1:
        raise errors.InvalidParameterValue(
            f"Value ({low}) for parameter minCount is invalid. Expected a positive integer.")
    if high < 1:
        raise errors.InvalidParameterValue(
            f"Value ({high}) for parameter maxCount is invalid. Expected a positive integer.")
    if low > high:
        raise errors.InvalidParameterValue(
            "MinCount must be less than or equal to MaxCount")
    if low > MAX_COUNT:
        raise errors.InvalidParameterValue(f"MinCount may not exceed {MAX_COUNT}")
    return low, min(high, MAX_COUNT)


def instance_type_spec(ctx: RequestContext, name: str | None) -> InstanceTypeSpec:
    wanted = name or DEFAULT_TYPE
    for spec in ctx.settings.instance_types:
        if spec.name == wanted:
            return spec
    raise errors.InvalidParameterValue(f"Invalid value '{wanted[:64]}' for InstanceType.")


def _user_data(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        raw = base64.b64decode(value.encode(), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise errors.InvalidParameterValue("Invalid BASE64 encoding of user data.") from None
    if len(raw) > MAX_USER_DATA:
        raise errors.InvalidParameterValue(
            f"User data is limited to {MAX_USER_DATA} bytes (got {len(raw)}).")
    return raw


def _machine_image(ctx: RequestContext, image_id: str | None) -> Image:
    if not image_id:
        raise errors.MissingParameter("The request must contain the parameter ImageId")
    image = visible_image(ctx.session, ctx.account_id, image_id)
    if image.image_type != "machine":
        raise errors.InvalidParameterValue(
            f"The image id '[{image_id}]' is not a machine image (ami-).")
    if image.state != "available":
        raise errors.InvalidAMIIDUnavailable(f"Image {image_id} is not available")
    return image


def _part_image(ctx: RequestContext, image_id: str | None, kind: str) -> str | None:
    if not image_id:
        return None
    image = visible_image(ctx.session, ctx.account_id, image_id)
    if image.image_type != kind:
        raise errors.InvalidParameterValue(f"The image id '[{image_id}]' is not a {kind} image.")
    return image.id


def _key(ctx: RequestContext, name: str | None) -> KeyPair | None:
    if not name:
        return None
    pair = ctx.session.scalar(select(KeyPair).where(KeyPair.account_id == ctx.account_id,
                                                    KeyPair.name == name))
    if pair is None:
        raise errors.InvalidKeyPairNotFound(f"The key pair '{name[:255]}' does not exist")
    return pair


def resolve_groups(ctx: RequestContext, names: list[str], group_ids: list[str]) -> list[dict[str, str]]:
    found: list[SecurityGroup] = []
    base = select(SecurityGroup).where(SecurityGroup.account_id == ctx.account_id)
    for gid in group_ids:
        check_group_id(gid)
        group = ctx.session.scalar(base.where(SecurityGroup.id == gid))
        if group is None:
            raise errors.InvalidGroupNotFound(f"The security group '{gid}' does not exist")
        found.append(group)
    for name in names or ([] if group_ids else ["default"]):
        group = ctx.session.scalar(base.where(SecurityGroup.name == name))
        if group is None:
            raise errors.InvalidGroupNotFound(
                f"The security group '{name[:255]}' does not exist in default VPC 'none'")
        found.append(group)
    unique = {g.id: g for g in found}
    return [{"GroupName": g.name, "GroupId": g.id} for g in unique.values()]


def _metadata_options(value: dict[str, Any] | None) -> dict[str, Any]:
    value = value or {}
    tokens = value.get("HttpTokens") or "optional"
    endpoint = value.get("HttpEndpoint") or "enabled"
    hops = value.get("HttpPutResponseHopLimit") or 1
    if tokens not in ("optional", "required"):
        raise errors.InvalidParameterValue(f"Value ({tokens[:32]}) for parameter HttpTokens is invalid.")
    if endpoint not in ("enabled", "disabled"):
        raise errors.InvalidParameterValue(
            f"Value ({endpoint[:32]}) for parameter HttpEndpoint is invalid.")
    if not 1 <= hops <= 64:
        raise errors.InvalidParameterValue(
            f"Value ({hops}) for parameter HttpPutResponseHopLimit is invalid.")
    return {"HttpTokens": tokens, "HttpEndpoint": endpoint, "HttpPutResponseHopLimit": hops}


def _zone(ctx: RequestContext, params: Params) -> str | None:
    zone = (params.get("Placement") or {}).get("AvailabilityZone")
    if zone and zone not in ctx.settings.zones:
        raise errors.InvalidParameterValue(f"Invalid availability zone: [{zone[:64]}]")
    return zone or None


def _replay(ctx: RequestContext, token: str, digest: str) -> Result | None:
    """The reservation an earlier call with this ClientToken made, if any."""
    reservation = ctx.session.scalar(select(Reservation).where(
        Reservation.account_id == ctx.account_id, Reservation.client_token == token))
    if reservation is None:
        return None
    check_same_request(reservation.request_digest, digest)
    return describe_reservations(ctx, [reservation.id])[0]


@action("RunInstances")
def run_instances(ctx: RequestContext, params: Params) -> Result:
    low, high = _count(params)
    token = client_token(params)
    digest = request_digest(params)
    if token:
        replayed = _replay(ctx, token, digest)
        if replayed is not None:
            return replayed
    plan = _plan(ctx, params)
    reservation = Reservation(id=ids.new_resource_id("r"), account_id=ctx.account_id,
                              requester_id=ctx.user_id, client_token=token or None,
                              request_digest=digest)
    ctx.session.add(reservation)
    nodes = _claim(ctx, plan["type"], plan["zone"], low, high)
    _record(ctx, reservation, plan, nodes, low)
    return describe_reservations(ctx, [reservation.id])[0]


def _plan(ctx: RequestContext, params: Params) -> dict[str, Any]:
    image = _machine_image(ctx, params.get("ImageId"))
    itype = instance_type_spec(ctx, params.get("InstanceType"))
    if image.architecture not in itype.architectures:
        raise errors.InvalidParameterValue(
            f"The instance type '{itype.name}' does not support the architecture "
            f"'{image.architecture}' of image '{image.id}'.")
    behavior = params.get("InstanceInitiatedShutdownBehavior") or "stop"
    if behavior not in ("stop", "terminate"):
        raise errors.InvalidParameterValue(
            f"Value ({behavior[:32]}) for parameter instanceInitiatedShutdownBehavior is invalid.")
    specs = params.get("TagSpecifications") or []
    for spec in specs:
        if spec.get("ResourceType") not in ("instance", "volume", "network-interface"):
            raise errors.InvalidParameterValue(
                f"'{spec.get('ResourceType')}' is not a valid taggable resource type for this "
                "operation.")
    tags = tags_from_specifications([s for s in specs if s.get("ResourceType") == "instance"],
                                    "instance")
    volume_tags = tags_from_specifications(
        [s for s in specs if s.get("ResourceType") == "volume"], "volume")
    pair = _key(ctx, params.get("KeyName"))
    requested = params.get("BlockDeviceMappings") or []
    devices = launch_mappings([m for m in requested if m.get("Ebs") is None],
                              [m for m in json.loads(image.block_device_mappings)
                               if m.get("Ebs") is None],
                              image.root_device_name or "/dev/sda1",
                              itype.disk_gib)
    return {
        "devices": devices, "volumes": launch_volume_mappings(ctx, image, requested),
        "volume_tags": volume_tags,
        "image": image, "type": itype, "zone": _zone(ctx, params), "tags": tags, "key": pair,
        # The image's own kernel and ramdisk come with it on its owner's authority (a public
        # image's private aki/ari launch for everyone); an override must be visible to the caller.
        "kernel_id": _part_image(ctx, params.get("KernelId"), "kernel") or image.kernel_id,
        "ramdisk_id": _part_image(ctx, params.get("RamdiskId"), "ramdisk") or image.ramdisk_id,
        "groups": resolve_groups(ctx, params.get("SecurityGroups") or [],
                          params.get("SecurityGroupIds") or []),
        "user_data": _user_data(params.get("UserData")),
        "behavior": behavior,
        "metadata": _metadata_options(params.get("MetadataOptions")),
        "monitoring": bool((params.get("Monitoring") or {}).get("Enabled")),
        "protect": bool(params.get("DisableApiTermination")),
    }


def _claim(ctx: RequestContext, itype: InstanceTypeSpec, zone: str | None, low: int,
           high: int) -> list[tuple[str, str]]:
    """(node id, zone) for each instance to launch, or ``InsufficientInstanceCapacity``."""
    settings = ctx.settings
    snapshot = rooms(ctx.session, lock_healthy_nodes(ctx.session), settings.zones,
                     settings.node_zones)
    chosen = place(snapshot, Demand(itype.vcpus, itype.memory_mib, itype.disk_gib), zone, low,
                   high, settings.placement_policy)
    if not chosen:
        where = f" ({zone})" if zone else ""
        raise errors.InsufficientInstanceCapacity(
            f"We currently do not have sufficient {itype.name} capacity in the Availability "
            f"Zone you requested{where}. Our system will be working on provisioning additional "
            "capacity.")
    zone_by_node = {room.node_id: room.zone for room in snapshot}
    return [(node_id, zone_by_node[node_id]) for node_id in chosen]


def _record(ctx: RequestContext, reservation: Reservation, plan: dict[str, Any],
            nodes: list[tuple[str, str]], low: int) -> None:
    # a reservation is in one zone; its addresses come from that zone's subnet
    addresses = allocate(ctx.session, ctx.settings.subnet_of(nodes[0][1]), len(nodes))
    if len(addresses) < low:
        raise errors.InsufficientFreeAddressesInSubnet(
            "There are not enough free addresses in the subnet to satisfy the requested "
            "number of instances.")
    image: Image = plan["image"]
    itype: InstanceTypeSpec = plan["type"]
    pair: KeyPair | None = plan["key"]
    now = datetime.now(UTC)
    made: dict[str, str] = {}
    volumes: dict[str, str] = {}
    for index, ((node_id, zone), address) in enumerate(zip(nodes, addresses, strict=False)):
        instance = Instance(
            id=ids.new_resource_id("i"), account_id=ctx.account_id,
            reservation_id=reservation.id, launch_index=index, image_id=image.id,
            kernel_id=plan["kernel_id"], ramdisk_id=plan["ramdisk_id"], instance_type=itype.name,
            vcpus=itype.vcpus, memory_mib=itype.memory_mib, disk_gib=itype.disk_gib,
            architecture=image.architecture, root_device_type=image.root_device_type,
            root_device_name=image.root_device_name, state=PENDING, state_transition_reason="",
            reboot_requested=False, key_name=pair.name if pair else None,
            public_key=pair.public_key if pair else None,
            security_groups=json.dumps(plan["groups"]), user_data=plan["user_data"],
            availability_zone=zone, node_id=node_id, private_ip=address, mac=mac_of(address),
            disable_api_termination=plan["protect"], shutdown_behavior=plan["behavior"],
            metadata_options=json.dumps(plan["metadata"]), monitoring=plan["monitoring"],
            block_device_mappings=json.dumps(plan["devices"]),
            launch_time=now, state_changed_at=now)
        ctx.session.add(instance)
        made[instance.id] = "instance"
        for volume_id in record_launch_volumes(ctx.session, ctx.settings, instance,
                                               plan["volumes"], now):
            volumes[volume_id] = "volume"
    try:
        ctx.session.flush()
    except IntegrityError:
        raise errors.InsufficientInstanceCapacity(
            "Another launch took the same resources; try again.") from None
    if plan["tags"]:
        set_tags(ctx.session, ctx.account_id, made, plan["tags"])
    if plan["volume_tags"] and volumes:
        set_tags(ctx.session, ctx.account_id, volumes, plan["volume_tags"])
