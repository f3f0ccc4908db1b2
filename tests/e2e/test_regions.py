"""DescribeRegions, DescribeAvailabilityZones and DescribeAccountAttributes end to end.

Every behaviour runs through boto3, the AWS CLI and boto 2.49 against a real server; the server's
settings are the defaults (region ``us-east-1``, one zone ``us-east-1a``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from boto.ec2.connection import EC2Connection
from boto.ec2.zone import Zone

from controller.identity.service import Credentials
from tests.conftest import AwsCli
from tests.e2e.refusals import Refusal, refusal

REGION = "us-east-1"
ZONE = "us-east-1a"
ZONE_ID = "use1-az1"
CLIENTS = ["boto3", "cli", "boto2"]
ATTRIBUTES = {
    "supported-platforms", "default-vpc", "max-instances",
    "vpc-max-security-groups-per-interface", "max-elastic-ips", "vpc-max-elastic-ips",
}

Filters = Mapping[str, Sequence[str]]


def _filter_list(filters: Filters | None) -> list[dict[str, Any]]:
    return [{"Name": name, "Values": list(values)} for name, values in (filters or {}).items()]


class Boto3Api:
    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2

    def regions(self, names: Sequence[str] = (), filters: Filters | None = None) -> list[str]:
        reply = self.ec2.describe_regions(RegionNames=list(names), Filters=_filter_list(filters))
        return [r["RegionName"] for r in reply["Regions"]]

    def zones(self, names: Sequence[str] = (), zone_ids: Sequence[str] = (),
              filters: Filters | None = None) -> list[dict[str, str]]:
        reply = self.ec2.describe_availability_zones(
            ZoneNames=list(names), ZoneIds=list(zone_ids), Filters=_filter_list(filters))
        return [{k: z[k] for k in ("ZoneName", "ZoneId", "State", "RegionName")}
                for z in reply["AvailabilityZones"]]

    def attributes(self, names: Sequence[str] = ()) -> dict[str, list[str]]:
        reply = self.ec2.describe_account_attributes(AttributeNames=list(names))
        return {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
                for a in reply["AccountAttributes"]}


class CliApi:
    def __init__(self, aws: AwsCli) -> None:
        self.aws = aws

    @staticmethod
    def _args(option: str, values: Sequence[str]) -> list[str]:
        return [option, *values] if values else []

    @staticmethod
    def _filters(filters: Filters | None) -> list[str]:
        return ["--filters", json.dumps(_filter_list(filters))] if filters else []

    def regions(self, names: Sequence[str] = (), filters: Filters | None = None) -> list[str]:
        reply = self.aws("ec2", "describe-regions", *self._args("--region-names", names),
                         *self._filters(filters))
        return [r["RegionName"] for r in reply["Regions"]]

    def zones(self, names: Sequence[str] = (), zone_ids: Sequence[str] = (),
              filters: Filters | None = None) -> list[dict[str, str]]:
        reply = self.aws("ec2", "describe-availability-zones", *self._args("--zone-names", names),
                         *self._args("--zone-ids", zone_ids), *self._filters(filters))
        return [{k: z[k] for k in ("ZoneName", "ZoneId", "State", "RegionName")}
                for z in reply["AvailabilityZones"]]

    def attributes(self, names: Sequence[str] = ()) -> dict[str, list[str]]:
        reply = self.aws("ec2", "describe-account-attributes",
                         *self._args("--attribute-names", names))
        return {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
                for a in reply["AccountAttributes"]}


class Boto2Api:
    def __init__(self, conn: EC2Connection) -> None:
        self.conn = conn

    def regions(self, names: Sequence[str] = (), filters: Filters | None = None) -> list[str]:
        found = self.conn.get_all_regions(region_names=list(names) or None,
                                          filters={k: list(v) for k, v in (filters or {}).items()})
        return [r.name for r in found]

    def zones(self, names: Sequence[str] = (), zone_ids: Sequence[str] = (),
              filters: Filters | None = None) -> list[dict[str, str]]:
        params: dict[str, Any] = {}
        # boto 2 predates ZoneId: the parameters go on the wire as the API defines them.
        self.conn.build_list_params(params, list(names), "ZoneName")
        self.conn.build_list_params(params, list(zone_ids), "ZoneId")
        self.conn.build_filter_params(params, {k: list(v) for k, v in (filters or {}).items()})
        found = self.conn.get_list("DescribeAvailabilityZones", params, [("item", Zone)],
                                   verb="POST")
        return [{"ZoneName": z.name, "ZoneId": z.zoneId, "State": z.state,
                 "RegionName": z.region_name} for z in found]

    def attributes(self, names: Sequence[str] = ()) -> dict[str, list[str]]:
        found = self.conn.describe_account_attributes(attribute_names=list(names) or None)
        return {a.attribute_name: list(a.attribute_values) for a in found}


Api = Boto3Api | CliApi | Boto2Api


@pytest.fixture(params=CLIENTS)
def api(request: pytest.FixtureRequest, account: Credentials) -> Api:
    """One client per parametrization, of the test's account; only that client is built (a boto3
    client costs ~0.5 s to make)."""
    if request.param == "boto3":
        return Boto3Api(request.getfixturevalue("ec2"))
    if request.param == "cli":
        return CliApi(request.getfixturevalue("aws"))
    return Boto2Api(request.getfixturevalue("boto2"))


def check_cases(lookup: Callable[[Filters], Any], cases: Sequence[tuple[Filters, Any]]) -> None:
    """Run every (filters, expected) case; report all the mismatches at once."""
    wrong = [(filters, expected, got) for filters, expected in cases
             if (got := lookup(filters)) != expected]
    assert not wrong, "\n".join(f"{f}: expected {e}, got {g}" for f, e, g in wrong)


def _status_ok(api: Api, status: int | None, expected: int) -> None:
    if isinstance(api, CliApi):
        assert status is None
    else:
        assert status == expected


# --- DescribeRegions ----------------------------------------------------------------------------


def test_describe_regions_lists_the_one_region(api: Api) -> None:
    assert api.regions() == [REGION]


def test_describe_regions_by_name(api: Api) -> None:
    assert api.regions(names=[REGION]) == [REGION]


def test_describe_regions_unknown_name_is_invalid_parameter_value(api: Api) -> None:
    refused = refusal(lambda: api.regions(names=[REGION, "mars-north-1"]))
    assert refused.code == "InvalidParameterValue"
    assert "mars-north-1" in refused.message
    _status_ok(api, refused.status, 400)


REGION_FILTER_CASES: list[tuple[Filters, list[str]]] = [
    ({"region-name": [REGION]}, [REGION]),
    ({"region-name": ["us-*"]}, [REGION]),
    ({"region-name": ["us-east-?"]}, [REGION]),
    ({"region-name": ["eu-*"]}, []),
    ({"region-name": ["us-east"]}, []),
    ({"region-name": ["eu-west-1", REGION]}, [REGION]),
    ({"opt-in-status": ["opt-in-not-required"]}, [REGION]),
    ({"opt-in-status": ["opted-in"]}, []),
    ({"region-name": [REGION], "opt-in-status": ["not-opted-in"]}, []),
]


def test_describe_regions_filters(api: Api) -> None:
    """Wildcards, exact values (no substring match), OR of values, AND of filters."""
    check_cases(lambda filters: api.regions(filters=filters), REGION_FILTER_CASES)


def test_describe_regions_shape(ec2: Any, aws: AwsCli) -> None:
    """The endpoint is the host the client called (here 127.0.0.1); no opt-in needed."""
    expected = {"RegionName": REGION, "Endpoint": "127.0.0.1", "OptInStatus": "opt-in-not-required"}
    assert ec2.describe_regions()["Regions"] == [expected]
    assert aws("ec2", "describe-regions")["Regions"] == [expected]


def test_describe_regions_unknown_filter_is_refused(api: Api) -> None:
    refused = refusal(lambda: api.regions(filters={"colour": ["blue"]}))
    assert refused.code == "InvalidParameterValue"
    assert "colour" in refused.message
    _status_ok(api, refused.status, 400)


def test_describe_regions_all_regions_flag(ec2: Any, aws: AwsCli) -> None:
    regions = ec2.describe_regions(AllRegions=True)["Regions"]
    assert [r["RegionName"] for r in regions] == [REGION]
    assert [r["RegionName"] for r in aws("ec2", "describe-regions", "--all-regions")["Regions"]] \
        == [REGION]


# --- DescribeAvailabilityZones ------------------------------------------------------------------

THE_ZONE = {"ZoneName": ZONE, "ZoneId": ZONE_ID, "State": "available", "RegionName": REGION}


def test_describe_availability_zones_lists_the_zone(api: Api) -> None:
    assert api.zones() == [THE_ZONE]


def test_describe_availability_zones_full_shape(ec2: Any) -> None:
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]
    assert zone == {
        "ZoneName": ZONE, "ZoneId": ZONE_ID, "State": "available", "RegionName": REGION,
        "Messages": [], "OptInStatus": "opt-in-not-required", "GroupName": REGION,
        "NetworkBorderGroup": REGION, "ZoneType": "availability-zone",
    }


def test_describe_availability_zones_by_name_and_id(api: Api) -> None:
    assert api.zones(names=[ZONE]) == [THE_ZONE]
    assert api.zones(zone_ids=[ZONE_ID]) == [THE_ZONE]


@pytest.mark.parametrize(
    ("names", "zone_ids", "bad"),
    [(["us-east-1z"], [], "us-east-1z"), ([ZONE, "us-east-1q"], [], "us-east-1q"),
     ([], ["use1-az9"], "use1-az9"), (["eu-west-1a"], [], "eu-west-1a")],
    ids=["unknown-name", "one-of-two-unknown", "unknown-id", "other-region"],
)
def test_describe_availability_zones_unknown_zone(api: Api, names: list[str], zone_ids: list[str],
                                                  bad: str) -> None:
    refused = refusal(lambda: api.zones(names=names, zone_ids=zone_ids))
    assert refused.code == "InvalidParameterValue"
    assert bad in refused.message, refused.message
    _status_ok(api, refused.status, 400)


ZONE_FILTER_CASES: list[tuple[Filters, list[dict[str, str]]]] = [
    ({"zone-name": [ZONE]}, [THE_ZONE]),
    ({"zone-name": ["us-east-1*"]}, [THE_ZONE]),
    ({"zone-name": ["us-east-1?"]}, [THE_ZONE]),
    ({"zone-name": ["*1a"]}, [THE_ZONE]),
    ({"zone-name": ["us-east-1b"]}, []),
    ({"zone-name": ["US-EAST-1A"]}, []),
    ({"zone-id": ["use1-*"]}, [THE_ZONE]),
    ({"state": ["available"]}, [THE_ZONE]),
    ({"state": ["impaired", "unavailable"]}, []),
    ({"region-name": [REGION]}, [THE_ZONE]),
    ({"zone-type": ["availability-zone"]}, [THE_ZONE]),
    ({"zone-type": ["local-zone"]}, []),
    ({"zone-name": ["us-*"], "state": ["available"], "region-name": ["us-east-1"]}, [THE_ZONE]),
    ({"zone-name": ["us-*"], "state": ["impaired"]}, []),
]


def test_describe_availability_zones_filters(api: Api) -> None:
    """Wildcards, case-sensitive values, OR of values, AND of filters."""
    check_cases(lambda filters: api.zones(filters=filters), ZONE_FILTER_CASES)


def test_describe_availability_zones_filter_wildcard_escape(ec2: Any) -> None:
    """``\\*`` is a literal star, so it matches no zone name."""
    zones = ec2.describe_availability_zones(
        Filters=[{"Name": "zone-name", "Values": ["us-east-1\\*"]}])["AvailabilityZones"]
    assert zones == []


def test_describe_availability_zones_names_and_filters_combine(api: Api) -> None:
    assert api.zones(names=[ZONE], filters={"state": ["impaired"]}) == []
    assert api.zones(names=[ZONE], filters={"state": ["available"]}) == [THE_ZONE]


def test_describe_availability_zones_unknown_filter_is_refused(api: Api) -> None:
    refused = refusal(lambda: api.zones(filters={"flavour": ["vanilla"]}))
    assert refused.code == "InvalidParameterValue"
    assert "flavour" in refused.message
    _status_ok(api, refused.status, 400)


def test_describe_availability_zones_all_zones_flag(ec2: Any) -> None:
    zones = ec2.describe_availability_zones(AllAvailabilityZones=True)["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == [ZONE]


# --- DescribeAccountAttributes ------------------------------------------------------------------


def test_describe_account_attributes_all(api: Api) -> None:
    attributes = api.attributes()
    assert set(attributes) == ATTRIBUTES
    assert attributes["supported-platforms"] == ["EC2"]
    assert attributes["default-vpc"] == ["none"]
    for name in ATTRIBUTES - {"supported-platforms", "default-vpc"}:
        assert len(attributes[name]) == 1 and attributes[name][0].isdigit(), (name, attributes)
        assert int(attributes[name][0]) > 0


@pytest.mark.parametrize("name", ["supported-platforms", "default-vpc"])
def test_describe_account_attributes_one(api: Api, name: str) -> None:
    assert list(api.attributes([name])) == [name]


def test_describe_account_attributes_two_and_repeated(api: Api) -> None:
    got = api.attributes(["default-vpc", "supported-platforms", "default-vpc"])
    assert got == {"default-vpc": ["none"], "supported-platforms": ["EC2"]}


def test_describe_account_attributes_unknown_name_is_refused(api: Api) -> None:
    refused = refusal(lambda: api.attributes(["colour-of-the-sky"]))
    assert refused.code == "InvalidParameterValue"
    assert "colour-of-the-sky" in refused.message
    _status_ok(api, refused.status, 400)


def test_describe_account_attributes_documented_names_beyond_the_enum(api: Api) -> None:
    """AWS documents six names; botocore's enum lists two, so the server (not the codec) decides."""
    assert list(api.attributes(["max-instances"])) == ["max-instances"]
    assert list(api.attributes(["vpc-max-elastic-ips"])) == ["vpc-max-elastic-ips"]


# --- DryRun and the shape of the wire ----------------------------------------------------------


@pytest.mark.parametrize("action", ["describe_regions", "describe_availability_zones",
                                    "describe_account_attributes"])
def test_dry_run_is_dry_run_operation(ec2: Any, action: str) -> None:
    refused = refusal(lambda: getattr(ec2, action)(DryRun=True))
    assert refused == Refusal("DryRunOperation",
                              "Request would have succeeded, but DryRun flag is set.", 412)


def test_dry_run_cli_and_boto2(aws: AwsCli, boto2: EC2Connection) -> None:
    assert refusal(lambda: aws("ec2", "describe-regions", "--dry-run")).code == "DryRunOperation"
    refused = refusal(lambda: boto2.get_all_zones(dry_run=True))
    assert (refused.code, refused.status) == ("DryRunOperation", 412)
