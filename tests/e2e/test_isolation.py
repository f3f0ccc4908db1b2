"""Accounts are walled off: key pairs, security groups and tags of one are invisible to another.

The owner works through boto3; the other account (the "intruder") through each of boto3, the AWS
CLI and boto 2.49 in turn.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from boto.ec2.connection import EC2Connection
from boto.ec2.keypair import KeyPair as Boto2KeyPair
from boto.ec2.securitygroup import SecurityGroup as Boto2Group
from boto.ec2.tag import Tag as Boto2Tag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from controller.identity.service import Credentials
from tests.conftest import AwsCli, Clients, Server
from tests.e2e.refusals import refusal

CLIENTS = ["boto3", "cli", "boto2"]
Row = tuple[str, str, str, str]  # (resource id, resource type, key, value)


def assert_not_found(call: Callable[[], Any], code: str, resource: str) -> None:
    refused = refusal(call)
    assert refused.code == code, refused
    assert refused.status in (400, None), refused
    assert resource in refused.message, refused


# --- the other account, through each client -----------------------------------------------------


class Boto3Api:
    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2

    def key_pairs(self, names: Sequence[str] = (), ids: Sequence[str] = (),
                  filters: dict[str, list[str]] | None = None) -> list[tuple[str, str]]:
        reply = self.ec2.describe_key_pairs(
            KeyNames=list(names), KeyPairIds=list(ids),
            Filters=[{"Name": k, "Values": v} for k, v in (filters or {}).items()])
        return [(p["KeyPairId"], p["KeyName"]) for p in reply["KeyPairs"]]

    def create_key_pair(self, name: str) -> str:
        return str(self.ec2.create_key_pair(KeyName=name)["KeyPairId"])

    def import_key_pair(self, name: str, material: bytes) -> tuple[str, str]:
        reply = self.ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material)
        return reply["KeyPairId"], reply["KeyFingerprint"]

    def delete_key_pair(self, name: str | None = None, pair_id: str | None = None) -> None:
        self.ec2.delete_key_pair(**({"KeyName": name} if name else {"KeyPairId": pair_id}))

    def groups(self, ids: Sequence[str] = (), names: Sequence[str] = (),
               filters: dict[str, list[str]] | None = None) -> list[tuple[str, str, str]]:
        reply = self.ec2.describe_security_groups(
            GroupIds=list(ids), GroupNames=list(names),
            Filters=[{"Name": k, "Values": v} for k, v in (filters or {}).items()])
        return [(g["GroupId"], g["GroupName"], g["OwnerId"]) for g in reply["SecurityGroups"]]

    def create_group(self, name: str) -> str:
        return str(self.ec2.create_security_group(GroupName=name, Description="d")["GroupId"])

    def delete_group(self, group_id: str | None = None, name: str | None = None) -> None:
        self.ec2.delete_security_group(**({"GroupId": group_id} if group_id else
                                          {"GroupName": name}))

    def create_tags(self, resources: Sequence[str], tags: dict[str, str]) -> None:
        self.ec2.create_tags(Resources=list(resources),
                             Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def delete_tags(self, resources: Sequence[str], keys: Sequence[str] | None = None) -> None:
        extra = {"Tags": [{"Key": k} for k in keys]} if keys is not None else {}
        self.ec2.delete_tags(Resources=list(resources), **extra)

    def tags(self, filters: dict[str, list[str]] | None = None) -> list[Row]:
        reply = self.ec2.describe_tags(
            Filters=[{"Name": k, "Values": v} for k, v in (filters or {}).items()])
        return sorted((t["ResourceId"], t["ResourceType"], t["Key"], t["Value"])
                      for t in reply["Tags"])


class CliApi:
    def __init__(self, aws: AwsCli) -> None:
        self.aws = aws

    @staticmethod
    def _filters(filters: dict[str, list[str]] | None) -> list[str]:
        if not filters:
            return []
        return ["--filters", json.dumps([{"Name": k, "Values": v} for k, v in filters.items()])]

    def key_pairs(self, names: Sequence[str] = (), ids: Sequence[str] = (),
                  filters: dict[str, list[str]] | None = None) -> list[tuple[str, str]]:
        args = ["ec2", "describe-key-pairs", *self._filters(filters)]
        args += ["--key-names", *names] if names else []
        args += ["--key-pair-ids", *ids] if ids else []
        return [(p["KeyPairId"], p["KeyName"]) for p in self.aws(*args)["KeyPairs"]]

    def create_key_pair(self, name: str) -> str:
        return str(self.aws("ec2", "create-key-pair", "--key-name", name)["KeyPairId"])

    def import_key_pair(self, name: str, material: bytes) -> tuple[str, str]:
        # AWS CLI v1 sends a blob given on the command line as its raw bytes
        reply = self.aws("ec2", "import-key-pair", "--key-name", name,
                         "--public-key-material", material.decode())
        return reply["KeyPairId"], reply["KeyFingerprint"]

    def delete_key_pair(self, name: str | None = None, pair_id: str | None = None) -> None:
        option = ["--key-name", name] if name else ["--key-pair-id", str(pair_id)]
        self.aws("ec2", "delete-key-pair", *option)

    def groups(self, ids: Sequence[str] = (), names: Sequence[str] = (),
               filters: dict[str, list[str]] | None = None) -> list[tuple[str, str, str]]:
        args = ["ec2", "describe-security-groups", *self._filters(filters)]
        args += ["--group-ids", *ids] if ids else []
        args += ["--group-names", *names] if names else []
        return [(g["GroupId"], g["GroupName"], g["OwnerId"])
                for g in self.aws(*args)["SecurityGroups"]]

    def create_group(self, name: str) -> str:
        reply = self.aws("ec2", "create-security-group", "--group-name", name,
                         "--description", "d")
        return str(reply["GroupId"])

    def delete_group(self, group_id: str | None = None, name: str | None = None) -> None:
        option = ["--group-id", str(group_id)] if group_id else ["--group-name", str(name)]
        self.aws("ec2", "delete-security-group", *option)

    def create_tags(self, resources: Sequence[str], tags: dict[str, str]) -> None:
        self.aws("ec2", "create-tags", "--resources", *resources, "--tags",
                 json.dumps([{"Key": k, "Value": v} for k, v in tags.items()]))

    def delete_tags(self, resources: Sequence[str], keys: Sequence[str] | None = None) -> None:
        extra = ["--tags", json.dumps([{"Key": k} for k in keys])] if keys is not None else []
        self.aws("ec2", "delete-tags", "--resources", *resources, *extra)

    def tags(self, filters: dict[str, list[str]] | None = None) -> list[Row]:
        reply = self.aws("ec2", "describe-tags", *self._filters(filters))
        return sorted((t["ResourceId"], t["ResourceType"], t["Key"], t["Value"])
                      for t in reply["Tags"])


class Boto2Api:
    def __init__(self, conn: EC2Connection) -> None:
        self.conn = conn

    def key_pairs(self, names: Sequence[str] = (), ids: Sequence[str] = (),
                  filters: dict[str, list[str]] | None = None) -> list[tuple[str, str]]:
        if ids:  # boto 2 predates key pair ids: KeyPairId.N goes on the wire as EC2 defines it
            params: dict[str, Any] = {}
            self.conn.build_list_params(params, list(ids), "KeyPairId")
            found = self.conn.get_list("DescribeKeyPairs", params, [("item", Boto2KeyPair)],
                                       verb="POST")
        else:
            found = self.conn.get_all_key_pairs(keynames=list(names) or None, filters=filters)
        return [(p.keyPairId, p.name) for p in found]

    def create_key_pair(self, name: str) -> str:
        return str(self.conn.create_key_pair(name).keyPairId)

    def import_key_pair(self, name: str, material: bytes) -> tuple[str, str]:
        pair = self.conn.import_key_pair(name, material)
        return pair.keyPairId, pair.fingerprint

    def delete_key_pair(self, name: str | None = None, pair_id: str | None = None) -> None:
        if name:
            assert self.conn.delete_key_pair(name) is True
        else:
            assert self.conn.get_status("DeleteKeyPair", {"KeyPairId": pair_id}, verb="POST")

    def groups(self, ids: Sequence[str] = (), names: Sequence[str] = (),
               filters: dict[str, list[str]] | None = None) -> list[tuple[str, str, str]]:
        found: list[Boto2Group] = self.conn.get_all_security_groups(
            groupnames=list(names) or None, group_ids=list(ids) or None, filters=filters)
        return [(g.id, g.name, g.owner_id) for g in found]

    def create_group(self, name: str) -> str:
        return str(self.conn.create_security_group(name, "d").id)

    def delete_group(self, group_id: str | None = None, name: str | None = None) -> None:
        assert self.conn.delete_security_group(name=name, group_id=group_id) is True

    def create_tags(self, resources: Sequence[str], tags: dict[str, str]) -> None:
        assert self.conn.create_tags(list(resources), tags) is True

    def delete_tags(self, resources: Sequence[str], keys: Sequence[str] | None = None) -> None:
        assert self.conn.delete_tags(list(resources), list(keys or [])) is True

    def tags(self, filters: dict[str, list[str]] | None = None) -> list[Row]:
        found: list[Boto2Tag] = self.conn.get_all_tags(filters=filters)
        return sorted((t.res_id, t.res_type, t.name, t.value or "") for t in found)


Api = Boto3Api | CliApi | Boto2Api


@dataclass(frozen=True)
class Estate:
    """What the owner made: ids, its account, and the public key it imported."""

    account: Credentials
    key_id: str
    imported_id: str
    imported_fingerprint: str
    group_id: str
    default_group_id: str
    public_key: bytes
    tags: list[Row]


@pytest.fixture
def owner(account: Credentials, ec2: Any) -> Estate:
    public = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    key_id = ec2.create_key_pair(KeyName="shared")["KeyPairId"]
    imported = ec2.import_key_pair(KeyName="shared-imported", PublicKeyMaterial=public)
    group_id = ec2.create_security_group(GroupName="shared-sg", Description="d")["GroupId"]
    default = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    ec2.create_tags(Resources=[key_id, imported["KeyPairId"]], Tags=[{"Key": "Env",
                                                                      "Value": "prod"}])
    ec2.create_tags(Resources=[group_id, default], Tags=[{"Key": "Team", "Value": "owner"}])
    return Estate(account, key_id, imported["KeyPairId"], imported["KeyFingerprint"], group_id,
                  default, public, owner_tags(ec2))


def owner_tags(ec2: Any) -> list[Row]:
    return sorted((t["ResourceId"], t["ResourceType"], t["Key"], t["Value"])
                  for t in ec2.describe_tags()["Tags"])


def owner_key_pairs(ec2: Any) -> list[tuple[str, str]]:
    return sorted((p["KeyPairId"], p["KeyName"]) for p in ec2.describe_key_pairs()["KeyPairs"])


def owner_groups(ec2: Any) -> list[tuple[str, str]]:
    return sorted((g["GroupId"], g["GroupName"])
                  for g in ec2.describe_security_groups()["SecurityGroups"])


@pytest.fixture
def other_account(server: Server) -> Credentials:
    return server.new_account()


@pytest.fixture(params=CLIENTS)
def intruder(request: pytest.FixtureRequest, clients: Clients, other_account: Credentials) -> Api:
    """A second account, through one client (only that client is built)."""
    if request.param == "boto3":
        return Boto3Api(clients.ec2(other_account))
    if request.param == "cli":
        return CliApi(clients.aws(other_account))
    return Boto2Api(clients.boto2(other_account))


# --- seeing -------------------------------------------------------------------------------------


def test_sees_none_of_the_key_pairs(intruder: Api, owner: Estate) -> None:
    assert intruder.key_pairs() == []
    assert intruder.key_pairs(filters={"key-name": ["shared*"]}) == []
    assert intruder.key_pairs(filters={"key-pair-id": [owner.key_id]}) == []
    assert intruder.key_pairs(filters={"fingerprint": [owner.imported_fingerprint]}) == []
    assert intruder.key_pairs(filters={"tag:Env": ["prod"]}) == []
    assert_not_found(lambda: intruder.key_pairs(names=["shared"]), "InvalidKeyPair.NotFound",
                     "shared")
    assert_not_found(lambda: intruder.key_pairs(ids=[owner.key_id]), "InvalidKeyPair.NotFound",
                     owner.key_id)


def test_sees_none_of_the_security_groups(intruder: Api, owner: Estate,
                                          other_account: Credentials) -> None:
    [(default_id, name, owner_id)] = intruder.groups()
    assert (name, owner_id) == ("default", other_account.account_id)
    assert default_id not in (owner.default_group_id, owner.group_id)
    assert intruder.groups(filters={"group-id": [owner.group_id]}) == []
    assert intruder.groups(filters={"owner-id": [owner.account.account_id]}) == []
    assert intruder.groups(filters={"tag:Team": ["owner"]}) == []
    for group_id in (owner.group_id, owner.default_group_id):
        assert_not_found(partial(intruder.groups, ids=[group_id]), "InvalidGroup.NotFound",
                         group_id)
    assert_not_found(lambda: intruder.groups(names=["shared-sg"]), "InvalidGroup.NotFound",
                     "shared-sg")


def test_sees_none_of_the_tags(intruder: Api, owner: Estate) -> None:
    assert intruder.tags() == []
    assert intruder.tags({"resource-id": [owner.key_id, owner.group_id]}) == []
    assert intruder.tags({"key": ["Env", "Team"]}) == []


def test_admin_account_sees_none_either(server: Server, owner: Estate,
                                        make_ec2: Callable[[Credentials], Any]) -> None:
    admin = make_ec2(server.admin)
    names = {p["KeyName"] for p in admin.describe_key_pairs()["KeyPairs"]}
    assert not names & {"shared", "shared-imported"}
    groups = {g["GroupId"] for g in admin.describe_security_groups()["SecurityGroups"]}
    assert not groups & {owner.group_id, owner.default_group_id}
    tagged = {t["ResourceId"] for t in admin.describe_tags()["Tags"]}
    assert not tagged & {owner.key_id, owner.group_id}


# --- touching -----------------------------------------------------------------------------------


def test_cannot_tag_the_owners_resources(intruder: Api, owner: Estate, ec2: Any) -> None:
    for key_id in (owner.key_id, owner.imported_id):
        assert_not_found(partial(intruder.create_tags, [key_id], {"Env": "pwned"}),
                         "InvalidKeyPair.NotFound", key_id)
    for group_id in (owner.group_id, owner.default_group_id):
        assert_not_found(partial(intruder.create_tags, [group_id], {"Team": "pwned"}),
                         "InvalidGroup.NotFound", group_id)
    assert owner_tags(ec2) == owner.tags


def test_cannot_untag_the_owners_resources(intruder: Api, owner: Estate, ec2: Any) -> None:
    """DeleteTags names nothing the caller owns, so it removes nothing (and answers success)."""
    resources = [owner.key_id, owner.imported_id, owner.group_id, owner.default_group_id]
    intruder.delete_tags(resources, ["Env", "Team"])
    intruder.delete_tags(resources)
    assert owner_tags(ec2) == owner.tags


def test_cannot_delete_the_owners_security_groups(intruder: Api, owner: Estate,
                                                  ec2: Any) -> None:
    before = owner_groups(ec2)
    for group_id in (owner.group_id, owner.default_group_id):
        assert_not_found(partial(intruder.delete_group, group_id=group_id),
                         "InvalidGroup.NotFound", group_id)
    assert_not_found(lambda: intruder.delete_group(name="shared-sg"), "InvalidGroup.NotFound",
                     "shared-sg")
    assert owner_groups(ec2) == before


def test_cannot_delete_the_owners_key_pairs(intruder: Api, owner: Estate, ec2: Any) -> None:
    """DeleteKeyPair of a name or id the caller does not have succeeds, as in EC2, and deletes
    nothing of the owner's."""
    before = owner_key_pairs(ec2)
    intruder.delete_key_pair(name="shared")
    intruder.delete_key_pair(pair_id=owner.key_id)
    intruder.delete_key_pair(pair_id=owner.imported_id)
    assert owner_key_pairs(ec2) == before
    assert owner_tags(ec2) == owner.tags


# --- same names, separate things ----------------------------------------------------------------


def test_can_reuse_the_owners_names(intruder: Api, owner: Estate, ec2: Any) -> None:
    key_before, groups_before = owner_key_pairs(ec2), owner_groups(ec2)
    key_id = intruder.create_key_pair("shared")
    imported_id, fingerprint = intruder.import_key_pair("shared-imported", owner.public_key)
    group_id = intruder.create_group("shared-sg")
    assert not {key_id, imported_id, group_id} & {owner.key_id, owner.imported_id,
                                                  owner.group_id}
    assert fingerprint == owner.imported_fingerprint  # same public key, same fingerprint
    assert sorted(intruder.key_pairs()) == sorted([(key_id, "shared"),
                                                   (imported_id, "shared-imported")])
    assert intruder.key_pairs(names=["shared"]) == [(key_id, "shared")]
    assert [g[:2] for g in intruder.groups(names=["shared-sg"])] == [(group_id, "shared-sg")]

    intruder.create_tags([key_id, group_id], {"Env": "intruder", "Team": "intruder"})
    assert {row[0] for row in intruder.tags()} == {key_id, group_id}
    assert owner_tags(ec2) == owner.tags

    intruder.delete_key_pair(name="shared")
    intruder.delete_group(name="shared-sg")
    assert intruder.key_pairs() == [(imported_id, "shared-imported")]
    assert owner_key_pairs(ec2) == key_before
    assert owner_groups(ec2) == groups_before
    assert owner_tags(ec2) == owner.tags


def test_duplicate_names_are_per_account(intruder: Api, owner: Estate) -> None:
    """A name taken in the owner's account is free in this one, and taken here once used."""
    intruder.create_key_pair("shared")
    refused = refusal(lambda: intruder.create_key_pair("shared"))
    assert refused.code == "InvalidKeyPair.Duplicate"
    intruder.create_group("shared-sg")
    assert refusal(lambda: intruder.create_group("shared-sg")).code == "InvalidGroup.Duplicate"
