"""Security group rules end to end: Authorize/Revoke Ingress/Egress through boto3, the CLI, boto 2.

AWS semantics checked here: duplicates and atomicity, group references within and across
accounts, partial revokes, rule ids, ICMP, IPv6, descriptions, the per-group rule limit, DryRun,
and boto 2's legacy flat parameters (including the EC2-Classic group grant without a protocol).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import AwsCli, Server
from tests.e2e.test_security_groups import (
    ALL_EGRESS,
    ALL_EGRESS_REQUEST,
    boto2_error,
    boto3_error,
    cli_error,
    create,
    group,
    groups,
    race,
)

SGR_ID = re.compile(r"sgr-[0-9a-f]{17}")
SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
WEB = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def perm(protocol: str, ports: tuple[int, int] | None = None, *, v4: Sequence[Any] = (),
         v6: Sequence[Any] = (), pairs: Sequence[Any] = ()) -> dict[str, Any]:
    """An IpPermission as DescribeSecurityGroups renders it (bare CIDR strings become ranges)."""
    out: dict[str, Any] = {"IpProtocol": protocol}
    if ports is not None:
        out["FromPort"], out["ToPort"] = ports
    out["IpRanges"] = [{"CidrIp": r} if isinstance(r, str) else r for r in v4]
    out["Ipv6Ranges"] = [{"CidrIpv6": r} if isinstance(r, str) else r for r in v6]
    out["PrefixListIds"] = []
    out["UserIdGroupPairs"] = list(pairs)
    return out


def ingress(ec2: Any, group_id: str) -> list[dict[str, Any]]:
    return list(group(ec2, group_id)["IpPermissions"])


def egress(ec2: Any, group_id: str) -> list[dict[str, Any]]:
    return list(group(ec2, group_id)["IpPermissionsEgress"])


def authorize(ec2: Any, group_id: str, *permissions: dict[str, Any]) -> dict[str, Any]:
    reply: dict[str, Any] = ec2.authorize_security_group_ingress(GroupId=group_id,
                                                                 IpPermissions=list(permissions))
    return reply


# --- authorize with CIDR ranges -------------------------------------------------------------------


def test_authorize_cidr_boto3(ec2: Any, account: Credentials) -> None:
    web = create(ec2, "web")
    reply = authorize(ec2, web, {**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "office"}]})
    assert reply["Return"] is True
    (rule,) = reply["SecurityGroupRules"]
    assert SGR_ID.fullmatch(rule.pop("SecurityGroupRuleId"))
    assert rule.pop("SecurityGroupRuleArn").startswith(f"arn:aws:ec2:us-east-1:{account.account_id}:")
    assert not rule.pop("Tags", None)
    assert rule == {"GroupId": web, "GroupOwnerId": account.account_id, "IsEgress": False,
                    "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "10.0.0.0/8",
                    "Description": "office"}
    assert ingress(ec2, web) == [perm("tcp", (22, 22), v4=[{"CidrIp": "10.0.0.0/8",
                                                            "Description": "office"}])]
    assert egress(ec2, web) == ALL_EGRESS


def test_rules_with_the_same_ports_share_one_permission(ec2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, SSH)
    authorize(ec2, web, WEB)
    authorize(ec2, web, {**SSH, "IpRanges": [{"CidrIp": "192.168.0.0/16"}, {"CidrIp": "172.16.0.0/12"}]})
    assert ingress(ec2, web) == [
        perm("tcp", (22, 22), v4=["10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"]),
        perm("tcp", (80, 80), v4=["0.0.0.0/0"]),
    ]


def test_authorize_by_group_name(ec2: Any) -> None:
    create(ec2, "web")
    ec2.authorize_security_group_ingress(GroupName="web", IpPermissions=[WEB])
    ec2.authorize_security_group_ingress(GroupName="default", IpPermissions=[SSH])
    by_name = {g["GroupName"]: g["IpPermissions"] for g in groups(ec2)}
    assert by_name["web"] == [perm("tcp", (80, 80), v4=["0.0.0.0/0"])]
    assert perm("tcp", (22, 22), v4=["10.0.0.0/8"]) in by_name["default"]


def test_authorize_cli(aws: AwsCli, ec2: Any) -> None:
    web = create(ec2, "web")
    aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp",
        "--port", "22", "--cidr", "203.0.113.0/24")
    aws("ec2", "authorize-security-group-ingress", "--group-name", "web", "--protocol", "udp",
        "--port", "1000-2000", "--cidr", "0.0.0.0/0")
    reply = aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--ip-permissions",
                'IpProtocol=tcp,FromPort=443,ToPort=443,Ipv6Ranges=[{CidrIpv6=::/0,Description=v6}]')
    assert reply["Return"] is True
    assert reply["SecurityGroupRules"][0]["CidrIpv6"] == "::/0"
    (found,) = aws("ec2", "describe-security-groups", "--group-ids", web)["SecurityGroups"]
    assert found["IpPermissions"] == [
        perm("tcp", (22, 22), v4=["203.0.113.0/24"]),
        perm("udp", (1000, 2000), v4=["0.0.0.0/0"]),
        perm("tcp", (443, 443), v6=[{"CidrIpv6": "::/0", "Description": "v6"}]),
    ]


def test_authorize_boto2(boto2: Any, ec2: Any) -> None:
    web = boto2.create_security_group("web", "x")
    assert boto2.authorize_security_group("web", ip_protocol="tcp", from_port=80, to_port=80,
                                          cidr_ip="0.0.0.0/0") is True
    assert boto2.authorize_security_group(group_id=web.id, ip_protocol="tcp", from_port=22,
                                          to_port=22, cidr_ip=["10.0.0.0/8", "192.168.0.0/16"]) is True
    assert web.authorize("udp", 53, 53, "172.16.0.0/12") is True
    (found,) = boto2.get_all_security_groups(groupnames=["web"])
    rules = {(r.ip_protocol, r.from_port, r.to_port): sorted(g.cidr_ip for g in r.grants)
             for r in found.rules}
    assert rules == {("tcp", "80", "80"): ["0.0.0.0/0"],
                     ("tcp", "22", "22"): ["10.0.0.0/8", "192.168.0.0/16"],
                     ("udp", "53", "53"): ["172.16.0.0/12"]}
    assert len(ingress(ec2, web.id)) == 3


# --- duplicates and atomicity ---------------------------------------------------------------------


def test_duplicate_rule(ec2: Any, aws: AwsCli, boto2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, SSH)
    with boto3_error("InvalidPermission.Duplicate"):
        authorize(ec2, web, SSH)
    with boto3_error("InvalidPermission.Duplicate"):  # the description is not part of a rule
        authorize(ec2, web, {**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "new"}]})
    with cli_error("InvalidPermission.Duplicate"):
        aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp",
            "--port", "22", "--cidr", "10.0.0.0/8")
    with boto2_error("InvalidPermission.Duplicate"):
        boto2.authorize_security_group("web", ip_protocol="tcp", from_port=22, to_port=22,
                                       cidr_ip="10.0.0.0/8")
    assert ingress(ec2, web) == [perm("tcp", (22, 22), v4=["10.0.0.0/8"])]


def test_duplicate_after_cidr_normalisation(ec2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, {**SSH, "IpRanges": [{"CidrIp": "10.1.2.3/8"}]})
    assert ingress(ec2, web) == [perm("tcp", (22, 22), v4=["10.0.0.0/8"])]
    with boto3_error("InvalidPermission.Duplicate"):
        authorize(ec2, web, SSH)
    with boto3_error("InvalidPermission.Duplicate"):
        authorize(ec2, web, {**SSH, "IpProtocol": "6"})


def test_one_new_and_one_duplicate_adds_neither(ec2: Any, boto2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, SSH)
    with boto3_error("InvalidPermission.Duplicate"):
        authorize(ec2, web, {**SSH, "IpRanges": [{"CidrIp": "192.168.0.0/16"}, {"CidrIp": "10.0.0.0/8"}]})
    with boto3_error("InvalidPermission.Duplicate"):
        authorize(ec2, web, WEB, SSH)
    with boto2_error("InvalidPermission.Duplicate"):
        boto2.authorize_security_group("web", ip_protocol="tcp", from_port=22, to_port=22,
                                       cidr_ip=["172.16.0.0/12", "10.0.0.0/8"])
    assert ingress(ec2, web) == [perm("tcp", (22, 22), v4=["10.0.0.0/8"])]


def test_same_rule_twice_in_one_request(ec2: Any) -> None:
    web = create(ec2, "web")
    with boto3_error("InvalidParameterValue"):
        authorize(ec2, web, SSH, SSH)
    assert ingress(ec2, web) == []


def test_overlapping_ranges_are_different_rules(ec2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, SSH, {**SSH, "ToPort": 23}, {**SSH, "IpProtocol": "udp"})
    assert ingress(ec2, web) == [perm("tcp", (22, 22), v4=["10.0.0.0/8"]),
                                 perm("tcp", (22, 23), v4=["10.0.0.0/8"]),
                                 perm("udp", (22, 22), v4=["10.0.0.0/8"])]


# --- protocols, ports, ICMP, IPv6 ---------------------------------------------------------------


def test_icmp_type_and_code(ec2: Any, boto2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, {"IpProtocol": "icmp", "FromPort": 8, "ToPort": 0,
                         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ping"}]},
              {"IpProtocol": "icmp", "FromPort": 3, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
              {"IpProtocol": "1", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]})
    assert ingress(ec2, web) == [
        perm("icmp", (8, 0), v4=[{"CidrIp": "0.0.0.0/0", "Description": "ping"}]),
        perm("icmp", (3, -1), v4=["0.0.0.0/0"]),
        perm("icmp", (-1, -1), v4=["10.0.0.0/8"]),
    ]
    (found,) = boto2.get_all_security_groups(group_ids=[web])
    assert sorted((r.ip_protocol, r.from_port, r.to_port) for r in found.rules) == [
        ("icmp", "-1", "-1"), ("icmp", "3", "-1"), ("icmp", "8", "0")]
    with boto3_error("InvalidPermission.Duplicate"):
        authorize(ec2, web, {"IpProtocol": "icmp", "FromPort": 8, "ToPort": 0,
                             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})


@pytest.mark.parametrize(("icmp_type", "code"), [(256, 0), (8, 256), (-2, 0)])
def test_bad_icmp_type_or_code(ec2: Any, icmp_type: int, code: int) -> None:
    web = create(ec2, "web")
    with boto3_error("InvalidParameterValue"):
        authorize(ec2, web, {"IpProtocol": "icmp", "FromPort": icmp_type, "ToPort": code,
                             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    assert ingress(ec2, web) == []


def test_ipv6_ranges(ec2: Any, boto2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                         "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                         "Ipv6Ranges": [{"CidrIpv6": "2001:DB8::/32", "Description": "docs"},
                                        {"CidrIpv6": "::/0"}]},
              {"IpProtocol": "58", "FromPort": 128, "ToPort": 0, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]})
    assert ingress(ec2, web) == [
        perm("tcp", (443, 443), v4=["0.0.0.0/0"],
             v6=[{"CidrIpv6": "2001:db8::/32", "Description": "docs"}, "::/0"]),
        perm("icmpv6", (128, 0), v6=["::/0"]),
    ]
    with boto3_error("InvalidPermission.Duplicate"):
        authorize(ec2, web, {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                             "Ipv6Ranges": [{"CidrIpv6": "2001:db8:0::/32"}]})
    (found,) = boto2.get_all_security_groups(group_ids=[web])
    assert {r.ip_protocol for r in found.rules} == {"tcp", "icmpv6"}


@pytest.mark.parametrize(
    "permission",
    [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/33"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "::/0"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "sg-12345678"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65536, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "udp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "ftp", "FromPort": 21, "ToPort": 21, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "256", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ],
    ids=["v4-prefix", "v6-in-v4", "v4-in-v6", "not-a-cidr", "reversed", "port-65536",
         "udp-no-ports", "unknown-name", "protocol-256"],
)
def test_invalid_permissions(ec2: Any, permission: dict[str, Any]) -> None:
    web = create(ec2, "web")
    with boto3_error("InvalidParameterValue"):
        authorize(ec2, web, WEB, permission)
    assert ingress(ec2, web) == []


def test_malformed_cidr_message(ec2: Any, aws: AwsCli) -> None:
    web = create(ec2, "web")
    with pytest.raises(ClientError) as caught:
        authorize(ec2, web, {**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/33"}]})
    assert caught.value.response["Error"]["Message"] == "CIDR block 10.0.0.0/33 is malformed"
    with cli_error("InvalidParameterValue"):
        aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp",
            "--port", "22", "--cidr", "10.0.0.0/33")


def test_all_traffic_and_other_protocols_have_no_ports(ec2: Any, boto2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
              {"IpProtocol": "47", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
              {"IpProtocol": "17", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]})
    assert ingress(ec2, web) == [perm("-1", v4=["10.0.0.0/8"]), perm("47", v4=["10.0.0.0/8"]),
                                 perm("udp", (53, 53), v4=["10.0.0.0/8"])]
    (found,) = boto2.get_all_security_groups(group_ids=[web])
    assert sorted((r.ip_protocol, r.from_port, r.to_port) for r in found.rules) == [
        ("-1", None, None), ("47", None, None), ("udp", "53", "53")]


# --- group references ---------------------------------------------------------------------------


def test_reference_own_group_by_name_and_id(ec2: Any, account: Credentials) -> None:
    app, db = create(ec2, "app"), create(ec2, "db")
    cache = create(ec2, "cache")
    reply = authorize(ec2, db, {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                                "UserIdGroupPairs": [{"GroupName": "app", "Description": "by name"},
                                                     {"GroupId": cache}]})
    assert [r["ReferencedGroupInfo"] for r in reply["SecurityGroupRules"]] == [
        {"GroupId": app, "UserId": account.account_id}, {"GroupId": cache, "UserId": account.account_id}]
    assert ingress(ec2, db) == [perm("tcp", (5432, 5432), pairs=[
        {"GroupId": app, "GroupName": "app", "UserId": account.account_id, "Description": "by name"},
        {"GroupId": cache, "GroupName": "cache", "UserId": account.account_id},
    ])]
    with boto3_error("InvalidPermission.Duplicate"):  # the same peer, named the other way
        authorize(ec2, db, {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                            "UserIdGroupPairs": [{"GroupId": app}]})


def test_reference_unknown_groups(ec2: Any) -> None:
    db = create(ec2, "db")
    pair = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432}
    with boto3_error("InvalidGroup.NotFound"):
        authorize(ec2, db, {**pair, "UserIdGroupPairs": [{"GroupName": "nope"}]})
    with boto3_error("InvalidGroup.NotFound"):
        authorize(ec2, db, {**pair, "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}]})
    with boto3_error("InvalidGroupId.Malformed"):
        authorize(ec2, db, {**pair, "UserIdGroupPairs": [{"GroupId": "sg-zzz"}]})
    assert ingress(ec2, db) == []


def test_reference_another_accounts_group(
    ec2: Any, server: Server, make_ec2: Callable[[Credentials], Any],
    make_boto2: Callable[[Credentials], Any],
) -> None:
    other_creds = server.new_account()
    other = make_ec2(other_creds)
    theirs = create(other, "lb")
    db = create(ec2, "db")
    pair = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    authorize(ec2, db, {**pair, "UserIdGroupPairs": [{"UserId": other_creds.account_id, "GroupId": theirs}]})
    # Another account's group name is not disclosed in our Describe output.
    assert ingress(ec2, db) == [perm("tcp", (443, 443), pairs=[
        {"GroupId": theirs, "UserId": other_creds.account_id}])]
    with boto3_error("InvalidGroup.NotFound"):  # the group is not that account's
        authorize(ec2, db, {**pair, "FromPort": 444, "ToPort": 444,
                            "UserIdGroupPairs": [{"UserId": "111122223333", "GroupId": theirs}]})
    with boto3_error("InvalidGroup.NotFound"):  # a bare name is looked up in our own account
        authorize(ec2, db, {**pair, "UserIdGroupPairs": [{"GroupName": "lb"}]})
    with boto3_error("InvalidGroup.NotFound"):  # and the other account cannot change our group
        authorize(other, db, WEB)
    with boto3_error("DependencyViolation"):
        other.delete_security_group(GroupId=theirs)


def test_reference_another_accounts_group_by_owner_and_name_boto2(
    boto2: Any, ec2: Any, server: Server, make_ec2: Callable[[Credentials], Any]
) -> None:
    other_creds = server.new_account()
    theirs = create(make_ec2(other_creds), "lb")
    boto2.create_security_group("db", "x")
    assert boto2.authorize_security_group("db", src_security_group_name="lb",
                                          src_security_group_owner_id=other_creds.account_id,
                                          ip_protocol="tcp", from_port=443, to_port=443) is True
    (found,) = boto2.get_all_security_groups(groupnames=["db"])
    (rule,) = found.rules
    ((grant,),) = [rule.grants]
    assert (grant.group_id, grant.owner_id, grant.cidr_ip) == (theirs, other_creds.account_id, None)


def test_group_grant_without_protocol_boto2(boto2: Any, ec2: Any, account: Credentials) -> None:
    """EC2-Classic: granting a group with no protocol opens TCP, UDP and ICMP entirely."""
    web = boto2.create_security_group("web", "x")
    boto2.create_security_group("db", "x")
    assert boto2.authorize_security_group("db", src_security_group_name="web",
                                          src_security_group_owner_id=account.account_id) is True
    (db,) = boto2.get_all_security_groups(groupnames=["db"])
    seen = sorted((r.ip_protocol, r.from_port, r.to_port,
                   [(g.name, g.group_id, g.owner_id) for g in r.grants]) for r in db.rules)
    grant = [("web", web.id, account.account_id)]
    assert seen == [("icmp", "-1", "-1", grant), ("tcp", "0", "65535", grant),
                    ("udp", "0", "65535", grant)]
    with boto2_error("InvalidPermission.Duplicate"):
        boto2.authorize_security_group("db", src_security_group_name="web",
                                       src_security_group_owner_id=account.account_id)
    assert boto2.revoke_security_group("db", src_security_group_name="web",
                                       src_security_group_owner_id=account.account_id) is True
    assert ingress(ec2, db.id) == []


def test_group_grants_boto2(boto2: Any, ec2: Any, account: Credentials) -> None:
    web = boto2.create_security_group("web", "x")
    db = boto2.create_security_group("db", "x")
    assert db.authorize("tcp", 5432, 5432, src_group=web) is True
    assert boto2.authorize_security_group("db", ip_protocol="tcp", from_port=6379, to_port=6379,
                                          src_security_group_group_id=web.id) is True
    pair = {"GroupId": web.id, "GroupName": "web", "UserId": account.account_id}
    assert ingress(ec2, db.id) == [perm("tcp", (5432, 5432), pairs=[pair]),
                                   perm("tcp", (6379, 6379), pairs=[pair])]
    assert db.revoke("tcp", 5432, 5432, src_group=web) is True
    assert boto2.revoke_security_group("db", ip_protocol="tcp", from_port=6379, to_port=6379,
                                       src_security_group_group_id=web.id) is True
    assert ingress(ec2, db.id) == []


def test_flat_parameters_boto3(ec2: Any, account: Credentials) -> None:
    web, db = create(ec2, "web"), create(ec2, "db")
    ec2.authorize_security_group_ingress(GroupId=web, IpProtocol="tcp", FromPort=22, ToPort=22,
                                         CidrIp="10.0.0.0/8")
    ec2.authorize_security_group_ingress(GroupName="db", SourceSecurityGroupName="web",
                                         SourceSecurityGroupOwnerId=account.account_id)
    assert ingress(ec2, web) == [perm("tcp", (22, 22), v4=["10.0.0.0/8"])]
    pair = [{"GroupId": web, "GroupName": "web", "UserId": account.account_id}]
    assert ingress(ec2, db) == [perm("tcp", (0, 65535), pairs=pair), perm("udp", (0, 65535), pairs=pair),
                                perm("icmp", (-1, -1), pairs=pair)]
    with boto3_error("InvalidParameterCombination"):
        ec2.authorize_security_group_ingress(GroupId=web, CidrIp="0.0.0.0/0", IpPermissions=[WEB])
    with boto3_error("InvalidParameterCombination"):
        ec2.revoke_security_group_ingress(GroupId=web, IpProtocol="tcp", IpPermissions=[SSH])
    ec2.revoke_security_group_ingress(GroupId=web, IpProtocol="tcp", FromPort=22, ToPort=22,
                                      CidrIp="10.0.0.0/8")
    assert ingress(ec2, web) == []


# --- revoke ---------------------------------------------------------------------------------------


def test_revoke_boto3(ec2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, {**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "office"}]}, WEB)
    reply = ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[SSH])
    assert reply["Return"] is True
    assert "UnknownIpPermissions" not in reply
    (revoked,) = reply["RevokedSecurityGroupRules"]
    assert (revoked["IpProtocol"], revoked["FromPort"], revoked["CidrIpv4"], revoked["IsEgress"]) == (
        "tcp", 22, "10.0.0.0/8", False)
    assert ingress(ec2, web) == [perm("tcp", (80, 80), v4=["0.0.0.0/0"])]


def test_revoke_missing_rule(ec2: Any, aws: AwsCli, boto2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, WEB)
    with boto3_error("InvalidPermission.NotFound"):
        ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[SSH])
    with boto3_error("InvalidPermission.NotFound"):  # ports must match exactly
        ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[{**WEB, "ToPort": 81}])
    with cli_error("InvalidPermission.NotFound"):
        aws("ec2", "revoke-security-group-ingress", "--group-id", web, "--protocol", "tcp",
            "--port", "22", "--cidr", "10.0.0.0/8")
    with boto2_error("InvalidPermission.NotFound"):
        boto2.revoke_security_group("web", ip_protocol="tcp", from_port=22, to_port=22,
                                    cidr_ip="10.0.0.0/8")
    assert ingress(ec2, web) == [perm("tcp", (80, 80), v4=["0.0.0.0/0"])]


def test_revoke_partly_existing(ec2: Any, account: Credentials) -> None:
    web, app = create(ec2, "web"), create(ec2, "app")
    authorize(ec2, web, SSH, WEB)
    unknown_pair = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
                    "UserIdGroupPairs": [{"GroupId": app}]}
    reply = ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[
        {**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "192.168.0.0/16"}]}, unknown_pair])
    assert reply["Return"] is True
    assert [r["CidrIpv4"] for r in reply["RevokedSecurityGroupRules"]] == ["10.0.0.0/8"]
    assert reply["UnknownIpPermissions"] == [
        perm("tcp", (22, 22), v4=["192.168.0.0/16"]),
        perm("tcp", (8080, 8080), pairs=[{"GroupId": app, "UserId": account.account_id}]),
    ]
    assert ingress(ec2, web) == [perm("tcp", (80, 80), v4=["0.0.0.0/0"])]


def test_revoke_cli_and_boto2(aws: AwsCli, boto2: Any, ec2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, SSH, WEB)
    reply = aws("ec2", "revoke-security-group-ingress", "--group-name", "web", "--protocol", "tcp",
                "--port", "22", "--cidr", "10.0.0.0/8")
    assert reply["Return"] is True
    assert boto2.revoke_security_group(group_id=web, ip_protocol="tcp", from_port=80, to_port=80,
                                       cidr_ip="0.0.0.0/0") is True
    assert ingress(ec2, web) == []


def test_revoke_by_rule_ids(ec2: Any, aws: AwsCli) -> None:
    web = create(ec2, "web")
    ssh_rule, web_rule = (r["SecurityGroupRuleId"] for r in authorize(ec2, web, SSH, WEB)["SecurityGroupRules"])
    reply = ec2.revoke_security_group_ingress(GroupId=web, SecurityGroupRuleIds=[ssh_rule])
    assert reply["Return"] is True
    assert [r["SecurityGroupRuleId"] for r in reply["RevokedSecurityGroupRules"]] == [ssh_rule]
    assert ingress(ec2, web) == [perm("tcp", (80, 80), v4=["0.0.0.0/0"])]
    with boto3_error("InvalidParameterCombination"):
        ec2.revoke_security_group_ingress(GroupId=web, SecurityGroupRuleIds=[web_rule], IpPermissions=[WEB])
    aws("ec2", "revoke-security-group-ingress", "--group-id", web, "--security-group-rule-ids", web_rule)
    assert ingress(ec2, web) == []


def test_revoke_rule_ids_all_or_nothing(ec2: Any) -> None:
    web = create(ec2, "web")
    (ssh_rule,) = (r["SecurityGroupRuleId"] for r in authorize(ec2, web, SSH)["SecurityGroupRules"])
    (egress_rule,) = (r["SecurityGroupRuleId"] for r in ec2.authorize_security_group_egress(
        GroupId=web, IpPermissions=[WEB])["SecurityGroupRules"])
    with pytest.raises(ClientError) as caught:  # an egress rule's id is unknown to ingress
        ec2.revoke_security_group_ingress(GroupId=web, SecurityGroupRuleIds=[ssh_rule, egress_rule])
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert egress_rule in caught.value.response["Error"]["Message"]
    assert ingress(ec2, web) == [perm("tcp", (22, 22), v4=["10.0.0.0/8"])]
    assert len(egress(ec2, web)) == 2


def test_revoke_unknown_rule_id_code(ec2: Any) -> None:
    web = create(ec2, "web")
    with boto3_error("InvalidSecurityGroupRuleId.NotFound"):
        ec2.revoke_security_group_ingress(GroupId=web, SecurityGroupRuleIds=["sgr-0123456789abcdef0"])


def test_revoke_on_unknown_group(ec2: Any) -> None:
    with boto3_error("InvalidGroup.NotFound"):
        ec2.revoke_security_group_ingress(GroupName="nope", IpPermissions=[SSH])
    with boto3_error("InvalidGroupId.Malformed"):
        ec2.revoke_security_group_ingress(GroupId="sg-bad", IpPermissions=[SSH])


# --- egress ---------------------------------------------------------------------------------------


def test_egress_boto3(ec2: Any) -> None:
    app, web = create(ec2, "app"), create(ec2, "web")
    reply = ec2.authorize_security_group_egress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": app}]}])
    assert [r["IsEgress"] for r in reply["SecurityGroupRules"]] == [True, True]
    assert ingress(ec2, web) == []
    with boto3_error("InvalidPermission.Duplicate"):
        ec2.authorize_security_group_egress(GroupId=web, IpPermissions=ALL_EGRESS_REQUEST)
    ec2.revoke_security_group_egress(GroupId=web, IpPermissions=ALL_EGRESS_REQUEST)
    found = egress(ec2, web)
    assert [(p["IpProtocol"], p["FromPort"]) for p in found] == [("tcp", 443), ("tcp", 8080)]
    assert found[1]["UserIdGroupPairs"][0]["GroupId"] == app
    with boto3_error("InvalidPermission.NotFound"):
        ec2.revoke_security_group_egress(GroupId=web, IpPermissions=ALL_EGRESS_REQUEST)
    # Ingress and egress are separate lists: the same rule may be in both.
    authorize(ec2, web, {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]})


def test_egress_cli(aws: AwsCli, ec2: Any) -> None:
    web = create(ec2, "web")
    aws("ec2", "authorize-security-group-egress", "--group-id", web, "--ip-permissions",
        "IpProtocol=udp,FromPort=53,ToPort=53,IpRanges=[{CidrIp=10.0.0.2/32}]")
    aws("ec2", "revoke-security-group-egress", "--group-id", web, "--ip-permissions",
        "IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]")
    assert egress(ec2, web) == [perm("udp", (53, 53), v4=["10.0.0.2/32"])]


def test_egress_boto2(boto2: Any, ec2: Any) -> None:
    app = boto2.create_security_group("app", "x")
    web = boto2.create_security_group("web", "x")
    assert boto2.authorize_security_group_egress(web.id, "tcp", 443, 443, cidr_ip="10.0.0.0/8") is True
    assert boto2.authorize_security_group_egress(web.id, "tcp", 5432, 5432, src_group_id=app.id) is True
    assert boto2.revoke_security_group_egress(web.id, "-1", cidr_ip="0.0.0.0/0") is True
    (found,) = boto2.get_all_security_groups(group_ids=[web.id])
    assert found.rules == []
    seen = sorted((r.ip_protocol, r.from_port, [(g.cidr_ip, g.group_id) for g in r.grants])
                  for r in found.rules_egress)
    assert seen == [("tcp", "443", [("10.0.0.0/8", None)]), ("tcp", "5432", [(None, app.id)])]
    with boto2_error("InvalidPermission.Duplicate"):
        boto2.authorize_security_group_egress(web.id, "tcp", 443, 443, cidr_ip="10.0.0.0/8")


# --- limits ----------------------------------------------------------------------------------------


def _ranges(count: int, third_octet: int = 0) -> list[dict[str, str]]:
    return [{"CidrIp": f"10.{third_octet}.{n}.0/24"} for n in range(count)]


def test_sixty_first_ingress_rule(ec2: Any, boto2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, {**SSH, "IpRanges": _ranges(59)})
    with boto3_error("RulesPerSecurityGroupLimitExceeded"):  # 59 + 2: refused whole
        authorize(ec2, web, {**WEB, "IpRanges": _ranges(2, 1)})
    authorize(ec2, web, WEB)
    (permission_22, _) = ingress(ec2, web)
    assert len(permission_22["IpRanges"]) == 59
    with boto3_error("RulesPerSecurityGroupLimitExceeded"):
        authorize(ec2, web, {**WEB, "IpRanges": [{"CidrIp": "10.9.9.0/24"}]})
    with boto2_error("RulesPerSecurityGroupLimitExceeded"):
        boto2.authorize_security_group("web", ip_protocol="udp", from_port=53, to_port=53,
                                       cidr_ip="10.9.9.0/24")
    assert sum(len(p["IpRanges"]) for p in ingress(ec2, web)) == 60
    # Egress has its own allowance.
    ec2.authorize_security_group_egress(GroupId=web, IpPermissions=[{**WEB, "IpRanges": _ranges(59, 2)}])
    with boto3_error("RulesPerSecurityGroupLimitExceeded"):
        ec2.authorize_security_group_egress(GroupId=web, IpPermissions=[SSH])


def test_sixty_rules_in_one_request(ec2: Any) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, {**SSH, "IpRanges": _ranges(60)})
    with boto3_error("RulesPerSecurityGroupLimitExceeded"):
        authorize(ec2, web, WEB)
    db = create(ec2, "db")
    with boto3_error("RulesPerSecurityGroupLimitExceeded"):
        authorize(ec2, db, {**SSH, "IpRanges": _ranges(61)})
    assert ingress(ec2, db) == []


# --- DryRun ---------------------------------------------------------------------------------------


def test_dry_run_authorize_and_revoke(ec2: Any, aws: AwsCli, boto2: Any) -> None:
    web = create(ec2, "web")
    with boto3_error("DryRunOperation", 412):
        ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[SSH], DryRun=True)
    with cli_error("DryRunOperation"):
        aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp",
            "--port", "22", "--cidr", "10.0.0.0/8", "--dry-run")
    with boto2_error("DryRunOperation", 412):
        boto2.authorize_security_group("web", ip_protocol="tcp", from_port=22, to_port=22,
                                       cidr_ip="10.0.0.0/8", dry_run=True)
    assert ingress(ec2, web) == []
    authorize(ec2, web, SSH)
    with boto3_error("DryRunOperation", 412):
        ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[SSH], DryRun=True)
    with boto3_error("DryRunOperation", 412):
        ec2.revoke_security_group_egress(GroupId=web, IpPermissions=ALL_EGRESS_REQUEST, DryRun=True)
    with boto3_error("DryRunOperation", 412):
        ec2.authorize_security_group_egress(GroupId=web, IpPermissions=[SSH], DryRun=True)
    with boto2_error("DryRunOperation", 412):
        boto2.revoke_security_group("web", ip_protocol="tcp", from_port=22, to_port=22,
                                    cidr_ip="10.0.0.0/8", dry_run=True)
    assert ingress(ec2, web) == [perm("tcp", (22, 22), v4=["10.0.0.0/8"])]
    assert egress(ec2, web) == ALL_EGRESS


# --- descriptions ---------------------------------------------------------------------------------


def test_rule_descriptions(ec2: Any, aws: AwsCli) -> None:
    web, app = create(ec2, "web"), create(ec2, "app")
    longest = "d" * 255
    authorize(ec2, web, {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                         "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": longest}],
                         "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "v6 [all]"}],
                         "UserIdGroupPairs": [{"GroupId": app, "Description": "from app"}]})
    (found,) = aws("ec2", "describe-security-groups", "--group-ids", web)["SecurityGroups"]
    (permission,) = found["IpPermissions"]
    assert permission["IpRanges"] == [{"CidrIp": "10.0.0.0/8", "Description": longest}]
    assert permission["Ipv6Ranges"] == [{"CidrIpv6": "::/0", "Description": "v6 [all]"}]
    assert permission["UserIdGroupPairs"][0]["Description"] == "from app"
    # A rule is revoked without naming its description.
    ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[SSH])
    assert [len(p["IpRanges"]) for p in ingress(ec2, web)] == [0]


@pytest.mark.parametrize("where", ["IpRanges", "Ipv6Ranges", "UserIdGroupPairs"])
def test_rule_description_too_long(ec2: Any, where: str) -> None:
    web = create(ec2, "web")
    peer = {"IpRanges": {"CidrIp": "10.0.0.0/8"}, "Ipv6Ranges": {"CidrIpv6": "::/0"},
            "UserIdGroupPairs": {"GroupId": web}}[where]
    with boto3_error("InvalidParameterValue"):
        authorize(ec2, web, {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                             where: [{**peer, "Description": "d" * 256}]})
    assert ingress(ec2, web) == []


def test_unknown_prefix_list(ec2: Any) -> None:
    web = create(ec2, "web")
    with boto3_error("InvalidPrefixListId.NotFound"):
        authorize(ec2, web, {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                             "PrefixListIds": [{"PrefixListId": "pl-12345678"}]})


def test_concurrent_duplicates(ec2: Any, server: Server, account: Credentials,
                               make_ec2: Callable[[Credentials], Any]) -> None:
    """Racing clients authorizing one rule: exactly one wins, the others see Duplicate."""
    web = create(ec2, "web")
    outcomes = race([make_ec2(account) for _ in range(8)], lambda client, _n: authorize(client, web, SSH))
    assert outcomes == ["InvalidPermission.Duplicate"] * 7 + ["ok"]
    assert ingress(ec2, web) == [perm("tcp", (22, 22), v4=["10.0.0.0/8"])]


def test_concurrent_rules_near_the_limit(ec2: Any, account: Credentials,
                                         make_ec2: Callable[[Credentials], Any]) -> None:
    web = create(ec2, "web")
    authorize(ec2, web, {**SSH, "IpRanges": _ranges(59)})
    outcomes = race([make_ec2(account) for _ in range(6)],
                    lambda client, n: authorize(client, web, {**WEB, "IpRanges": _ranges(1, 10 + n)}))
    assert outcomes == ["RulesPerSecurityGroupLimitExceeded"] * 5 + ["ok"]
    assert sum(len(p["IpRanges"]) for p in ingress(ec2, web)) == 60

