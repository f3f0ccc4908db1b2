"""CreateTags, DeleteTags and DescribeTags end to end on key pairs and security groups.

Each behaviour runs through boto3, the AWS CLI and boto 2.49 where the clients can express it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import pytest
from boto.ec2.connection import EC2Connection
from boto.ec2.tag import Tag as Boto2Tag

from controller.identity.service import Credentials
from tests.conftest import AwsCli
from tests.e2e.refusals import Refusal, assert_refused, refusal

CLIENTS = ["boto3", "cli", "boto2"]
UNKNOWN_KEY_PAIR = "key-0123456789abcdef0"
UNKNOWN_GROUP = "sg-0123456789abcdef0"

Filters = Mapping[str, Sequence[str]]
TagArg = Mapping[str, str | None]  # a None value: no Value on the wire
Row = tuple[str, str, str, str]  # (resource id, resource type, key, value)


def _tag_list(tags: TagArg) -> list[dict[str, str]]:
    return [{"Key": k} if v is None else {"Key": k, "Value": v} for k, v in tags.items()]


def _filter_list(filters: Filters | None) -> list[dict[str, Any]]:
    return [{"Name": name, "Values": list(values)} for name, values in (filters or {}).items()]


class Boto3Api:
    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2

    def key_pair(self, name: str) -> str:
        return str(self.ec2.create_key_pair(KeyName=name)["KeyPairId"])

    def group(self, name: str) -> str:
        return str(self.ec2.create_security_group(GroupName=name, Description=name)["GroupId"])

    def create_tags(self, resources: Sequence[str], tags: TagArg, dry_run: bool = False) -> None:
        self.ec2.create_tags(Resources=list(resources), Tags=_tag_list(tags), DryRun=dry_run)

    def delete_tags(self, resources: Sequence[str], tags: TagArg | None = None,
                    dry_run: bool = False) -> None:
        kwargs = {"Tags": _tag_list(tags)} if tags is not None else {}
        self.ec2.delete_tags(Resources=list(resources), DryRun=dry_run, **kwargs)

    def describe_page(self, filters: Filters | None = None, max_results: int | None = None,
                      token: str | None = None) -> tuple[list[Row], str | None]:
        kwargs: dict[str, Any] = {"Filters": _filter_list(filters)}
        if max_results is not None:
            kwargs["MaxResults"] = max_results
        if token:
            kwargs["NextToken"] = token
        reply = self.ec2.describe_tags(**kwargs)
        rows = [(t["ResourceId"], t["ResourceType"], t["Key"], t["Value"]) for t in reply["Tags"]]
        return rows, reply.get("NextToken")


class CliApi:
    def __init__(self, aws: AwsCli) -> None:
        self.aws = aws

    def key_pair(self, name: str) -> str:
        return str(self.aws("ec2", "create-key-pair", "--key-name", name)["KeyPairId"])

    def group(self, name: str) -> str:
        reply = self.aws("ec2", "create-security-group", "--group-name", name,
                         "--description", name)
        return str(reply["GroupId"])

    def create_tags(self, resources: Sequence[str], tags: TagArg, dry_run: bool = False) -> None:
        self.aws("ec2", "create-tags", "--resources", *resources, "--tags",
                 json.dumps(_tag_list(tags)), *(["--dry-run"] if dry_run else []))

    def delete_tags(self, resources: Sequence[str], tags: TagArg | None = None,
                    dry_run: bool = False) -> None:
        args = ["ec2", "delete-tags", "--resources", *resources]
        args += ["--tags", json.dumps(_tag_list(tags))] if tags is not None else []
        self.aws(*args, *(["--dry-run"] if dry_run else []))

    def describe_page(self, filters: Filters | None = None, max_results: int | None = None,
                      token: str | None = None) -> tuple[list[Row], str | None]:
        """One raw page: naming --max-results or --next-token turns the CLI's own paging off."""
        args = ["ec2", "describe-tags"]
        args += ["--filters", json.dumps(_filter_list(filters))] if filters else []
        args += ["--max-results", str(max_results)] if max_results is not None else []
        args += ["--next-token", token] if token else []
        reply = self.aws(*args)
        rows = [(t["ResourceId"], t["ResourceType"], t["Key"], t["Value"]) for t in reply["Tags"]]
        return rows, reply.get("NextToken")


class Boto2Api:
    def __init__(self, conn: EC2Connection) -> None:
        self.conn = conn

    def key_pair(self, name: str) -> str:
        return str(self.conn.create_key_pair(name).keyPairId)

    def group(self, name: str) -> str:
        return str(self.conn.create_security_group(name, name).id)

    def create_tags(self, resources: Sequence[str], tags: TagArg, dry_run: bool = False) -> None:
        assert self.conn.create_tags(list(resources), dict(tags), dry_run=dry_run) is True

    def delete_tags(self, resources: Sequence[str], tags: TagArg | None = None,
                    dry_run: bool = False) -> None:
        assert self.conn.delete_tags(list(resources), dict(tags or {}), dry_run=dry_run) is True

    def describe_page(self, filters: Filters | None = None, max_results: int | None = None,
                      token: str | None = None) -> tuple[list[Row], str | None]:
        params: dict[str, Any] = {}
        self.conn.build_filter_params(params, {k: list(v) for k, v in (filters or {}).items()})
        if max_results is not None:
            params["MaxResults"] = max_results
        if token:  # boto 2's get_all_tags has no NextToken; the parameter goes on the wire as is
            params["NextToken"] = token
        found = self.conn.get_list("DescribeTags", params, [("item", Boto2Tag)], verb="POST")
        rows = [(t.res_id, t.res_type, t.name, t.value or "") for t in found]
        return rows, found.next_token


Api = Boto3Api | CliApi | Boto2Api


@pytest.fixture(params=CLIENTS)
def api(request: pytest.FixtureRequest, account: Credentials) -> Api:
    """One client per parametrization, of the test's account; only that client is built."""
    if request.param == "boto3":
        return Boto3Api(request.getfixturevalue("ec2"))
    if request.param == "cli":
        return CliApi(request.getfixturevalue("aws"))
    return Boto2Api(request.getfixturevalue("boto2"))


def describe(api: Api, filters: Filters | None = None) -> list[Row]:
    """Every tag, following NextToken; sorted, since EC2 promises no order."""
    rows, token = api.describe_page(filters)
    while token:
        more, token = api.describe_page(filters, token=token)
        rows += more
    return sorted(rows)


def tags_of(api: Api, resource_id: str) -> dict[str, str]:
    return {key: value for rid, _, key, value in describe(api) if rid == resource_id}


# --- round trips --------------------------------------------------------------------------------


def test_tags_on_key_pairs_and_security_groups(api: Api) -> None:
    key = api.key_pair("kp")
    group = api.group("grp")
    api.create_tags([key], {"Name": "my key", "Env": "prod"})
    api.create_tags([group], {"Name": "my group"})
    assert describe(api) == sorted([
        (key, "key-pair", "Env", "prod"), (key, "key-pair", "Name", "my key"),
        (group, "security-group", "Name", "my group"),
    ])


def test_one_call_tags_several_resources(api: Api) -> None:
    key, group = api.key_pair("kp"), api.group("grp")
    api.create_tags([key, group], {"Team": "blue", "Cost": "42"})
    assert tags_of(api, key) == tags_of(api, group) == {"Team": "blue", "Cost": "42"}


def test_create_tags_overwrites_a_value(api: Api) -> None:
    key = api.key_pair("kp")
    api.create_tags([key], {"Env": "dev", "Keep": "me"})
    api.create_tags([key], {"Env": "prod"})
    assert tags_of(api, key) == {"Env": "prod", "Keep": "me"}


def test_tag_without_value_is_empty_string(api: Api) -> None:
    group = api.group("grp")
    api.create_tags([group], {"Flag": None, "Blank": ""})
    assert tags_of(api, group) == {"Flag": "", "Blank": ""}


UNICODE_TAGS = {
    "名前": "значение ☃",
    "emoji": "🚀 rocket 🚀",
    "empty": "",
    "spaces": "  padded  ",
    "xml-ish": "<a href=\"x\">&amp;</a> 'quoted'",
    "Case": "upper",
    "case": "lower",
    "aws": "no colon, so allowed",
    "value-prefix": "aws:values may start so",
}


def test_unicode_and_empty_values_round_trip(api: Api) -> None:
    key = api.key_pair("kp")
    api.create_tags([key], UNICODE_TAGS)
    assert tags_of(api, key) == UNICODE_TAGS


def test_tags_show_on_the_resources_themselves(ec2: Any) -> None:
    key = ec2.create_key_pair(KeyName="kp")["KeyPairId"]
    group = ec2.create_security_group(GroupName="grp", Description="d")["GroupId"]
    ec2.create_tags(Resources=[key, group], Tags=_tag_list(UNICODE_TAGS))
    pair = ec2.describe_key_pairs(KeyPairIds=[key])["KeyPairs"][0]
    sg = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert {t["Key"]: t["Value"] for t in pair["Tags"]} == UNICODE_TAGS
    assert {t["Key"]: t["Value"] for t in sg["Tags"]} == UNICODE_TAGS


def test_deleting_a_resource_deletes_its_tags(api: Api, ec2: Any) -> None:
    key, group, kept = api.key_pair("kp"), api.group("grp"), api.group("kept")
    api.create_tags([key, group, kept], {"a": "b"})
    ec2.delete_key_pair(KeyPairId=key)
    ec2.delete_security_group(GroupId=group)
    assert describe(api) == [(kept, "security-group", "a", "b")]


# --- DescribeTags filters -----------------------------------------------------------------------


def test_describe_tags_filters(api: Api) -> None:
    key, group = api.key_pair("kp"), api.group("grp")
    api.create_tags([key], {"Env": "prod", "Name": "web-1", "Cost": "10"})
    api.create_tags([group], {"Env": "dev", "Name": "web-sg", "Owner": ""})
    k = {name: (key, "key-pair", name, value)
         for name, value in {"Env": "prod", "Name": "web-1", "Cost": "10"}.items()}
    g = {name: (group, "security-group", name, value)
         for name, value in {"Env": "dev", "Name": "web-sg", "Owner": ""}.items()}
    cases: list[tuple[Filters, list[Row]]] = [
        ({"key": ["Env"]}, [k["Env"], g["Env"]]),
        ({"key": ["env"]}, []),
        ({"key": ["E*"]}, [k["Env"], g["Env"]]),
        ({"key": ["?wner"]}, [g["Owner"]]),
        ({"key": ["Env", "Cost"]}, [k["Env"], k["Cost"], g["Env"]]),
        ({"value": ["prod"]}, [k["Env"]]),
        ({"value": ["web-*"]}, [k["Name"], g["Name"]]),
        ({"value": ["web-?"]}, [k["Name"]]),
        ({"value": [""]}, [g["Owner"]]),
        ({"value": ["pro"]}, []),
        ({"resource-id": [key]}, list(k.values())),
        ({"resource-id": ["key-*"]}, list(k.values())),
        ({"resource-type": ["security-group"]}, list(g.values())),
        ({"resource-type": ["key-pair", "security-group"]}, [*k.values(), *g.values()]),
        ({"resource-type": ["instance"]}, []),
        ({"key": ["Name"], "resource-type": ["key-pair"]}, [k["Name"]]),
        ({"key": ["Name"], "value": ["*sg"]}, [g["Name"]]),
        ({"key": ["Env"], "value": ["prod"], "resource-id": [group]}, []),
    ]
    wrong = [(f, sorted(e), got) for f, e in cases if (got := describe(api, f)) != sorted(e)]
    assert not wrong, "\n".join(f"{f}: expected {e}, got {g}" for f, e, g in wrong)


def test_describe_tags_filter_escapes_wildcards(ec2: Any) -> None:
    key = ec2.create_key_pair(KeyName="kp")["KeyPairId"]
    ec2.create_tags(Resources=[key], Tags=[{"Key": "star*", "Value": "a?b"},
                                            {"Key": "starry", "Value": "axb"}])
    literal = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["star\\*"]}])["Tags"]
    assert [t["Key"] for t in literal] == ["star*"]
    literal = ec2.describe_tags(Filters=[{"Name": "value", "Values": ["a\\?b"]}])["Tags"]
    assert [t["Value"] for t in literal] == ["a?b"]


def test_describe_tags_unknown_filter_is_refused(api: Api) -> None:
    refused = refusal(lambda: api.describe_page({"colour": ["blue"]}))
    assert_refused(refused, "InvalidParameterValue")
    assert "colour" in refused.message


def test_describe_tags_of_nothing_is_empty(api: Api) -> None:
    assert describe(api) == []  # the account's default security group has no tags


# --- pagination ---------------------------------------------------------------------------------


@pytest.fixture
def twelve_tags(ec2: Any) -> list[Row]:
    """Twelve tags on three resources, made with boto3; the rows DescribeTags should give."""
    ids = [ec2.create_key_pair(KeyName=f"kp{i}")["KeyPairId"] for i in range(2)]
    group = ec2.create_security_group(GroupName="grp", Description="d")["GroupId"]
    rows: list[Row] = []
    for rid, rtype in ((ids[0], "key-pair"), (ids[1], "key-pair"), (group, "security-group")):
        tags = {f"k{n}": f"v{n}" for n in range(4)}
        ec2.create_tags(Resources=[rid], Tags=_tag_list(tags))
        rows += [(rid, rtype, k, v) for k, v in tags.items()]
    return sorted(rows)


def test_pagination_pages_through_everything_once(api: Api, twelve_tags: list[Row]) -> None:
    sizes: list[int] = []
    seen: list[Row] = []
    rows, token = api.describe_page(max_results=5)
    while True:
        sizes.append(len(rows))
        seen += rows
        if not token:
            break
        rows, token = api.describe_page(max_results=5, token=token)
    assert sizes == [5, 5, 2]
    assert sorted(seen) == twelve_tags
    assert len(set(seen)) == len(seen)


def test_pagination_with_filters(api: Api, twelve_tags: list[Row]) -> None:
    wanted = {"resource-type": ["key-pair"], "key": ["k0", "k1", "k2"]}
    first, token = api.describe_page(wanted, max_results=5)
    assert len(first) == 5 and token
    second, token = api.describe_page(wanted, max_results=5, token=token)
    assert (len(second), token) == (1, None)
    expected = [r for r in twelve_tags if r[1] == "key-pair" and r[2] in ("k0", "k1", "k2")]
    assert sorted(first + second) == expected


def test_page_that_holds_everything_has_no_token(api: Api, twelve_tags: list[Row]) -> None:
    for size in (12, 1000):
        rows, token = api.describe_page(max_results=size)
        assert (sorted(rows), token) == (twelve_tags, None)


def test_cli_pages_by_itself(aws: AwsCli, twelve_tags: list[Row]) -> None:
    """The CLI's own paginator (--page-size) follows NextToken and merges the pages."""
    for extra in ([], ["--page-size", "5"]):
        reply = aws("ec2", "describe-tags", *extra)
        rows = sorted((t["ResourceId"], t["ResourceType"], t["Key"], t["Value"])
                      for t in reply["Tags"])
        assert rows == twelve_tags
        assert "NextToken" not in reply
    limited = aws("ec2", "describe-tags", "--page-size", "5", "--max-items", "7")
    assert len(limited["Tags"]) == 7 and limited["NextToken"]


def test_boto3_paginator(ec2: Any, twelve_tags: list[Row]) -> None:
    pages = list(ec2.get_paginator("describe_tags").paginate(PaginationConfig={"PageSize": 5}))
    assert [len(p["Tags"]) for p in pages] == [5, 5, 2]


@pytest.mark.parametrize("size", [4, 1001, 0, -1])
def test_max_results_out_of_range(api: Api, size: int) -> None:
    refused = refusal(lambda: api.describe_page(max_results=size))
    assert_refused(refused, "InvalidParameterValue")
    assert "maxResults" in refused.message or "MaxResults" in refused.message


@pytest.mark.parametrize("size", [5, 1000])
def test_max_results_bounds_are_accepted(ec2: Any, size: int) -> None:
    assert ec2.describe_tags(MaxResults=size)["Tags"] == []


def test_bad_next_token(ec2: Any) -> None:
    assert_refused(refusal(lambda: ec2.describe_tags(NextToken="not-a-token")),
                   "InvalidPaginationToken")


# --- limits on keys and values ------------------------------------------------------------------


def test_aws_prefix_is_refused(api: Api) -> None:
    key = api.key_pair("kp")
    for bad in ("aws:cloudformation:stack-name", "aws:x"):
        refused = refusal(partial(api.create_tags, [key], {"fine": "1", bad: "v"}))
        assert_refused(refused, "InvalidParameterValue")
        assert "aws:" in refused.message
    assert describe(api) == []


def test_fifty_tags_fine_fifty_first_refused(api: Api) -> None:
    group = api.group("grp")
    fifty = {f"key{i:02}": f"value{i}" for i in range(50)}
    api.create_tags([group], fifty)
    assert tags_of(api, group) == fifty
    assert_refused(refusal(lambda: api.create_tags([group], {"one-more": "x"})),
                   "TagLimitExceeded")
    api.create_tags([group], {"key00": "overwritten"})  # still fifty: allowed
    assert tags_of(api, group) == fifty | {"key00": "overwritten"}


def test_fifty_one_tags_in_one_call_refused(ec2: Any) -> None:
    key = ec2.create_key_pair(KeyName="kp")["KeyPairId"]
    tags = _tag_list({f"k{i}": "v" for i in range(51)})
    assert_refused(refusal(lambda: ec2.create_tags(Resources=[key], Tags=tags)),
                   "TagLimitExceeded")
    assert ec2.describe_tags()["Tags"] == []


def test_limit_on_one_resource_tags_none(ec2: Any) -> None:
    """A CreateTags call over two resources that breaks the limit on one changes neither."""
    full = ec2.create_key_pair(KeyName="full")["KeyPairId"]
    empty = ec2.create_key_pair(KeyName="empty")["KeyPairId"]
    ec2.create_tags(Resources=[full], Tags=_tag_list({f"k{i}": "v" for i in range(50)}))
    refused = refusal(lambda: ec2.create_tags(Resources=[empty, full], Tags=[{"Key": "new"}]))
    assert_refused(refused, "TagLimitExceeded")
    tagged = {t["ResourceId"] for t in ec2.describe_tags()["Tags"]}
    assert tagged == {full}


def test_key_and_value_lengths(api: Api) -> None:
    key = api.key_pair("kp")
    longest = {"k" * 128: "v" * 256, "é" * 128: "☃" * 256}  # counted in characters
    api.create_tags([key], longest)
    assert tags_of(api, key) == longest
    for bad in ({"k" * 129: "v"}, {"k": "v" * 257}, {"é" * 129: ""}):
        assert_refused(refusal(partial(api.create_tags, [key], bad)), "InvalidParameterValue")
    assert tags_of(api, key) == longest


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1f", "\ufffe"],
                         ids=["nul", "soh", "unit-separator", "non-character"])
def test_characters_xml_cannot_carry_are_refused(ec2: Any, char: str) -> None:
    """What no EC2 (XML) response could return is refused up front, never a 500 or a mangled
    value (PostgreSQL cannot even store NUL)."""
    key = ec2.create_key_pair(KeyName="kp")["KeyPairId"]
    for tag in ({"Key": f"k{char}", "Value": "v"}, {"Key": "k", "Value": f"a{char}b"}):
        refused = refusal(partial(ec2.create_tags, Resources=[key], Tags=[tag]))
        assert_refused(refused, "InvalidParameterValue")
    spec = [{"ResourceType": "key-pair", "Tags": [{"Key": "k", "Value": char}]}]
    assert_refused(refusal(lambda: ec2.create_key_pair(KeyName="x", TagSpecifications=spec)),
                   "InvalidParameterValue")
    assert ec2.describe_tags()["Tags"] == []


def test_whitespace_controls_round_trip(api: Api) -> None:
    key = api.key_pair("kp")
    tags = {"multi": "line one\nline two", "tabbed": "a\tb", "crlf": "x\r\ny"}
    api.create_tags([key], tags)
    assert tags_of(api, key) == tags


def test_empty_key_is_refused(ec2: Any) -> None:
    key = ec2.create_key_pair(KeyName="kp")["KeyPairId"]
    assert_refused(refusal(lambda: ec2.create_tags(Resources=[key], Tags=[{"Key": "",
                                                                           "Value": "v"}])),
                   "InvalidParameterValue")


def test_create_tags_without_tags_is_missing_parameter(ec2: Any) -> None:
    key = ec2.create_key_pair(KeyName="kp")["KeyPairId"]
    assert_refused(refusal(lambda: ec2.create_tags(Resources=[key], Tags=[])), "MissingParameter")


# --- resources that do not exist, and ids that cannot exist -------------------------------------


@pytest.mark.parametrize(
    ("missing", "code"),
    [(UNKNOWN_KEY_PAIR, "InvalidKeyPair.NotFound"), (UNKNOWN_GROUP, "InvalidGroup.NotFound")],
    ids=["key-pair", "security-group"],
)
def test_tagging_a_missing_resource(api: Api, missing: str, code: str) -> None:
    real = api.key_pair("kp")
    refused = refusal(lambda: api.create_tags([real, missing], {"a": "b"}))
    assert_refused(refused, code)
    assert missing in refused.message
    assert describe(api) == []  # the existing resource was not tagged either


def test_tagging_a_deleted_resource(ec2: Any) -> None:
    key = ec2.create_key_pair(KeyName="kp")["KeyPairId"]
    ec2.delete_key_pair(KeyName="kp")
    assert_refused(refusal(lambda: ec2.create_tags(Resources=[key], Tags=[{"Key": "a"}])),
                   "InvalidKeyPair.NotFound")


@pytest.mark.parametrize("bad_id", ["nonsense", "key-xyz", "sg-123", "kp-0123456789abcdef0"])
def test_malformed_id_is_invalid_id(ec2: Any, bad_id: str) -> None:
    for call in (lambda: ec2.create_tags(Resources=[bad_id], Tags=[{"Key": "a"}]),
                 lambda: ec2.delete_tags(Resources=[bad_id], Tags=[{"Key": "a"}])):
        refused = refusal(call)
        assert_refused(refused, "InvalidID")
        assert bad_id in refused.message


def test_malformed_id_every_client(api: Api) -> None:
    refused = refusal(lambda: api.create_tags(["bogus-id"], {"a": "b"}))
    assert_refused(refused, "InvalidID")
    assert_refused(refusal(lambda: api.delete_tags(["bogus-id"], {"a": None})), "InvalidID")


# --- DeleteTags ---------------------------------------------------------------------------------


def test_delete_tags_with_value_deletes_only_that_value(api: Api) -> None:
    key = api.key_pair("kp")
    api.create_tags([key], {"a": "1", "b": "2", "c": "", "d": "4"})
    api.delete_tags([key], {"a": "wrong"})
    api.delete_tags([key], {"d": ""})  # an empty value only deletes an empty value
    assert tags_of(api, key) == {"a": "1", "b": "2", "c": "", "d": "4"}
    api.delete_tags([key], {"a": "1"})
    api.delete_tags([key], {"c": ""})
    assert tags_of(api, key) == {"b": "2", "d": "4"}


def test_delete_tags_key_only_deletes_any_value(api: Api) -> None:
    key, group = api.key_pair("kp"), api.group("grp")
    api.create_tags([key], {"a": "1", "b": "2"})
    api.create_tags([group], {"a": "other", "b": "3"})
    api.delete_tags([key, group], {"a": None})
    assert describe(api) == sorted([(key, "key-pair", "b", "2"),
                                    (group, "security-group", "b", "3")])


def test_delete_tags_without_tags_deletes_all_of_the_resources(api: Api) -> None:
    key, group = api.key_pair("kp"), api.group("grp")
    api.create_tags([key, group], {"a": "1", "b": "2"})
    api.delete_tags([key])
    assert describe(api) == sorted([(group, "security-group", "a", "1"),
                                    (group, "security-group", "b", "2")])


def test_delete_tags_absent_key_is_fine(api: Api) -> None:
    key = api.key_pair("kp")
    api.create_tags([key], {"a": "1"})
    api.delete_tags([key], {"never-there": None})
    assert tags_of(api, key) == {"a": "1"}


def test_delete_tags_unicode(ec2: Any) -> None:
    key = ec2.create_key_pair(KeyName="kp")["KeyPairId"]
    ec2.create_tags(Resources=[key], Tags=_tag_list(UNICODE_TAGS))
    ec2.delete_tags(Resources=[key], Tags=[{"Key": "名前", "Value": "значение ☃"},
                                           {"Key": "emoji", "Value": "🚀"}])
    left = {t["Key"] for t in ec2.describe_tags()["Tags"]}
    assert left == set(UNICODE_TAGS) - {"名前"}


def test_delete_tags_aws_prefix_is_refused(ec2: Any) -> None:
    key = ec2.create_key_pair(KeyName="kp")["KeyPairId"]
    assert_refused(refusal(lambda: ec2.delete_tags(Resources=[key], Tags=[{"Key": "aws:x"}])),
                   "InvalidParameterValue")


# --- DryRun -------------------------------------------------------------------------------------


def test_dry_run_changes_nothing(api: Api) -> None:
    key = api.key_pair("kp")
    api.create_tags([key], {"a": "1"})
    for call in (lambda: api.create_tags([key], {"b": "2"}, dry_run=True),
                 lambda: api.delete_tags([key], {"a": None}, dry_run=True),
                 lambda: api.delete_tags([key], dry_run=True)):
        assert_refused(refusal(call), "DryRunOperation", 412)
    assert tags_of(api, key) == {"a": "1"}


def test_dry_run_describe_tags(ec2: Any) -> None:
    refused = refusal(lambda: ec2.describe_tags(DryRun=True))
    assert refused == Refusal("DryRunOperation",
                              "Request would have succeeded, but DryRun flag is set.", 412)
