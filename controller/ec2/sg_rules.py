"""Security group permissions as normalised rules, both ways.

``IpPermissions`` (and the legacy flat parameters boto 2 sends) become :class:`RuleSpec` values
that compare equal exactly when EC2 treats two rules as the same; rules group back into
``IpPermission`` structures for Describe output.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller import ids
from controller.ec2 import errors

_PROTOCOL_NAMES = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp",
                   "1": "icmp", "-1": "-1", "all": "-1", "icmpv6": "icmpv6", "58": "icmpv6"}
PORTED = ("tcp", "udp")
MAX_DESCRIPTION = 255
_DESCRIPTION = re.compile(r"[A-Za-z0-9. _\-:/()#,@\[\]+=&;{}!$*]*")


@dataclass(frozen=True)
class Peer:
    """A group reference as the client gave it (resolved against the database later)."""

    group_id: str | None
    group_name: str | None
    user_id: str | None


@dataclass(frozen=True)
class RuleSpec:
    protocol: str
    from_port: int | None
    to_port: int | None
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None
    prefix_list_id: str | None = None
    peer_group_id: str | None = None
    description: str | None = None

    @property
    def identity(self) -> tuple[object, ...]:
        return (self.protocol, self.from_port, self.to_port, self.cidr_ipv4, self.cidr_ipv6,
                self.prefix_list_id, self.peer_group_id)

    def describe(self) -> str:
        peer = self.cidr_ipv4 or self.cidr_ipv6 or self.prefix_list_id or self.peer_group_id
        proto = self.protocol.upper() if self.protocol != "-1" else "ALL"
        return (f'peer: {peer}, {proto}, from port: {self.from_port}, '
                f'to port: {self.to_port}, ALLOW')


def normalise_protocol(value: str | None) -> str:
    text = (value or "").strip().lower()
    if text in _PROTOCOL_NAMES:
        return _PROTOCOL_NAMES[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise errors.InvalidParameterValue(f"Invalid value '{value}' for IP protocol. Unknown protocol.")


def normalise_ports(protocol: str, from_port: int | None, to_port: int | None) -> tuple[int | None, int | None]:
    if protocol in PORTED:
        if from_port is None or to_port is None:
            raise errors.InvalidParameterValue(
                "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange."
            )
        if not (0 <= from_port <= 65535 and 0 <= to_port <= 65535) or from_port > to_port:
            raise errors.InvalidParameterValue(
                f"Invalid value 'Invalid TCP/UDP port range {from_port}-{to_port}.' for portRange."
            )
        return from_port, to_port
    if protocol in ("icmp", "icmpv6"):
        icmp_type = -1 if from_port is None else from_port
        code = -1 if to_port is None else to_port
        if not (-1 <= icmp_type <= 255 and -1 <= code <= 255):
            raise errors.InvalidParameterValue(
                f"Invalid value '{icmp_type}/{code}' for ICMP type/code."
            )
        return icmp_type, code
    return None, None


def cidr(value: str, version: int) -> str:
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise errors.InvalidParameterValue(f"CIDR block {value} is malformed") from None
    if network.version != version:
        raise errors.InvalidParameterValue(f"CIDR block {value} is malformed")
    return str(network)


def permissions_from_params(params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``IpPermissions``, or one built from the legacy flat parameters (not both)."""
    flat_names = ("IpProtocol", "FromPort", "ToPort", "CidrIp", "SourceSecurityGroupName",
                  "SourceSecurityGroupOwnerId")
    flat = {name: params[name] for name in flat_names if params.get(name) is not None}
    permissions: list[Mapping[str, Any]] = params.get("IpPermissions") or []
    if flat and permissions:
        first = next(iter(flat))
        raise errors.InvalidParameterCombination(
            "The parameter 'ipPermissions' may not be used in combination with "
            f"'{first[0].lower() + first[1:]}'"
        )
    if not flat:
        return permissions
    return _legacy_permissions(flat)


def _legacy_permissions(flat: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    pair: dict[str, str] = {}
    if "SourceSecurityGroupName" in flat:
        pair["GroupName"] = flat["SourceSecurityGroupName"]
    if "SourceSecurityGroupOwnerId" in flat:
        pair["UserId"] = flat["SourceSecurityGroupOwnerId"]
    if "IpProtocol" not in flat:
        if not pair:
            raise errors.MissingParameter("The request must contain the parameter ipProtocol")
        # EC2-Classic: a group grant without a protocol opens TCP, UDP and ICMP entirely.
        return [
            {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": [pair]},
            {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": [pair]},
            {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "UserIdGroupPairs": [pair]},
        ]
    permission: dict[str, Any] = {"IpProtocol": flat["IpProtocol"], "FromPort": flat.get("FromPort"),
                                  "ToPort": flat.get("ToPort")}
    if "CidrIp" in flat:
        permission["IpRanges"] = [{"CidrIp": flat["CidrIp"]}]
    if pair:
        permission["UserIdGroupPairs"] = [pair]
    return [permission]


def expand(permission: Mapping[str, Any]) -> tuple[list[RuleSpec], list[tuple[RuleSpec, Peer]]]:
    """Rules with a literal peer, and rules whose peer group still needs resolving."""
    protocol = normalise_protocol(permission.get("IpProtocol"))
    from_port, to_port = normalise_ports(protocol, permission.get("FromPort"), permission.get("ToPort"))
    base = RuleSpec(protocol, from_port, to_port)
    literal: list[RuleSpec] = []
    for r4 in permission.get("IpRanges") or ():
        literal.append(_with(base, cidr_ipv4=cidr(_need(r4, "CidrIp"), 4), description=_description(r4)))
    for r6 in permission.get("Ipv6Ranges") or ():
        literal.append(_with(base, cidr_ipv6=cidr(_need(r6, "CidrIpv6"), 6), description=_description(r6)))
    for pl in permission.get("PrefixListIds") or ():
        _no_prefix_list(_need(pl, "PrefixListId"))
    groups = [
        (_with(base, description=_description(p)),
         Peer(p.get("GroupId"), p.get("GroupName"), p.get("UserId")))
        for p in permission.get("UserIdGroupPairs") or ()
    ]
    if not literal and not groups:
        raise errors.InvalidParameterValue("Invalid value: must specify a source or destination")
    return literal, groups


def _description(item: Mapping[str, Any]) -> str | None:
    value: str | None = item.get("Description")
    if value is not None and (len(value) > MAX_DESCRIPTION or not _DESCRIPTION.fullmatch(value)):
        raise errors.InvalidParameterValue(
            "Invalid rule description. Valid descriptions are strings less than 256 characters "
            "from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
        )
    return value


def _no_prefix_list(prefix_list_id: str) -> None:
    """This cloud has no managed prefix lists, so every id names one that does not exist."""
    if not ids.is_resource_id(prefix_list_id, "pl"):
        raise errors.InvalidPrefixListIdMalformed(
            f'Invalid id: "{prefix_list_id[:64]}" (expecting "pl-...")'
        )
    raise errors.InvalidPrefixListIdNotFound(
        f"The prefix list ID '{prefix_list_id}' does not exist"
    )


def _need(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if not value:
        raise errors.MissingParameter(f"The request must contain the parameter {key}")
    return str(value)


def _with(base: RuleSpec, **changes: Any) -> RuleSpec:
    values = {**base.__dict__, **changes}
    return RuleSpec(**values)


def group_permissions(rules: Sequence[Any], peer_info: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Rules (DB rows) → ``IpPermission`` dicts; ``peer_info`` maps group id → (owner, name)."""
    grouped: dict[tuple[str, int | None, int | None], dict[str, Any]] = {}
    for rule in rules:
        key = (rule.protocol, rule.from_port, rule.to_port)
        perm = grouped.get(key)
        if perm is None:
            perm = {"IpProtocol": rule.protocol, "IpRanges": [], "Ipv6Ranges": [],
                    "PrefixListIds": [], "UserIdGroupPairs": []}
            if rule.from_port is not None:
                perm["FromPort"], perm["ToPort"] = rule.from_port, rule.to_port
            grouped[key] = perm
        _add_peer(perm, rule, peer_info)
    return list(grouped.values())


def _add_peer(perm: dict[str, Any], rule: Any, peer_info: Mapping[str, tuple[str, str]]) -> None:
    desc = {"Description": rule.description} if rule.description else {}
    if rule.cidr_ipv4:
        perm["IpRanges"].append({"CidrIp": rule.cidr_ipv4, **desc})
    elif rule.cidr_ipv6:
        perm["Ipv6Ranges"].append({"CidrIpv6": rule.cidr_ipv6, **desc})
    elif rule.prefix_list_id:
        perm["PrefixListIds"].append({"PrefixListId": rule.prefix_list_id, **desc})
    elif rule.peer_group_id:
        # ``rule`` is a stored row, or a RuleSpec (UnknownIpPermissions) that has no owner field.
        stored_owner = getattr(rule, "peer_account_id", None) or ""
        owner, name = peer_info.get(rule.peer_group_id, (stored_owner, ""))
        pair = {"GroupId": rule.peer_group_id, "UserId": owner, **desc}
        if name:
            pair["GroupName"] = name
        perm["UserIdGroupPairs"].append(pair)
