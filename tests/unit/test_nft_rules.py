"""The nftables scripts for the metadata redirect and per-tap anti-spoofing."""

from __future__ import annotations

from nodeagent.network import nft

GUARD = nft.Guard(tap="ib-abc", mac="52:54:00:aa:bb:cc", ip="10.77.0.10")


def test_metadata_redirect_goes_to_the_listener() -> None:
    script = nft.setup_script("ibr0", "10.77.0.1", 8775, guard_table=True)
    assert 'iifname "ibr0" ip daddr 169.254.169.254 tcp dport 80 dnat to 10.77.0.1:8775' in script
    assert "table bridge ironbark_ibr0 {" in script
    assert "iifname vmap @taps" in script


def test_existing_guard_table_is_kept() -> None:
    script = nft.setup_script("ibr0", "10.77.0.1", 8775, guard_table=False)
    assert "bridge" not in script
    assert "delete table ip ironbark_ibr0" in script  # the redirect is reset wholesale


def test_guard_drops_every_foreign_source() -> None:
    script = nft.guard_script("ibr0", GUARD)
    assert "ether saddr != 52:54:00:aa:bb:cc drop" in script
    assert "ip saddr != { 10.77.0.10, 0.0.0.0 } drop" in script
    assert "arp saddr ether != 52:54:00:aa:bb:cc drop" in script
    assert "arp saddr ip != { 10.77.0.10, 0.0.0.0 } drop" in script
    assert "ether type ip6 drop" in script
    assert 'taps { "ib-abc" : jump guest_ib_abc }' in script


def test_unguard_removes_only_what_exists() -> None:
    both = nft.unguard_script("ibr0", "ib-abc", in_map=True, has_chain=True)
    assert 'delete element bridge ironbark_ibr0 taps { "ib-abc" }' in both
    assert "delete chain bridge ironbark_ibr0 guest_ib_abc" in both
    assert nft.unguard_script("ibr0", "ib-abc", in_map=False, has_chain=False).strip() == ""
