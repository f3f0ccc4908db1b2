"""nftables rule sets for one node bridge: metadata redirect and per-tap anti-spoofing.

Two tables per bridge, both owned entirely by Ironbark, so set-up replaces them wholesale and
tear-down deletes them:
- ``ip ironbark_<bridge>``: DNAT of 169.254.169.254:80 arriving on the bridge to the metadata
  listener, so the metadata service sees the guest's real source address;
- ``bridge ironbark_<bridge>``: every frame a guest's tap sends into the bridge jumps (through a
  verdict map keyed by tap name) to that guest's chain, which drops frames whose source MAC,
  IPv4 source or ARP sender is not the guest's own (0.0.0.0 stays allowed for DHCP and ARP
  probes), and all IPv6. A guest that takes another's address gets nothing through.
These are nft scripts (text in nft's own syntax), fed to ``nft -f -``.
"""

from __future__ import annotations

from dataclasses import dataclass

METADATA_ADDRESS = "169.254.169.254"


@dataclass(frozen=True)
class Guard:
    """Who may send through one tap."""

    tap: str
    mac: str
    ip: str


def table_name(bridge: str) -> str:
    return "ironbark_" + bridge.replace("-", "_")


def setup_script(bridge: str, gateway: str, metadata_port: int, *, guard_table: bool) -> str:
    """Reset the metadata table; create the guard table when ``guard_table`` (it is kept
    otherwise, with the chains of running guests). Guests are added by :func:`guard_script`."""
    table = table_name(bridge)
    lines = [
        f"table ip {table} {{}}",
        f"delete table ip {table}",
        f"table ip {table} {{",
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        (
            f'    iifname "{bridge}" ip daddr {METADATA_ADDRESS} tcp dport 80'
            f" dnat to {gateway}:{metadata_port}"
        ),
        "  }",
        "}",
    ]
    if not guard_table:
        return "\n".join(lines + [""])
    return "\n".join(
        lines
        + [
            f"table bridge {table} {{",
            "  map taps { type ifname : verdict; }",
            "  chain prerouting {",
            "    type filter hook prerouting priority filter; policy accept;",
            "    iifname vmap @taps",
            "  }",
            "}",
            "",
        ]
    )


def guard_script(bridge: str, guard: Guard) -> str:
    """Add (or replace) the anti-spoofing chain of one tap."""
    table, chain = table_name(bridge), f"guest_{guard.tap.replace('-', '_')}"
    rule = f"add rule bridge {table} {chain}"
    own_ip = f"{{ {guard.ip}, 0.0.0.0 }}"
    return "\n".join(
        [
            f"add chain bridge {table} {chain}",
            f"flush chain bridge {table} {chain}",
            f"{rule} ether saddr != {guard.mac} drop",
            f"{rule} ether type ip6 drop",
            f"{rule} ether type ip ip saddr != {own_ip} drop",
            f"{rule} ether type arp arp saddr ether != {guard.mac} drop",
            f"{rule} ether type arp arp saddr ip != {own_ip} drop",
            f'add element bridge {table} taps {{ "{guard.tap}" : jump {chain} }}',
            "",
        ]
    )


def unguard_script(bridge: str, tap: str, *, in_map: bool, has_chain: bool) -> str:
    """Remove one tap's chain (and its map entry); the flags say which of them exist."""
    table, chain = table_name(bridge), f"guest_{tap.replace('-', '_')}"
    lines = []
    if in_map:
        lines.append(f'delete element bridge {table} taps {{ "{tap}" }}')
    if has_chain:
        lines.append(f"delete chain bridge {table} {chain}")
    return "\n".join(lines + [""])


def teardown_script(bridge: str, *, ip_table: bool, bridge_table: bool) -> str:
    table = table_name(bridge)
    lines = []
    if ip_table:
        lines.append(f"delete table ip {table}")
    if bridge_table:
        lines.append(f"delete table bridge {table}")
    return "\n".join(lines + [""])
