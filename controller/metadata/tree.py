"""The metadata tree of one instance (pure): paths to text, with EC2's directory listings.

A directory's listing names its entries one per line, sub-directories with a trailing slash;
a path that names nothing is None (the service answers 404).
"""

from __future__ import annotations

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


def meta_data(facts: InstanceFacts) -> Tree:
    tree: Tree = {
        "ami-id": facts.image_id,
        "ami-launch-index": str(facts.launch_index),
        "ami-manifest-path": "(unknown)",
        "hostname": facts.hostname,
        "instance-action": "none",
        "instance-id": facts.instance_id,
        "instance-type": facts.instance_type,
        "local-hostname": facts.hostname,
        "local-ipv4": facts.private_ip,
        "mac": facts.mac,
        "placement": {"availability-zone": facts.zone, "region": facts.region},
        "public-hostname": "",
        "public-ipv4": "",
        "reservation-id": facts.reservation_id,
        "security-groups": "\n".join(facts.security_groups),
        "network": {"interfaces": {"macs": {facts.mac: {
            "local-hostname": facts.hostname, "local-ipv4s": facts.private_ip,
            "mac": facts.mac, "device-number": "0"}}}},
        "block-device-mapping": {"ami": "/dev/sda1", "root": "/dev/sda1"},
    }
    if facts.kernel_id:
        tree["kernel-id"] = facts.kernel_id
    if facts.ramdisk_id:
        tree["ramdisk-id"] = facts.ramdisk_id
    if facts.key_name and facts.public_key:
        tree["public-keys"] = {"0": {"openssh-key": facts.public_key + "\n"}}
    return tree


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
