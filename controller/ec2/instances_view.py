"""How an instance is shown: the ``Instance`` and ``Reservation`` shapes, and the filters."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from controller.db.models import Instance
from controller.ec2.addresses import private_dns_name
from controller.ec2.instance_states import CODES, REASON_MESSAGES
from controller.ec2.tagging import as_tag_list


def state_of(instance: Instance) -> dict[str, Any]:
    return {"Code": CODES[instance.state], "Name": instance.state}


@lru_cache(maxsize=1024)
def _decoded(text: str) -> Any:
    """A stored JSON column, parsed once: a page of 1,000 instances holds a handful of
    distinct group sets and metadata options. Callers get copies, never the cached value."""
    return json.loads(text)


def groups_of(instance: Instance) -> list[dict[str, str]]:
    return [dict(group) for group in _decoded(instance.security_groups)]


def metadata_options(instance: Instance) -> dict[str, Any]:
    return dict(_decoded(instance.metadata_options))


def describe_instance(instance: Instance, tags: dict[str, str], region: str,
                      client_token: str | None,
                      block_devices: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "InstanceId": instance.id,
        "ImageId": instance.image_id,
        "State": state_of(instance),
        "PrivateDnsName": private_dns_name(instance.private_ip, region),
        "PublicDnsName": "",
        "StateTransitionReason": instance.state_transition_reason,
        "AmiLaunchIndex": instance.launch_index,
        "ProductCodes": [],
        "InstanceType": instance.instance_type,
        "LaunchTime": instance.launch_time,
        "Placement": {"AvailabilityZone": instance.availability_zone, "GroupName": "",
                      "Tenancy": "default"},
        "Monitoring": {"State": "enabled" if instance.monitoring else "disabled"},
        "Architecture": instance.architecture,
        "RootDeviceType": instance.root_device_type,
        "BlockDeviceMappings": block_devices or [],
        "VirtualizationType": "paravirtual" if instance.kernel_id else "hvm",
        "Hypervisor": "xen",
        "SecurityGroups": groups_of(instance),
        "Tags": as_tag_list(tags),
        "EbsOptimized": False,
        "CpuOptions": {"CoreCount": instance.vcpus, "ThreadsPerCore": 1},
        "MetadataOptions": {"State": "applied", **metadata_options(instance)},
    }
    optional = {"KeyName": instance.key_name, "KernelId": instance.kernel_id,
                "RamdiskId": instance.ramdisk_id, "PrivateIpAddress": instance.private_ip,
                "RootDeviceName": instance.root_device_name, "ClientToken": client_token}
    item.update({k: v for k, v in optional.items() if v})
    if instance.state_reason_code:
        item["StateReason"] = {"Code": instance.state_reason_code,
                               "Message": instance.state_reason_message
                               or REASON_MESSAGES.get(instance.state_reason_code, "")}
    return item


def describe_reservation(reservation_id: str, owner_id: str, requester_id: str,
                         instances: Sequence[dict[str, Any]],
                         groups: list[dict[str, str]]) -> dict[str, Any]:
    return {"ReservationId": reservation_id, "OwnerId": owner_id, "RequesterId": requester_id,
            "Groups": groups, "Instances": list(instances)}


_F = Callable[[Instance], object]

FILTERS: dict[str, _F] = {
    "instance-id": lambda i: i.id,
    "instance-state-name": lambda i: i.state,
    "instance-state-code": lambda i: CODES[i.state],
    "image-id": lambda i: i.image_id,
    "instance-type": lambda i: i.instance_type,
    "availability-zone": lambda i: i.availability_zone,
    "private-ip-address": lambda i: i.private_ip,
    "private-dns-name": lambda i: private_dns_name(i.private_ip, ""),
    "reservation-id": lambda i: i.reservation_id,
    "key-name": lambda i: i.key_name,
    "kernel-id": lambda i: i.kernel_id,
    "ramdisk-id": lambda i: i.ramdisk_id,
    "launch-index": lambda i: i.launch_index,
    "architecture": lambda i: i.architecture,
    "root-device-type": lambda i: i.root_device_type,
    "owner-id": lambda i: i.account_id,
    "group-id": lambda i: [g["GroupId"] for g in groups_of(i)],
    "group-name": lambda i: [g["GroupName"] for g in groups_of(i)],
    "instance.group-id": lambda i: [g["GroupId"] for g in groups_of(i)],
    "instance.group-name": lambda i: [g["GroupName"] for g in groups_of(i)],
    "monitoring-state": lambda i: "enabled" if i.monitoring else "disabled",
    "hypervisor": lambda i: "xen",
    "tenancy": lambda i: "default",
    "metadata-options.http-tokens": lambda i: metadata_options(i).get("HttpTokens"),
    "metadata-options.http-endpoint": lambda i: metadata_options(i).get("HttpEndpoint"),
    "state-reason-code": lambda i: i.state_reason_code,
}
