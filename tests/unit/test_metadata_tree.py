"""The metadata tree: listings, leaves, 404s, the identity document."""

from __future__ import annotations

import dataclasses
import json

from controller.metadata.tree import InstanceFacts, identity_document, lookup, meta_data

FACTS = InstanceFacts("i-0123456789abcdef0", "ami-0123456789abcdef0", 0, "m1.small",
                      "10.77.0.2", "ip-10-77-0-2", "d0:0d:0a:4d:00:02", "us-east-1a",
                      "us-east-1", "r-0123456789abcdef0", ("default", "web"), "aki-01234567",
                      None, "mykey", "ssh-ed25519 AAAA", account_id="123456789012",
                      image_location="images/machine.manifest.xml",
                      ephemeral=(("ephemeral0", "/dev/sdb"), ("ephemeral1", "/dev/sdc")),
                      group_ids=("sg-01234567", "sg-89abcdef"),
                      pending_time="2026-11-21T06:00:00Z")


def test_leaves_and_listings() -> None:
    tree = meta_data(FACTS)
    assert lookup(tree, "instance-id") == FACTS.instance_id
    assert lookup(tree, "security-groups") == "default\nweb"
    assert lookup(tree, "placement/availability-zone") == "us-east-1a"
    assert lookup(tree, "placement/") == "availability-zone\nregion"
    assert lookup(tree, "placement") == "availability-zone\nregion"
    assert lookup(tree, "public-keys/", "mykey") == "0=mykey"
    assert lookup(tree, "public-keys/0/") == "openssh-key"
    assert lookup(tree, "public-keys/0/openssh-key") == "ssh-ed25519 AAAA\n"
    assert lookup(tree, "ami-manifest-path") == "images/machine.manifest.xml"
    assert lookup(tree, "instance-action") == "none"
    assert lookup(tree, "ami-launch-index") == "0"


def test_root_listing_is_ec2s() -> None:
    listing = lookup(meta_data(FACTS), "")
    assert listing is not None
    assert listing.splitlines() == [
        "ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/", "hostname",
        "instance-action", "instance-id", "instance-type", "kernel-id", "local-hostname",
        "local-ipv4", "mac", "network/", "placement/", "public-keys/", "reservation-id",
        "security-groups"]
    # no public address on this cloud: absent, as on EC2 for an instance without one
    assert lookup(meta_data(FACTS), "public-ipv4") is None
    assert lookup(meta_data(FACTS), "public-hostname") is None


def test_block_device_mapping() -> None:
    tree = meta_data(FACTS)
    assert lookup(tree, "block-device-mapping/") == "ami\nephemeral0\nephemeral1\nroot"
    assert lookup(tree, "block-device-mapping/ami") == "/dev/sda1"
    assert lookup(tree, "block-device-mapping/root") == "/dev/sda1"
    assert lookup(tree, "block-device-mapping/ephemeral1") == "sdc"


def test_attached_volumes_are_ebs_n() -> None:
    tree = meta_data(dataclasses.replace(FACTS, ebs=("/dev/sdf", "xvdg")))
    assert lookup(tree, "block-device-mapping/") == \
        "ami\nebs1\nebs2\nephemeral0\nephemeral1\nroot"
    assert lookup(tree, "block-device-mapping/ebs1") == "sdf"
    assert lookup(tree, "block-device-mapping/ebs2") == "xvdg"
    assert lookup(tree, "block-device-mapping/ebs3") is None


def test_network_interface() -> None:
    tree = meta_data(FACTS)
    assert lookup(tree, "network/") == "interfaces/"
    assert lookup(tree, "network/interfaces/macs/") == "d0:0d:0a:4d:00:02/"
    mac = "network/interfaces/macs/d0:0d:0a:4d:00:02/"
    assert lookup(tree, mac) == ("device-number\nlocal-hostname\nlocal-ipv4s\nmac\nowner-id\n"
                                 "security-group-ids\nsecurity-groups")
    assert lookup(tree, mac + "owner-id") == "123456789012"
    assert lookup(tree, mac + "security-group-ids") == "sg-01234567\nsg-89abcdef"
    assert lookup(tree, mac + "subnet-id") is None


def test_not_found() -> None:
    tree = meta_data(FACTS)
    assert lookup(tree, "nothing") is None
    assert lookup(tree, "instance-id/") is None
    assert lookup(tree, "instance-id/more") is None
    no_key = meta_data(dataclasses.replace(FACTS, key_name=None, public_key=None))
    assert lookup(no_key, "public-keys/") is None
    assert "kernel-id" in (lookup(tree, "") or "").splitlines()
    assert lookup(tree, "ramdisk-id") is None


def test_identity_document() -> None:
    text = identity_document(FACTS)
    assert text.startswith('{\n  "accountId" : "123456789012",\n')
    document = json.loads(text)
    assert list(document) == [
        "accountId", "architecture", "availabilityZone", "billingProducts",
        "devpayProductCodes", "marketplaceProductCodes", "imageId", "instanceId",
        "instanceType", "kernelId", "pendingTime", "privateIp", "ramdiskId", "region",
        "version"]
    assert document["version"] == "2017-09-30"
    assert document["ramdiskId"] is None and document["billingProducts"] is None
    assert document["pendingTime"] == "2026-11-21T06:00:00Z"
    assert document["privateIp"] == "10.77.0.2" and document["region"] == "us-east-1"
