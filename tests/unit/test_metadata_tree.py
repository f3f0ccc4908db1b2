"""The metadata tree: listings, leaves, 404s."""

from __future__ import annotations

from controller.metadata.tree import InstanceFacts, lookup, meta_data

FACTS = InstanceFacts("i-0123456789abcdef0", "ami-0123456789abcdef0", 0, "m1.small",
                      "10.77.0.2", "ip-10-77-0-2", "d0:0d:0a:4d:00:02", "us-east-1a",
                      "us-east-1", "r-0123456789abcdef0", ("default", "web"), "aki-01234567",
                      None, "mykey", "ssh-ed25519 AAAA")


def test_leaves_and_listings() -> None:
    tree = meta_data(FACTS)
    assert lookup(tree, "instance-id") == FACTS.instance_id
    assert lookup(tree, "security-groups") == "default\nweb"
    assert lookup(tree, "placement/availability-zone") == "us-east-1a"
    assert lookup(tree, "placement/") == "availability-zone\nregion"
    listing = lookup(tree, "")
    assert listing is not None and "placement/" in listing.splitlines()
    assert "kernel-id" in listing.splitlines() and "ramdisk-id" not in listing.splitlines()
    assert lookup(tree, "public-keys/", "mykey") == "0=mykey"
    assert lookup(tree, "public-keys/0/openssh-key") == "ssh-ed25519 AAAA\n"


def test_not_found() -> None:
    tree = meta_data(FACTS)
    assert lookup(tree, "nothing") is None
    assert lookup(tree, "instance-id/") is None
    assert lookup(tree, "instance-id/more") is None
    no_key = meta_data(InstanceFacts(**{**FACTS.__dict__, "key_name": None}))
    assert lookup(no_key, "public-keys/") is None
