"""sg_rules: IpPermissions and boto 2's flat parameters → RuleSpec, and rules → IpPermission."""

from __future__ import annotations

from typing import Any

import pytest

from controller.db.models import SecurityGroupRule
from controller.ec2 import errors
from controller.ec2.sg_rules import (
    Peer,
    RuleSpec,
    cidr,
    expand,
    group_permissions,
    normalise_ports,
    normalise_protocol,
    permissions_from_params,
)

GROUP = "sg-0123456789abcdef0"
OTHER = "sg-0fedcba9876543210"

# --- protocols ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("tcp", "tcp"), ("TCP", "tcp"), (" Tcp ", "tcp"), ("6", "tcp"),
        ("udp", "udp"), ("17", "udp"),
        ("icmp", "icmp"), ("ICMP", "icmp"), ("1", "icmp"),
        ("-1", "-1"),
        ("icmpv6", "icmpv6"), ("58", "icmpv6"),
        ("0", "0"), ("47", "47"), ("50", "50"), ("255", "255"),
    ],
)
def test_protocol_names_and_numbers(given: str, expected: str) -> None:
    assert normalise_protocol(given) == expected


@pytest.mark.parametrize("given", ["256", "-2", "1.5", "ftp", "", None, "tcp6", "0x6"])
def test_unknown_protocols_are_refused(given: str | None) -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        normalise_protocol(given)
    assert caught.value.code == "InvalidParameterValue"
    assert "protocol" in caught.value.message


# --- ports -------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
@pytest.mark.parametrize("ports", [(22, 22), (0, 65535), (1024, 2048), (0, 0), (65535, 65535)])
def test_tcp_udp_port_ranges(protocol: str, ports: tuple[int, int]) -> None:
    assert normalise_ports(protocol, *ports) == ports


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
@pytest.mark.parametrize(
    "ports", [(80, 22), (0, 65536), (-1, 80), (-1, -1), (70000, 70000), (None, 22), (22, None),
              (None, None)]
)
def test_bad_tcp_udp_port_ranges(protocol: str, ports: tuple[int | None, int | None]) -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        normalise_ports(protocol, *ports)
    assert "portRange" in caught.value.message


@pytest.mark.parametrize("protocol", ["icmp", "icmpv6"])
@pytest.mark.parametrize(
    ("ports", "expected"),
    [((8, 0), (8, 0)), ((-1, -1), (-1, -1)), ((None, None), (-1, -1)), ((3, -1), (3, -1)),
     ((255, 255), (255, 255)), ((0, 0), (0, 0))],
)
def test_icmp_type_and_code(
    protocol: str, ports: tuple[int | None, int | None], expected: tuple[int, int]
) -> None:
    assert normalise_ports(protocol, *ports) == expected


@pytest.mark.parametrize("protocol", ["icmp", "icmpv6"])
@pytest.mark.parametrize("ports", [(256, 0), (0, 256), (-2, 0), (8, -2)])
def test_bad_icmp_type_or_code(protocol: str, ports: tuple[int, int]) -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        normalise_ports(protocol, *ports)
    assert "ICMP" in caught.value.message


@pytest.mark.parametrize("protocol", ["-1", "47", "50", "0"])
@pytest.mark.parametrize("ports", [(None, None), (22, 80), (-1, -1), (80, 22)])
def test_all_ports_for_other_protocols(protocol: str, ports: tuple[int | None, int | None]) -> None:
    """-1 and protocol numbers other than tcp/udp/icmp allow every port, whatever was given."""
    assert normalise_ports(protocol, *ports) == (None, None)


# --- CIDR blocks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3/8", "10.0.0.0/8"),  # host bits are masked off, as EC2 does
        ("192.168.1.77/32", "192.168.1.77/32"),
        (" 172.16.0.0/12 ", "172.16.0.0/12"),
    ],
)
def test_ipv4_cidr_normalised(given: str, expected: str) -> None:
    assert cidr(given, 4) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("::/0", "::/0"),
        ("2001:DB8::/32", "2001:db8::/32"),
        ("2001:db8:0:0:0:0:0:1/64", "2001:db8::/64"),
        ("2001:0db8:0000::/48", "2001:db8::/48"),
    ],
)
def test_ipv6_cidr_normalised(given: str, expected: str) -> None:
    assert cidr(given, 6) == expected


@pytest.mark.parametrize(
    ("given", "version"),
    [
        ("10.0.0.0/33", 4), ("300.1.1.1/32", 4), ("sg-12345678", 4), ("", 4), ("10.0.0.0/8/8", 4),
        ("::/0", 4), ("2001:db8::/32", 4),
        ("0.0.0.0/0", 6), ("2001:db8::/129", 6), ("2001:zz8::/32", 6),
    ],
)
def test_malformed_cidr(given: str, version: int) -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        cidr(given, version)
    assert caught.value.message == f"CIDR block {given} is malformed"


# --- IpPermissions and the legacy flat parameters ------------------------------------------


def test_ip_permissions_pass_through() -> None:
    perms = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
              "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    assert permissions_from_params({"GroupName": "web", "IpPermissions": perms}) == perms


def test_no_permissions_at_all() -> None:
    assert permissions_from_params({"GroupName": "web"}) == []


def test_flat_cidr_rule() -> None:
    params = {"GroupName": "web", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
              "CidrIp": "10.0.0.0/8"}
    assert permissions_from_params(params) == [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    ]


def test_flat_group_grant_with_protocol() -> None:
    params = {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
              "SourceSecurityGroupName": "web", "SourceSecurityGroupOwnerId": "111122223333"}
    assert permissions_from_params(params) == [
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
         "UserIdGroupPairs": [{"GroupName": "web", "UserId": "111122223333"}]}
    ]


def test_flat_group_grant_without_protocol_opens_tcp_udp_icmp() -> None:
    """EC2-Classic: granting a group with no protocol means all of TCP, UDP and ICMP."""
    params = {"GroupName": "db", "SourceSecurityGroupName": "web",
              "SourceSecurityGroupOwnerId": "111122223333"}
    pair = {"GroupName": "web", "UserId": "111122223333"}
    assert permissions_from_params(params) == [
        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": [pair]},
        {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": [pair]},
        {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "UserIdGroupPairs": [pair]},
    ]
    specs = [spec for perm in permissions_from_params(params) for spec, _peer in expand(perm)[1]]
    assert [(s.protocol, s.from_port, s.to_port) for s in specs] == [
        ("tcp", 0, 65535), ("udp", 0, 65535), ("icmp", -1, -1)
    ]


def test_flat_group_grant_by_name_only() -> None:
    perms = permissions_from_params({"SourceSecurityGroupName": "web"})
    assert [p["UserIdGroupPairs"] for p in perms] == [[{"GroupName": "web"}]] * 3


def test_flat_cidr_without_protocol_is_missing_parameter() -> None:
    with pytest.raises(errors.MissingParameter) as caught:
        permissions_from_params({"CidrIp": "10.0.0.0/8", "FromPort": 22, "ToPort": 22})
    assert "ipProtocol" in caught.value.message


@pytest.mark.parametrize(
    ("flat", "named"),
    [({"CidrIp": "10.0.0.0/8"}, "cidrIp"), ({"IpProtocol": "tcp"}, "ipProtocol"),
     ({"SourceSecurityGroupName": "web"}, "sourceSecurityGroupName"), ({"FromPort": 22}, "fromPort")],
)
def test_flat_and_ip_permissions_together(flat: dict[str, Any], named: str) -> None:
    params = {**flat, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}
    with pytest.raises(errors.InvalidParameterCombination) as caught:
        permissions_from_params(params)
    assert caught.value.code == "InvalidParameterCombination"
    assert named in caught.value.message


# --- expand ------------------------------------------------------------------------------


def test_expand_literal_peers() -> None:
    perm = {
        "IpProtocol": "6", "FromPort": 443, "ToPort": 443,
        "IpRanges": [{"CidrIp": "10.1.2.3/16", "Description": "office"}, {"CidrIp": "0.0.0.0/0"}],
        "Ipv6Ranges": [{"CidrIpv6": "2001:DB8::/32", "Description": "v6"}],
    }
    literal, pending = expand(perm)
    assert pending == []
    assert literal == [
        RuleSpec("tcp", 443, 443, cidr_ipv4="10.1.0.0/16", description="office"),
        RuleSpec("tcp", 443, 443, cidr_ipv4="0.0.0.0/0"),
        RuleSpec("tcp", 443, 443, cidr_ipv6="2001:db8::/32", description="v6"),
    ]


@pytest.mark.parametrize(("prefix_list", "error"), [
    ("pl-12345678", errors.InvalidPrefixListIdNotFound),
    ("pl-nope", errors.InvalidPrefixListIdMalformed),
])
def test_prefix_lists_do_not_exist_here(prefix_list: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        expand({"IpProtocol": "-1", "PrefixListIds": [{"PrefixListId": prefix_list}]})


def test_expand_group_pairs_wait_for_resolution() -> None:
    perm = {"IpProtocol": "icmp", "FromPort": 8, "ToPort": 0,
            "UserIdGroupPairs": [{"GroupId": OTHER, "UserId": "111122223333", "Description": "d"},
                                 {"GroupName": "web"}]}
    literal, pending = expand(perm)
    assert literal == []
    assert pending == [
        (RuleSpec("icmp", 8, 0, description="d"), Peer(OTHER, None, "111122223333")),
        (RuleSpec("icmp", 8, 0), Peer(None, "web", None)),
    ]


def test_expand_all_traffic_drops_ports() -> None:
    literal, _ = expand({"IpProtocol": "-1", "FromPort": 1, "ToPort": 2,
                         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    assert literal == [RuleSpec("-1", None, None, cidr_ipv4="0.0.0.0/0")]


def test_expand_without_any_peer() -> None:
    with pytest.raises(errors.InvalidParameterValue):
        expand({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22})


def test_expand_range_without_cidr() -> None:
    with pytest.raises(errors.MissingParameter) as caught:
        expand({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"Description": "x"}]})
    assert "CidrIp" in caught.value.message


def test_expand_checks_ports_before_peers() -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        expand({"IpProtocol": "tcp", "FromPort": 80, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    assert "80-22" in caught.value.message


def test_rule_identity_ignores_description() -> None:
    plain = RuleSpec("tcp", 22, 22, cidr_ipv4="10.0.0.0/8")
    described = RuleSpec("tcp", 22, 22, cidr_ipv4="10.0.0.0/8", description="ssh")
    assert plain.identity == described.identity
    assert plain.identity != RuleSpec("tcp", 22, 23, cidr_ipv4="10.0.0.0/8").identity
    assert plain.identity != RuleSpec("udp", 22, 22, cidr_ipv4="10.0.0.0/8").identity
    assert plain.identity != RuleSpec("tcp", 22, 22, peer_group_id=GROUP).identity


# --- grouping back into IpPermission -------------------------------------------------------


def _row(protocol: str, from_port: int | None, to_port: int | None, **peer: Any) -> SecurityGroupRule:
    return SecurityGroupRule(protocol=protocol, from_port=from_port, to_port=to_port,
                             cidr_ipv4=peer.get("cidr_ipv4"), cidr_ipv6=peer.get("cidr_ipv6"),
                             prefix_list_id=peer.get("prefix_list_id"),
                             peer_group_id=peer.get("peer_group_id"),
                             peer_account_id=peer.get("peer_account_id"),
                             description=peer.get("description"))


def _empty(protocol: str, **ports: int) -> dict[str, Any]:
    return {"IpProtocol": protocol, **ports, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
            "UserIdGroupPairs": []}


def test_group_rules_with_the_same_ports_share_a_permission() -> None:
    rules = [
        _row("tcp", 22, 22, cidr_ipv4="10.0.0.0/8", description="office"),
        _row("tcp", 80, 80, cidr_ipv4="0.0.0.0/0"),
        _row("tcp", 22, 22, cidr_ipv6="::/0"),
        _row("tcp", 22, 22, cidr_ipv4="192.168.0.0/16"),
        _row("tcp", 22, 22, prefix_list_id="pl-12345678"),
    ]
    ssh = _empty("tcp", FromPort=22, ToPort=22)
    ssh["IpRanges"] = [{"CidrIp": "10.0.0.0/8", "Description": "office"}, {"CidrIp": "192.168.0.0/16"}]
    ssh["Ipv6Ranges"] = [{"CidrIpv6": "::/0"}]
    ssh["PrefixListIds"] = [{"PrefixListId": "pl-12345678"}]
    web = _empty("tcp", FromPort=80, ToPort=80)
    web["IpRanges"] = [{"CidrIp": "0.0.0.0/0"}]
    assert group_permissions(rules, {}) == [ssh, web]


def test_group_all_traffic_has_no_ports_and_icmp_keeps_type_code() -> None:
    rules = [_row("-1", None, None, cidr_ipv4="0.0.0.0/0"), _row("icmp", 8, 0, cidr_ipv4="0.0.0.0/0"),
             _row("icmp", -1, -1, cidr_ipv4="0.0.0.0/0"), _row("udp", 53, 53, cidr_ipv4="0.0.0.0/0")]
    out = group_permissions(rules, {})
    assert [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in out] == [
        ("-1", None, None), ("icmp", 8, 0), ("icmp", -1, -1), ("udp", 53, 53)
    ]
    assert "FromPort" not in out[0] and "ToPort" not in out[0]


def test_group_pairs_name_own_groups_only() -> None:
    rules = [_row("tcp", 5432, 5432, peer_group_id=GROUP, description="app"),
             _row("tcp", 5432, 5432, peer_group_id=OTHER, peer_account_id="111122223333")]
    info = {GROUP: ("444455556666", "app"), OTHER: ("111122223333", "")}
    (perm,) = group_permissions(rules, info)
    assert perm["UserIdGroupPairs"] == [
        {"GroupId": GROUP, "UserId": "444455556666", "GroupName": "app", "Description": "app"},
        {"GroupId": OTHER, "UserId": "111122223333"},
    ]


def test_group_pair_without_peer_info_uses_stored_owner() -> None:
    (perm,) = group_permissions([_row("-1", None, None, peer_group_id=OTHER,
                                      peer_account_id="111122223333")], {})
    assert perm["UserIdGroupPairs"] == [{"GroupId": OTHER, "UserId": "111122223333"}]


def test_group_unmatched_specs_for_unknown_ip_permissions() -> None:
    """Revoke reports rule specs (not rows) that matched nothing, group pairs included."""
    specs = [RuleSpec("tcp", 22, 22, cidr_ipv4="10.0.0.0/8"),
             RuleSpec("tcp", 22, 22, peer_group_id=OTHER)]
    (perm,) = group_permissions(specs, {OTHER: ("111122223333", "")})
    assert perm["IpRanges"] == [{"CidrIp": "10.0.0.0/8"}]
    assert perm["UserIdGroupPairs"] == [{"GroupId": OTHER, "UserId": "111122223333"}]


def test_group_nothing() -> None:
    assert group_permissions([], {}) == []


# --- rule descriptions -------------------------------------------------------------------------


@pytest.mark.parametrize("description", ["", "d" * 255, "office (HQ) #2: [10/8] a+b=c & {x}!$*@;"])
@pytest.mark.parametrize("where", ["IpRanges", "Ipv6Ranges", "UserIdGroupPairs"])
def test_rule_descriptions_accepted(where: str, description: str) -> None:
    peer = {"IpRanges": {"CidrIp": "10.0.0.0/8"}, "Ipv6Ranges": {"CidrIpv6": "::/0"},
            "PrefixListIds": {"PrefixListId": "pl-12345678"}, "UserIdGroupPairs": {"GroupId": GROUP}}
    literal, pending = expand({"IpProtocol": "-1", where: [{**peer[where], "Description": description}]})
    (spec,) = literal + [spec for spec, _peer in pending]
    assert spec.description == description


@pytest.mark.parametrize("description", ["d" * 256, "caf\u00e9", "it's", "tab\there", "a<b>"])
@pytest.mark.parametrize("where", ["IpRanges", "Ipv6Ranges", "UserIdGroupPairs"])
def test_rule_descriptions_refused(where: str, description: str) -> None:
    peer = {"IpRanges": {"CidrIp": "10.0.0.0/8"}, "Ipv6Ranges": {"CidrIpv6": "::/0"},
            "PrefixListIds": {"PrefixListId": "pl-12345678"}, "UserIdGroupPairs": {"GroupId": GROUP}}
    with pytest.raises(errors.InvalidParameterValue) as caught:
        expand({"IpProtocol": "-1", where: [{**peer[where], "Description": description}]})
    assert caught.value.message.startswith("Invalid rule description.")
