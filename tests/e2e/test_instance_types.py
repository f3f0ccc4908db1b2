"""DescribeInstanceTypes over the default catalog and an operator's own, with all three clients."""

from __future__ import annotations

from typing import Any

from tests.conftest import AwsCli
from tests.e2e.refusals import assert_refused, refusal


def test_default_catalog_shapes(ec2: Any) -> None:
    reply = ec2.describe_instance_types(InstanceTypes=["t1.micro", "m5.large"])
    types = {t["InstanceType"]: t for t in reply["InstanceTypes"]}
    assert set(types) == {"t1.micro", "m5.large"}
    micro = types["t1.micro"]
    assert micro["VCpuInfo"]["DefaultVCpus"] == 1 and micro["MemoryInfo"]["SizeInMiB"] == 128
    assert types["m5.large"]["VCpuInfo"]["DefaultVCpus"] == 2
    assert types["m5.large"]["MemoryInfo"]["SizeInMiB"] == 8192
    assert "x86_64" in micro["ProcessorInfo"]["SupportedArchitectures"]
    assert micro["SupportedUsageClasses"] == ["on-demand"]
    small = ec2.describe_instance_types(InstanceTypes=["m1.small"])["InstanceTypes"][0]
    assert small["InstanceStorageSupported"] is True
    assert small["InstanceStorageInfo"]["TotalSizeInGB"] == 2


def test_filters(ec2: Any) -> None:
    def names(*filters: tuple[str, list[str]]) -> set[str]:
        paginator = ec2.get_paginator("describe_instance_types")
        pages = paginator.paginate(Filters=[{"Name": n, "Values": v} for n, v in filters])
        return {t["InstanceType"] for page in pages for t in page["InstanceTypes"]}

    assert names(("vcpu-info.default-vcpus", ["4"])) == {"c1.xlarge", "m5.xlarge"}
    assert names(("memory-info.size-in-mib", ["128", "256"])) == {"t1.micro", "m1.small"}
    assert names(("instance-type", ["t3.*"]), ("memory-info.size-in-mib", ["1024"])) == {"t3.micro"}
    assert "t2.micro" in names(("current-generation", ["true"]))
    assert "t1.micro" not in names(("current-generation", ["true"]))
    assert_refused(refusal(lambda: names(("nope", ["1"]))), "InvalidParameterValue")


def test_pagination_and_refusals(ec2: Any) -> None:
    first = ec2.describe_instance_types(MaxResults=5)
    assert len(first["InstanceTypes"]) == 5 and first["NextToken"]
    second = ec2.describe_instance_types(MaxResults=5, NextToken=first["NextToken"])
    assert not {t["InstanceType"] for t in first["InstanceTypes"]} & {
        t["InstanceType"] for t in second["InstanceTypes"]}
    refused = refusal(lambda: ec2.describe_instance_types(InstanceTypes=["x9.huge", "t1.micro"]))
    assert_refused(refused, "InvalidInstanceType")
    assert "x9.huge" in refused.message


def test_aws_cli_and_boto2(aws: AwsCli, boto2: Any) -> None:
    reply = aws("ec2", "describe-instance-types", "--instance-types", "t2.micro",
                "--query", "InstanceTypes[0].[VCpuInfo.DefaultVCpus,MemoryInfo.SizeInMiB]")
    assert reply == [1, 1024]
    listed = aws("ec2", "describe-instance-types", "--filters", "Name=vcpu-info.default-vcpus,Values=1")
    assert "t1.micro" in {t["InstanceType"] for t in listed["InstanceTypes"]}
    # boto 2 predates the action; its generic call still reaches it
    body = boto2.make_request("DescribeInstanceTypes", {"InstanceType.1": "t1.micro"}).read()
    assert b"<instanceType>t1.micro</instanceType>" in body
    too_few = boto2.make_request("DescribeInstanceTypes", {"MaxResults": "4"})  # botocore refuses 4
    assert too_few.status == 400 and b"<Code>InvalidParameterValue</Code>" in too_few.read()
