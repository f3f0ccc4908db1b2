"""Security groups end to end: create, describe (ids, names, filters, paging), delete, DryRun.

Every behaviour is driven through boto3, the AWS CLI and boto 2.49 against a real server.
Rules (authorize/revoke) live in ``test_security_group_rules.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from boto.exception import EC2ResponseError
from botocore.config import Config
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import AwsCli, AwsCliError, Server

SG_ID = re.compile(r"sg-[0-9a-f]{17}")
ALL_EGRESS = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
               "PrefixListIds": [], "UserIdGroupPairs": []}]


# --- helpers shared with test_security_group_rules.py ---------------------------------------


@contextmanager
def boto3_error(code: str, status: int = 400) -> Iterator[None]:
    """Expect a boto3 ``ClientError`` with exactly this code and HTTP status."""
    with pytest.raises(ClientError) as caught:
        yield
    response = caught.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)


@contextmanager
def cli_error(code: str) -> Iterator[None]:
    with pytest.raises(AwsCliError) as caught:
        yield
    assert caught.value.code == code, caught.value.stderr
    assert caught.value.returncode != 0


@contextmanager
def boto2_error(code: str, status: int = 400) -> Iterator[None]:
    with pytest.raises(EC2ResponseError) as caught:
        yield
    assert (caught.value.error_code, caught.value.status) == (code, status)


def groups(ec2: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return list(ec2.describe_security_groups(**kwargs)["SecurityGroups"])


def names(found: list[dict[str, Any]]) -> list[str]:
    return sorted(g["GroupName"] for g in found)


def create(ec2: Any, name: str, description: str = "test group", **kwargs: Any) -> str:
    group_id: str = ec2.create_security_group(GroupName=name, Description=description,
                                              **kwargs)["GroupId"]
    return group_id


def group(ec2: Any, group_id: str) -> dict[str, Any]:
    (found,) = groups(ec2, GroupIds=[group_id])
    return found


def race(clients: list[Any], call: Callable[[Any, int], object]) -> list[str]:
    """Run ``call(client, n)`` for every client at once; the sorted error codes ("ok": success)."""

    def attempt(n: int) -> str:
        try:
            call(clients[n], n)
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "ok"

    with ThreadPoolExecutor(len(clients)) as pool:
        return sorted(pool.map(attempt, range(len(clients))))


# --- the default group ----------------------------------------------------------------------


def test_default_group_exists_boto3(ec2: Any, account: Credentials) -> None:
    (default,) = groups(ec2)
    assert default["GroupName"] == "default"
    assert SG_ID.fullmatch(default["GroupId"])
    assert default["OwnerId"] == account.account_id
    assert default["Description"] == "default group"
    assert default["IpPermissions"] == [{
        "IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
        "UserIdGroupPairs": [{"GroupId": default["GroupId"], "GroupName": "default",
                              "UserId": account.account_id}],
    }]
    assert default["IpPermissionsEgress"] == ALL_EGRESS
    assert "VpcId" not in default
    assert default["SecurityGroupArn"] == (
        f"arn:aws:ec2:us-east-1:{account.account_id}:security-group/{default['GroupId']}")


def test_default_group_exists_cli(aws: AwsCli, account: Credentials) -> None:
    (default,) = aws("ec2", "describe-security-groups", "--group-names", "default")["SecurityGroups"]
    assert (default["GroupName"], default["OwnerId"]) == ("default", account.account_id)
    assert default["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == default["GroupId"]


def test_default_group_exists_boto2(boto2: Any, account: Credentials) -> None:
    (default,) = boto2.get_all_security_groups()
    assert (default.name, default.owner_id, default.description) == (
        "default", account.account_id, "default group")
    assert SG_ID.fullmatch(default.id)
    (rule,) = default.rules
    assert (rule.ip_protocol, rule.from_port, rule.to_port) == ("-1", None, None)
    (grant,) = rule.grants
    assert (grant.group_id, grant.owner_id, grant.name, grant.cidr_ip) == (
        default.id, account.account_id, "default", None)
    (egress,) = default.rules_egress
    assert egress.ip_protocol == "-1"
    assert [g.cidr_ip for g in egress.grants] == ["0.0.0.0/0"]


def test_default_group_cannot_be_deleted(ec2: Any, aws: AwsCli, boto2: Any) -> None:
    (default,) = groups(ec2)
    with boto3_error("CannotDelete"):
        ec2.delete_security_group(GroupId=default["GroupId"])
    with boto3_error("CannotDelete"):
        ec2.delete_security_group(GroupName="default")
    with cli_error("CannotDelete"):
        aws("ec2", "delete-security-group", "--group-name", "default")
    with boto2_error("CannotDelete"):
        boto2.delete_security_group(group_id=default["GroupId"])
    assert groups(ec2) == [default]


def test_default_group_cannot_be_recreated(ec2: Any, aws: AwsCli, boto2: Any) -> None:
    with boto3_error("InvalidGroup.Reserved"):
        create(ec2, "default")
    with cli_error("InvalidGroup.Reserved"):
        aws("ec2", "create-security-group", "--group-name", "default", "--description", "x")
    with boto2_error("InvalidGroup.Reserved"):
        boto2.create_security_group("default", "again")
    assert names(groups(ec2)) == ["default"]


def test_every_account_has_its_own_default(ec2: Any, server: Server,
                                           make_ec2: Callable[[Credentials], Any]) -> None:
    (mine,) = groups(ec2)
    other = server.new_account()
    (theirs,) = groups(make_ec2(other))
    assert theirs["GroupName"] == "default" and theirs["OwnerId"] == other.account_id
    assert theirs["GroupId"] != mine["GroupId"]


# --- create --------------------------------------------------------------------------------


def test_create_boto3(ec2: Any, account: Credentials) -> None:
    reply = ec2.create_security_group(GroupName="web", Description="web servers")
    assert SG_ID.fullmatch(reply["GroupId"])
    found = group(ec2, reply["GroupId"])
    assert (found["GroupName"], found["Description"], found["OwnerId"]) == (
        "web", "web servers", account.account_id)
    assert found["IpPermissions"] == []
    assert found["IpPermissionsEgress"] == ALL_EGRESS
    assert names(groups(ec2)) == ["default", "web"]


def test_create_cli(aws: AwsCli) -> None:
    reply = aws("ec2", "create-security-group", "--group-name", "cli group",
                "--description", "made by the CLI")
    assert SG_ID.fullmatch(reply["GroupId"])
    (found,) = aws("ec2", "describe-security-groups", "--group-ids", reply["GroupId"])["SecurityGroups"]
    assert (found["GroupName"], found["Description"]) == ("cli group", "made by the CLI")


def test_create_boto2(boto2: Any, account: Credentials) -> None:
    made = boto2.create_security_group("legacy", "boto 2 group")
    assert SG_ID.fullmatch(made.id)
    (found,) = boto2.get_all_security_groups(groupnames=["legacy"])
    assert (found.id, found.name, found.description, found.owner_id) == (
        made.id, "legacy", "boto 2 group", account.account_id)
    assert found.rules == []


def test_duplicate_name(ec2: Any, aws: AwsCli, boto2: Any) -> None:
    first = create(ec2, "dup")
    with boto3_error("InvalidGroup.Duplicate"):
        create(ec2, "dup", "another description")
    with cli_error("InvalidGroup.Duplicate"):
        aws("ec2", "create-security-group", "--group-name", "dup", "--description", "x")
    with boto2_error("InvalidGroup.Duplicate"):
        boto2.create_security_group("dup", "x")
    (only,) = groups(ec2, GroupNames=["dup"])
    assert only["GroupId"] == first


def test_same_name_in_two_accounts(ec2: Any, server: Server,
                                   make_ec2: Callable[[Credentials], Any]) -> None:
    mine = create(ec2, "shared-name")
    theirs = create(make_ec2(server.new_account()), "shared-name")
    assert mine != theirs


def test_concurrent_creates_of_one_name(ec2: Any, account: Credentials,
                                         make_ec2: Callable[[Credentials], Any]) -> None:
    outcomes = race([make_ec2(account) for _ in range(6)], lambda client, _n: create(client, "race"))
    assert outcomes == ["InvalidGroup.Duplicate"] * 5 + ["ok"]
    assert names(groups(ec2)) == ["default", "race"]


@pytest.mark.parametrize("name", ["sg-web", "sg-12345678", "sg-0123456789abcdef0"])
def test_names_like_ids_are_refused(ec2: Any, boto2: Any, name: str) -> None:
    with boto3_error("InvalidParameterValue"):
        create(ec2, name)
    with boto2_error("InvalidParameterValue"):
        boto2.create_security_group(name, "x")
    assert names(groups(ec2)) == ["default"]


def test_names_containing_sg_are_fine(ec2: Any) -> None:
    create(ec2, "my-sg-web")
    assert names(groups(ec2)) == ["default", "my-sg-web"]


@pytest.mark.parametrize(("name", "description"), [("", "x"), ("x" * 256, "x"), ("ok", "x" * 256)])
def test_bad_name_or_description(ec2: Any, name: str, description: str) -> None:
    with boto3_error("InvalidParameterValue"):
        create(ec2, name, description)


def test_longest_name_and_description(ec2: Any) -> None:
    group_id = create(ec2, "n" * 255, "d" * 255)
    found = group(ec2, group_id)
    assert (found["GroupName"], found["Description"]) == ("n" * 255, "d" * 255)


def test_create_in_unknown_vpc(ec2: Any, boto2: Any) -> None:
    with boto2_error("InvalidVpcID.NotFound"):
        boto2.create_security_group("in-vpc", "x", vpc_id="vpc-12345678")
    assert names(groups(ec2)) == ["default"]


def test_create_with_tags_boto3(ec2: Any, boto2: Any) -> None:
    reply = ec2.create_security_group(
        GroupName="tagged", Description="x",
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": ""}]}],
    )
    assert reply["Tags"] == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": ""}]
    assert group(ec2, reply["GroupId"])["Tags"] == reply["Tags"]
    assert names(groups(ec2, Filters=[{"Name": "tag:env", "Values": ["prod"]}])) == ["tagged"]
    assert names(groups(ec2, Filters=[{"Name": "tag-key", "Values": ["team"]}])) == ["tagged"]
    assert groups(ec2, Filters=[{"Name": "tag:env", "Values": ["dev"]}]) == []
    (legacy,) = boto2.get_all_security_groups(filters={"tag:env": "prod"})
    assert (legacy.id, legacy.tags) == (reply["GroupId"], {"env": "prod", "team": ""})


def test_create_with_tags_cli(aws: AwsCli) -> None:
    reply = aws("ec2", "create-security-group", "--group-name", "tagged-cli", "--description", "x",
                "--tag-specifications", "ResourceType=security-group,Tags=[{Key=Name,Value=front}]")
    assert reply["Tags"] == [{"Key": "Name", "Value": "front"}]
    found = aws("ec2", "describe-security-groups", "--filters", "Name=tag:Name,Values=fr*")
    assert [g["GroupId"] for g in found["SecurityGroups"]] == [reply["GroupId"]]


def test_create_with_tags_for_another_resource_type(ec2: Any) -> None:
    with boto3_error("InvalidParameterValue"):
        ec2.create_security_group(GroupName="t", Description="x", TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}])
    assert names(groups(ec2)) == ["default"]


def test_create_with_reserved_tag_key(ec2: Any) -> None:
    with boto3_error("InvalidParameterValue"):
        ec2.create_security_group(GroupName="t", Description="x", TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": "aws:x", "Value": "b"}]}])
    assert names(groups(ec2)) == ["default"]


# --- describe by ids and names -----------------------------------------------------------------


def test_describe_by_ids_and_names(ec2: Any) -> None:
    web, db = create(ec2, "web"), create(ec2, "db")
    create(ec2, "cache")
    assert names(groups(ec2, GroupIds=[web, db])) == ["db", "web"]
    assert names(groups(ec2, GroupNames=["cache", "default"])) == ["cache", "default"]
    assert names(groups(ec2, GroupIds=[web], GroupNames=["web"])) == ["web"]
    assert names(groups(ec2)) == ["cache", "db", "default", "web"]


def test_describe_by_ids_and_names_boto2(ec2: Any, boto2: Any) -> None:
    web, db = create(ec2, "web"), create(ec2, "db")
    assert sorted(g.id for g in boto2.get_all_security_groups(group_ids=[web, db])) == sorted([web, db])
    assert [g.id for g in boto2.get_all_security_groups(groupnames=["web"])] == [web]


def test_describe_unknown_ids_and_names(ec2: Any, aws: AwsCli, boto2: Any) -> None:
    web = create(ec2, "web")
    missing = "sg-0123456789abcdef0"
    with boto3_error("InvalidGroup.NotFound"):
        groups(ec2, GroupIds=[web, missing])
    with boto3_error("InvalidGroup.NotFound"):
        groups(ec2, GroupNames=["web", "nope"])
    with boto3_error("InvalidGroup.NotFound"):
        groups(ec2, GroupIds=["sg-12345678"])
    with cli_error("InvalidGroup.NotFound"):
        aws("ec2", "describe-security-groups", "--group-ids", missing)
    with boto2_error("InvalidGroup.NotFound"):
        boto2.get_all_security_groups(groupnames=["nope"])
    with boto2_error("InvalidGroup.NotFound"):
        boto2.get_all_security_groups(group_ids=[missing])


@pytest.mark.parametrize("bad", ["sg-xyz", "web", "sg-0123456789ABCDEF0", "sg-123", "i-12345678", "sg-"])
def test_describe_malformed_ids(ec2: Any, boto2: Any, bad: str) -> None:
    with boto3_error("InvalidGroupId.Malformed"):
        groups(ec2, GroupIds=[bad])
    with boto2_error("InvalidGroupId.Malformed"):
        boto2.get_all_security_groups(group_ids=[bad])


def test_other_accounts_groups_are_invisible(ec2: Any, server: Server,
                                             make_ec2: Callable[[Credentials], Any]) -> None:
    other = make_ec2(server.new_account())
    theirs = create(other, "theirs")
    assert names(groups(ec2)) == ["default"]
    with boto3_error("InvalidGroup.NotFound"):
        groups(ec2, GroupIds=[theirs])
    with boto3_error("InvalidGroup.NotFound"):
        groups(ec2, GroupNames=["theirs"])
    assert groups(ec2, Filters=[{"Name": "group-id", "Values": [theirs]}]) == []


# --- filters -------------------------------------------------------------------------------------


def _fixture_groups(ec2: Any) -> dict[str, str]:
    ids = {name: create(ec2, name, desc) for name, desc in
           [("web-1", "front end"), ("web-2", "front end"), ("db", "database tier"), ("webby", "x")]}
    ec2.authorize_security_group_ingress(GroupId=ids["web-1"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
    ])
    ec2.authorize_security_group_ingress(GroupId=ids["db"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupId": ids["web-1"]}]},
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]},
    ])
    ec2.revoke_security_group_egress(GroupId=ids["db"], IpPermissions=ALL_EGRESS_REQUEST)
    ec2.authorize_security_group_egress(GroupId=ids["db"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "192.168.0.0/16"}]}])
    ec2.create_tags(Resources=[ids["web-1"], ids["web-2"]], Tags=[{"Key": "tier", "Value": "web"}])
    return ids


ALL_EGRESS_REQUEST = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"group-name": ["web-*"]}, ["web-1", "web-2"]),
        ({"group-name": ["web?"]}, []),
        ({"group-name": ["web-?"]}, ["web-1", "web-2"]),
        ({"group-name": ["web*"]}, ["web-1", "web-2", "webby"]),
        ({"group-name": ["db", "webby"]}, ["db", "webby"]),
        ({"description": ["front end"]}, ["web-1", "web-2"]),
        ({"description": ["*tier"]}, ["db"]),
        ({"ip-permission.cidr": ["0.0.0.0/0"]}, ["web-1"]),
        ({"ip-permission.cidr": ["10.*"]}, ["web-1"]),
        ({"ip-permission.ipv6-cidr": ["2001:db8::/32"]}, ["db"]),
        ({"ip-permission.from-port": ["22"]}, ["web-1"]),
        ({"ip-permission.from-port": ["5432", "53"]}, ["db"]),
        ({"ip-permission.to-port": ["80"]}, ["web-1"]),
        ({"ip-permission.protocol": ["udp"]}, ["db"]),
        ({"ip-permission.protocol": ["tcp"]}, ["db", "web-1"]),
        ({"ip-permission.protocol": ["-1"]}, ["default"]),
        ({"ip-permission.from-port": ["22"], "ip-permission.protocol": ["udp"]}, []),
        ({"egress.ip-permission.cidr": ["192.168.0.0/16"]}, ["db"]),
        ({"egress.ip-permission.cidr": ["0.0.0.0/0"]}, ["default", "web-1", "web-2", "webby"]),
        ({"egress.ip-permission.protocol": ["tcp"]}, ["db"]),
        ({"egress.ip-permission.from-port": ["443"]}, ["db"]),
        ({"egress.ip-permission.to-port": ["80"]}, []),
        ({"tag:tier": ["web"]}, ["web-1", "web-2"]),
        ({"tag-value": ["w*"]}, ["web-1", "web-2"]),
        ({"tag:tier": ["web"], "group-name": ["*2"]}, ["web-2"]),
    ],
)
def test_filters(ec2: Any, filters: dict[str, list[str]], expected: list[str]) -> None:
    _fixture_groups(ec2)
    wire = [{"Name": key, "Values": values} for key, values in filters.items()]
    assert names(groups(ec2, Filters=wire)) == expected


def test_filters_on_group_references_and_owner(ec2: Any, account: Credentials,
                                               server: Server) -> None:
    ids = _fixture_groups(ec2)
    by_peer = groups(ec2, Filters=[{"Name": "ip-permission.group-id", "Values": [ids["web-1"]]}])
    assert names(by_peer) == ["db"]
    by_user = groups(ec2, Filters=[{"Name": "ip-permission.user-id", "Values": [account.account_id]}])
    assert names(by_user) == ["db", "default"]
    owned = groups(ec2, Filters=[{"Name": "owner-id", "Values": [account.account_id]}])
    assert names(owned) == ["db", "default", "web-1", "web-2", "webby"]
    assert groups(ec2, Filters=[{"Name": "owner-id", "Values": [server.admin.account_id]}]) == []
    assert names(groups(ec2, Filters=[{"Name": "group-id", "Values": [ids["db"]]}])) == ["db"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [("ip-permission.group-name", "web-1", ["db"]), ("ip-permission.group-name", "default", ["default"]),
     ("ip-permission.group-name", "web-*", ["db"]), ("egress.ip-permission.group-name", "web-1", []),
     ("egress.ip-permission.group-id", "*", [])],
)
def test_filters_on_referenced_group_names(ec2: Any, name: str, value: str,
                                           expected: list[str]) -> None:
    _fixture_groups(ec2)
    assert names(groups(ec2, Filters=[{"Name": name, "Values": [value]}])) == expected


def test_filters_with_ids(ec2: Any) -> None:
    ids = _fixture_groups(ec2)
    found = groups(ec2, GroupIds=[ids["web-1"], ids["db"]],
                   Filters=[{"Name": "ip-permission.from-port", "Values": ["22"]}])
    assert names(found) == ["web-1"]


def test_unknown_filter(ec2: Any, boto2: Any) -> None:
    with boto3_error("InvalidParameterValue"):
        groups(ec2, Filters=[{"Name": "instance-id", "Values": ["i-12345678"]}])
    with boto2_error("InvalidParameterValue"):
        boto2.get_all_security_groups(filters={"colour": "blue"})


def test_filters_cli(aws: AwsCli, ec2: Any) -> None:
    _fixture_groups(ec2)
    found = aws("ec2", "describe-security-groups", "--filters",
                "Name=ip-permission.from-port,Values=22", "Name=ip-permission.cidr,Values=10.0.0.0/8")
    assert names(found["SecurityGroups"]) == ["web-1"]
    found = aws("ec2", "describe-security-groups", "--filters", "Name=group-name,Values=web-*",
                "--query", "SecurityGroups[].GroupName")
    assert sorted(found) == ["web-1", "web-2"]


def test_filters_boto2(boto2: Any, ec2: Any) -> None:
    _fixture_groups(ec2)
    assert sorted(g.name for g in boto2.get_all_security_groups(filters={"group-name": "web-*"})) == [
        "web-1", "web-2"]
    by_port = boto2.get_all_security_groups(filters={"ip-permission.from-port": "5432"})
    assert [g.name for g in by_port] == ["db"]
    both = boto2.get_all_security_groups(filters={"ip-permission.protocol": "tcp",
                                                  "description": "front*"})
    assert [g.name for g in both] == ["web-1"]
    assert [g.name for g in boto2.get_all_security_groups(filters={"tag:tier": "web"},
                                                         groupnames=["web-2"])] == ["web-2"]


# --- paging -----------------------------------------------------------------------------------


def test_paging_boto3(ec2: Any) -> None:
    for n in range(7):
        create(ec2, f"page-{n}")
    first = ec2.describe_security_groups(MaxResults=5)
    assert len(first["SecurityGroups"]) == 5
    assert first["NextToken"]
    second = ec2.describe_security_groups(MaxResults=5, NextToken=first["NextToken"])
    assert len(second["SecurityGroups"]) == 3
    assert "NextToken" not in second
    seen = [g["GroupId"] for g in first["SecurityGroups"] + second["SecurityGroups"]]
    assert len(set(seen)) == 8
    assert names(first["SecurityGroups"] + second["SecurityGroups"]) == names(groups(ec2))


def test_paging_with_filters(ec2: Any) -> None:
    for n in range(7):
        create(ec2, f"page-{n}")
    filters = [{"Name": "group-name", "Values": ["page-*"]}]
    first = ec2.describe_security_groups(MaxResults=5, Filters=filters)
    rest = ec2.describe_security_groups(MaxResults=5, Filters=filters, NextToken=first["NextToken"])
    assert names(first["SecurityGroups"] + rest["SecurityGroups"]) == [f"page-{n}" for n in range(7)]


def test_paginator_boto3(ec2: Any) -> None:
    for n in range(11):
        create(ec2, f"p{n:02}")
    pages = list(ec2.get_paginator("describe_security_groups").paginate(
        PaginationConfig={"PageSize": 5}))
    assert [len(page["SecurityGroups"]) for page in pages] == [5, 5, 2]
    everything = [g for page in pages for g in page["SecurityGroups"]]
    assert names(everything) == ["default"] + [f"p{n:02}" for n in range(11)]


def test_paging_cli(aws: AwsCli, ec2: Any) -> None:
    for n in range(6):
        create(ec2, f"cli-{n}")
    everything = aws("ec2", "describe-security-groups", "--page-size", "5")["SecurityGroups"]
    assert names(everything) == ["cli-0", "cli-1", "cli-2", "cli-3", "cli-4", "cli-5", "default"]
    part = aws("ec2", "describe-security-groups", "--max-items", "3")
    assert len(part["SecurityGroups"]) == 3 and part["NextToken"]
    rest = aws("ec2", "describe-security-groups", "--max-items", "10",
               "--starting-token", part["NextToken"])
    assert names(part["SecurityGroups"] + rest["SecurityGroups"]) == names(everything)


def unvalidated_ec2(server: Server, creds: Credentials) -> Any:
    """A boto3 client that sends what it is given: botocore itself refuses MaxResults < 5."""
    config = Config(retries={"max_attempts": 1}, parameter_validation=False)
    return boto3.session.Session().client(
        "ec2", region_name="us-east-1", endpoint_url=server.endpoint, config=config,
        aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key)


@pytest.mark.parametrize("value", [4, 1001, 0, -1])
def test_max_results_bounds(server: Server, account: Credentials, value: int) -> None:
    with boto3_error("InvalidParameterValue"):
        unvalidated_ec2(server, account).describe_security_groups(MaxResults=value)


def test_max_results_with_ids_or_names(ec2: Any, aws: AwsCli) -> None:
    web = create(ec2, "web")
    with boto3_error("InvalidParameterCombination"):
        ec2.describe_security_groups(GroupIds=[web], MaxResults=5)
    with boto3_error("InvalidParameterCombination"):
        ec2.describe_security_groups(GroupNames=["web"], MaxResults=5)
    with cli_error("InvalidParameterCombination"):
        aws("ec2", "describe-security-groups", "--group-ids", web, "--max-results", "5")


def test_bad_next_token(ec2: Any) -> None:
    with boto3_error("InvalidPaginationToken"):
        ec2.describe_security_groups(MaxResults=5, NextToken="not-a-token")


# --- delete --------------------------------------------------------------------------------------


def test_delete_boto3(ec2: Any) -> None:
    by_id, by_name = create(ec2, "by-id"), create(ec2, "by-name")
    reply = ec2.delete_security_group(GroupId=by_id)
    assert reply["Return"] is True
    assert reply["GroupId"] == by_id
    ec2.delete_security_group(GroupName="by-name")
    assert names(groups(ec2)) == ["default"]
    with boto3_error("InvalidGroup.NotFound"):
        groups(ec2, GroupIds=[by_id, by_name][:1])
    with boto3_error("InvalidGroup.NotFound"):
        ec2.delete_security_group(GroupId=by_id)
    with boto3_error("InvalidGroup.NotFound"):
        ec2.delete_security_group(GroupName="by-name")


def test_delete_cli(aws: AwsCli, ec2: Any) -> None:
    group_id = create(ec2, "cli-del")
    assert aws("ec2", "delete-security-group", "--group-id", group_id)["Return"] is True
    create(ec2, "cli-del-2")
    aws("ec2", "delete-security-group", "--group-name", "cli-del-2")
    assert names(groups(ec2)) == ["default"]
    with cli_error("InvalidGroup.NotFound"):
        aws("ec2", "delete-security-group", "--group-id", group_id)


def test_delete_boto2(boto2: Any, ec2: Any) -> None:
    made = boto2.create_security_group("b2-del", "x")
    assert boto2.delete_security_group(group_id=made.id) is True
    boto2.create_security_group("b2-del-2", "x")
    assert boto2.delete_security_group(name="b2-del-2") is True
    assert [g.name for g in boto2.get_all_security_groups()] == ["default"]
    with boto2_error("InvalidGroup.NotFound"):
        boto2.delete_security_group(name="b2-del")


def test_delete_frees_the_name(ec2: Any) -> None:
    old = create(ec2, "again")
    ec2.delete_security_group(GroupId=old)
    new = create(ec2, "again")
    assert new != old
    assert group(ec2, new)["IpPermissions"] == []


def test_delete_drops_tags(ec2: Any) -> None:
    group_id = create(ec2, "tagged", TagSpecifications=[
        {"ResourceType": "security-group", "Tags": [{"Key": "k", "Value": "v"}]}])
    ec2.delete_security_group(GroupId=group_id)
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [group_id]}])["Tags"]
    assert tags == []


def test_delete_malformed_or_missing(ec2: Any) -> None:
    with boto3_error("InvalidGroupId.Malformed"):
        ec2.delete_security_group(GroupId="sg-nothex")
    with boto3_error("InvalidGroup.NotFound"):
        ec2.delete_security_group(GroupId="sg-0123456789abcdef0")


def test_delete_another_accounts_group(ec2: Any, server: Server,
                                       make_ec2: Callable[[Credentials], Any]) -> None:
    other = make_ec2(server.new_account())
    theirs = create(other, "theirs")
    with boto3_error("InvalidGroup.NotFound"):
        ec2.delete_security_group(GroupId=theirs)
    assert names(groups(other, GroupIds=[theirs])) == ["theirs"]


def test_delete_group_referenced_by_another(ec2: Any, aws: AwsCli, boto2: Any) -> None:
    app, db = create(ec2, "app"), create(ec2, "db")
    permission = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                  "UserIdGroupPairs": [{"GroupId": app}]}
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[permission])
    with boto3_error("DependencyViolation"):
        ec2.delete_security_group(GroupId=app)
    with cli_error("DependencyViolation"):
        aws("ec2", "delete-security-group", "--group-name", "app")
    with boto2_error("DependencyViolation"):
        boto2.delete_security_group(name="app")
    assert names(groups(ec2)) == ["app", "db", "default"]
    ec2.revoke_security_group_ingress(GroupId=db, IpPermissions=[permission])
    ec2.delete_security_group(GroupId=app)
    assert names(groups(ec2)) == ["db", "default"]


def test_delete_group_referenced_by_an_egress_rule(ec2: Any) -> None:
    app, web = create(ec2, "app"), create(ec2, "web")
    ec2.authorize_security_group_egress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": app}]}])
    with boto3_error("DependencyViolation"):
        ec2.delete_security_group(GroupId=app)


def test_delete_group_referenced_from_another_account(
    ec2: Any, account: Credentials, server: Server, make_ec2: Callable[[Credentials], Any]
) -> None:
    mine = create(ec2, "mine")
    other = make_ec2(server.new_account())
    theirs = create(other, "theirs")
    other.authorize_security_group_ingress(GroupId=theirs, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "UserIdGroupPairs": [{"GroupId": mine, "UserId": account.account_id}]}])
    with boto3_error("DependencyViolation"):
        ec2.delete_security_group(GroupId=mine)


def test_delete_group_referencing_itself(ec2: Any) -> None:
    cluster = create(ec2, "cluster")
    ec2.authorize_security_group_ingress(GroupId=cluster, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": cluster}]}])
    ec2.delete_security_group(GroupId=cluster)
    assert names(groups(ec2)) == ["default"]


def test_delete_group_that_references_others(ec2: Any) -> None:
    app, db = create(ec2, "app"), create(ec2, "db")
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": app}]}])
    ec2.delete_security_group(GroupId=db)
    ec2.delete_security_group(GroupId=app)
    assert names(groups(ec2)) == ["default"]


# --- DryRun -------------------------------------------------------------------------------------


def test_dry_run_create_boto3(ec2: Any) -> None:
    with boto3_error("DryRunOperation", 412):
        ec2.create_security_group(GroupName="dry", Description="x", DryRun=True)
    assert names(groups(ec2)) == ["default"]


def test_dry_run_create_cli_and_boto2(aws: AwsCli, boto2: Any, ec2: Any) -> None:
    with cli_error("DryRunOperation"):
        aws("ec2", "create-security-group", "--group-name", "dry", "--description", "x", "--dry-run")
    with boto2_error("DryRunOperation", 412):
        boto2.create_security_group("dry", "x", dry_run=True)
    assert names(groups(ec2)) == ["default"]


def test_dry_run_delete(ec2: Any, boto2: Any) -> None:
    group_id = create(ec2, "keep")
    with boto3_error("DryRunOperation", 412):
        ec2.delete_security_group(GroupId=group_id, DryRun=True)
    with boto2_error("DryRunOperation", 412):
        boto2.delete_security_group(group_id=group_id, dry_run=True)
    assert names(groups(ec2)) == ["default", "keep"]


def test_dry_run_describe(ec2: Any, boto2: Any) -> None:
    with boto3_error("DryRunOperation", 412):
        ec2.describe_security_groups(DryRun=True)
    with boto2_error("DryRunOperation", 412):
        boto2.get_all_security_groups(dry_run=True)


def test_error_envelope_cli(aws: AwsCli) -> None:
    with pytest.raises(AwsCliError) as caught:
        aws("ec2", "delete-security-group", "--group-name", "nope")
    assert "An error occurred (InvalidGroup.NotFound) when calling the DeleteSecurityGroup " \
           "operation: The security group 'nope' does not exist" in caught.value.stderr


def test_describe_output_fields_cli(aws: AwsCli) -> None:
    (default,) = aws("ec2", "describe-security-groups")["SecurityGroups"]
    assert {"Description", "GroupName", "IpPermissions", "OwnerId", "GroupId", "IpPermissionsEgress",
            "SecurityGroupArn"} <= set(default)
    assert "VpcId" not in default
