"""The metadata tree of one instance (pure): paths to text, with EC2's directory listings.

A directory's listing names its entries one per line, sub-directories with a trailing slash;
a path that names nothing is None (the service answers 404). ``identity_document`` is the JSON
of ``dynamic/instance-identity/document``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

Tree = dict[str, "str | Tree"]


@dataclass(frozen=True)
class InstanceFacts:
    instance_id: str
    image_id: str
    launch_index: int
    instance_type: str
    private_ip: str
    hostname: str
    mac: str
    zone: str
    region: str
    reservation_id: str
    security_groups: tuple[str, ...]
    kernel_id: str | None
    ramdisk_id: str | None
    key_name: str | None
    public_key: str | None
    account_id: str = ""
    architecture: str = "x86_64"
    image_location: str = "(unknown)"
    root_device_name: str = "/dev/sda1"
    ephemeral: tuple[tuple[str, str], ...] = ()
    """(virtual name, device name) of the instance's ephemeral disks: ("ephemeral0", "/dev/sdb")."""
    group_ids: tuple[str, ...] = ()
    ebs: tuple[str, ...] = ()
    """Device names of the attached EBS volumes (``/dev/sdf``), listed as ``ebs1``, ``ebs2``..."""
    pending_time: str = ""
    """When the instance was launched, ``YYYY-MM-DDTHH:MM:SSZ``."""


def meta_data(facts: InstanceFacts) -> Tree:
    tree: Tree = {
        "ami-id": facts.image_id,
        "ami-launch-index": str(facts.launch_index),
        "ami-manifest-path": facts.image_location,
        "hostname": facts.hostname,
        "instance-action": "none",
        "instance-id": facts.instance_id,
        "instance-type": facts.instance_type,
        "local-hostname": facts.hostname,
        "local-ipv4": facts.private_ip,
        "mac": facts.mac,
        "placement": {"availability-zone": facts.zone, "region": facts.region},
        "reservation-id": facts.reservation_id,
        "security-groups": "\n".join(facts.security_groups),
        "network": {"interfaces": {"macs": {facts.mac: _interface(facts)}}},
        "block-device-mapping": _block_devices(facts),
    }
    if facts.kernel_id:
        tree["kernel-id"] = facts.kernel_id
    if facts.ramdisk_id:
        tree["ramdisk-id"] = facts.ramdisk_id
    if facts.key_name and facts.public_key:
        tree["public-keys"] = {"0": {"openssh-key": facts.public_key + "\n"}}
    return tree


def _interface(facts: InstanceFacts) -> Tree:
    """The one network interface (no VPC: no subnet-id or vpc-id, as on EC2-Classic)."""
    interface: Tree = {
        "device-number": "0", "local-hostname": facts.hostname, "local-ipv4s": facts.private_ip,
        "mac": facts.mac, "security-groups": "\n".join(facts.security_groups)}
    if facts.account_id:
        interface["owner-id"] = facts.account_id
    if facts.group_ids:
        interface["security-group-ids"] = "\n".join(facts.group_ids)
    return interface


def _block_devices(facts: InstanceFacts) -> Tree:
    """``ami`` and ``root`` are the root device; ephemeral devices and attached EBS volumes
    (``ebsN``) as EC2 shows them (``sdb``)."""
    devices: Tree = {"ami": facts.root_device_name, "root": facts.root_device_name}
    for virtual, device in facts.ephemeral:
        devices[virtual] = device.removeprefix("/dev/")
    for number, device in enumerate(facts.ebs, start=1):
        devices[f"ebs{number}"] = device.removeprefix("/dev/")
    return devices


def identity_document(facts: InstanceFacts) -> str:
    """The instance identity document, laid out as EC2 serves it (``"key" : value``)."""
    document = {
        "accountId": facts.account_id, "architecture": facts.architecture,
        "availabilityZone": facts.zone, "billingProducts": None, "devpayProductCodes": None,
        "marketplaceProductCodes": None, "imageId": facts.image_id,
        "instanceId": facts.instance_id, "instanceType": facts.instance_type,
        "kernelId": facts.kernel_id, "pendingTime": facts.pending_time,
        "privateIp": facts.private_ip, "ramdiskId": facts.ramdisk_id, "region": facts.region,
        "version": "2017-09-30"}
    return json.dumps(document, indent=2, separators=(",", " : "))


def _listing(node: Tree) -> str:
    return "\n".join(f"{k}/" if isinstance(v, dict) else k for k, v in sorted(node.items()))


def lookup(tree: Tree, path: str, key_name: str | None = None) -> str | None:
    """The text at ``path`` (relative to meta-data/), a listing for a directory, or None."""
    node: str | Tree = tree
    parts = [p for p in path.split("/") if p]
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, dict):
        if parts == ["public-keys"] and key_name:
            return f"0={key_name}"
        return _listing(node)
    if path.endswith("/"):
        return None
    return node
