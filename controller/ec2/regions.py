"""DescribeRegions, DescribeAvailabilityZones, DescribeAccountAttributes."""

from __future__ import annotations

from typing import Any

from controller.ec2.context import RequestContext
from controller.ec2.errors import InvalidParameterValue
from controller.ec2.filters import apply_filters
from controller.ec2.registry import Params, Result, action

OPT_IN = "opt-in-not-required"

# What an EC2-Classic-like cloud answers; limits are per account.
ACCOUNT_ATTRIBUTES: dict[str, list[str]] = {
    "supported-platforms": ["EC2"],
    "default-vpc": ["none"],
    "max-instances": ["20"],
    "vpc-max-security-groups-per-interface": ["5"],
    "max-elastic-ips": ["5"],
    "vpc-max-elastic-ips": ["5"],
}


def zone_id(region: str, index: int) -> str:
    """AWS-style zone ids: ``us-east-1`` → ``use1-az1``."""
    parts = region.split("-")
    if len(parts) >= 3 and parts[-1].isdigit():
        short = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]
    else:
        short = region
    return f"{short}-az{index + 1}"


def _region(ctx: RequestContext) -> dict[str, Any]:
    return {"RegionName": ctx.settings.region, "Endpoint": ctx.host or ctx.settings.host,
            "OptInStatus": OPT_IN}


@action("DescribeRegions", mutating=False)
def describe_regions(ctx: RequestContext, params: Params) -> Result:
    regions = [_region(ctx)]
    for name in params.get("RegionNames") or ():
        if name != ctx.settings.region:
            raise InvalidParameterValue(f"Invalid region: {name}")
    spec = {
        "region-name": lambda r: r["RegionName"],
        "endpoint": lambda r: r["Endpoint"],
        "opt-in-status": lambda r: r["OptInStatus"],
    }
    return {"Regions": apply_filters(regions, params.get("Filters"), spec)}


def _zones(ctx: RequestContext) -> list[dict[str, Any]]:
    region = ctx.settings.region
    return [
        {
            "ZoneName": name,
            "ZoneId": zone_id(region, index),
            "State": "available",
            "RegionName": region,
            "Messages": [],
            "OptInStatus": OPT_IN,
            "GroupName": region,
            "NetworkBorderGroup": region,
            "ZoneType": "availability-zone",
        }
        for index, name in enumerate(ctx.settings.zones)
    ]


@action("DescribeAvailabilityZones", mutating=False)
def describe_availability_zones(ctx: RequestContext, params: Params) -> Result:
    zones = _zones(ctx)
    names = params.get("ZoneNames") or []
    zone_ids = params.get("ZoneIds") or []
    for wanted, key in ((names, "ZoneName"), (zone_ids, "ZoneId")):
        known = {z[key] for z in zones}
        for value in wanted:
            if value not in known:
                raise InvalidParameterValue(f"The zone '{value}' does not exist.")
    if names or zone_ids:
        zones = [z for z in zones if z["ZoneName"] in names or z["ZoneId"] in zone_ids]
    spec = {
        "zone-name": lambda z: z["ZoneName"],
        "zone-id": lambda z: z["ZoneId"],
        "region-name": lambda z: z["RegionName"],
        "state": lambda z: z["State"],
        "zone-type": lambda z: z["ZoneType"],
        "group-name": lambda z: z["GroupName"],
        "network-border-group": lambda z: z["NetworkBorderGroup"],
        "opt-in-status": lambda z: z["OptInStatus"],
        "message": lambda z: [],
    }
    return {"AvailabilityZones": apply_filters(zones, params.get("Filters"), spec)}


@action("DescribeAccountAttributes", mutating=False)
def describe_account_attributes(ctx: RequestContext, params: Params) -> Result:
    names = params.get("AttributeNames") or list(ACCOUNT_ATTRIBUTES)
    result = []
    for name in dict.fromkeys(names):
        values = ACCOUNT_ATTRIBUTES.get(name)
        if values is None:
            raise InvalidParameterValue(f"Value ({name}) for parameter attributeName is invalid.")
        result.append(
            {"AttributeName": name, "AttributeValues": [{"AttributeValue": v} for v in values]}
        )
    return {"AccountAttributes": result}
