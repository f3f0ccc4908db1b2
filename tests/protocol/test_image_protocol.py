"""Round trips for the image and instance-type actions: botocore's serializer into our parser,
our handlers' data through our serializer into botocore's parser and boto 2's SAX classes."""

from __future__ import annotations

import json
import warnings
import xml.sax
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from controller.ec2.images_store import describe as describe_image
from controller.ec2.instance_type_catalog import default_catalog
from controller.ec2.instance_types import describe as describe_type
from controller.protocol.query_parser import parse_ec2_query
from tests.protocol.test_query_parser import op_, to_wire
from tests.protocol.test_xml_serializer import botocore_parse, respond

FILTERS = [{"Name": "image-type", "Values": ["kernel", "machine"]},
           {"Name": "tag:Name", "Values": ["a b"]}]
INPUTS: dict[str, dict[str, Any]] = {
    "RegisterImage": {
        "ImageLocation": "bucket/prefix/manifest.json", "Name": "my image (v1)",
        "Description": "d", "Architecture": "x86_64", "KernelId": "aki-12345678",
        "RamdiskId": "ari-12345678", "RootDeviceName": "/dev/sda1",
        "VirtualizationType": "paravirtual",
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
            {"DeviceName": "/dev/sdc", "NoDevice": ""},
            {"DeviceName": "/dev/sdd", "Ebs": {"VolumeSize": 2, "DeleteOnTermination": False}}],
        "TagSpecifications": [{"ResourceType": "image", "Tags": [{"Key": "k", "Value": "v"}]}],
    },
    "DescribeImages": {"ImageIds": ["ami-1", "aki-2"], "Owners": ["self", "123456789012"],
                       "ExecutableUsers": ["all", "self"], "Filters": FILTERS,
                       "MaxResults": 10, "NextToken": "t"},
    "DeregisterImage": {"ImageId": "ami-12345678"},
    "DescribeImageAttribute": {"ImageId": "ami-12345678", "Attribute": "launchPermission"},
    "ModifyImageAttribute": {
        "ImageId": "ami-12345678", "Attribute": "launchPermission", "OperationType": "add",
        "UserIds": ["123456789012"], "UserGroups": ["all"],
        "LaunchPermission": {"Add": [{"Group": "all"}, {"UserId": "123456789012"}],
                             "Remove": [{"UserId": "210987654321"}]},
        "Description": {"Value": "new"}},
    "ResetImageAttribute": {"ImageId": "ami-12345678", "Attribute": "launchPermission"},
    "DescribeInstanceTypes": {"InstanceTypes": ["t1.micro", "m5.large"], "Filters": FILTERS,
                              "MaxResults": 5, "NextToken": "n"},
}


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_inputs_round_trip(name: str) -> None:
    op = op_(name)
    assert parse_ec2_query(op, to_wire(op, INPUTS[name])) == INPUTS[name]


def test_boto2_modify_image_attribute_wire_names() -> None:
    # boto 2 sends the flat 2014-era form
    wire = [("ImageId", "ami-12345678"), ("Attribute", "launchPermission"),
            ("OperationType", "remove"), ("UserId.1", "123456789012"), ("UserGroup.1", "all")]
    assert parse_ec2_query(op_("ModifyImageAttribute"), wire) == {
        "ImageId": "ami-12345678", "Attribute": "launchPermission", "OperationType": "remove",
        "UserIds": ["123456789012"], "UserGroups": ["all"]}


def _image(**overrides: Any) -> SimpleNamespace:
    row = {"id": "ami-0123456789abcdef0", "image_location": "b/m/manifest.json", "state": "available",
               "account_id": "123456789012", "created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
               "is_public": True, "architecture": "x86_64", "image_type": "machine", "name": "demo",
               "root_device_type": "instance-store", "virtualization_type": "paravirtual",
               "block_device_mappings": json.dumps([{"DeviceName": "/dev/sdb",
                                                  "VirtualName": "ephemeral0"}]),
               "description": "the demo", "kernel_id": "aki-0123456789abcdef0",
               "ramdisk_id": "ari-0123456789abcdef0", "root_device_name": "/dev/sda1"}
    return SimpleNamespace(**{**row, **overrides})


def test_describe_images_output_through_botocore() -> None:
    data = {"Images": [describe_image(_image(), {"Name": "x"})]}
    parsed = botocore_parse("DescribeImages", respond("DescribeImages", data))
    image = parsed["Images"][0]
    assert image["ImageId"] == "ami-0123456789abcdef0" and image["Public"] is True
    assert image["CreationDate"] == "2026-01-02T03:04:05.000Z"
    assert image["BlockDeviceMappings"] == [{"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}]
    assert image["Tags"] == [{"Key": "Name", "Value": "x"}]


def test_describe_images_output_through_boto2() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from boto.ec2.image import Image
        from boto.handler import XmlHandler
        from boto.resultset import ResultSet
    body = respond("DescribeImages", {"Images": [describe_image(_image(), {"Name": "x"})]})
    result = ResultSet([("item", Image)])
    xml.sax.parseString(body, XmlHandler(result, None))
    image = result[0]
    assert (image.id, image.location, image.state, image.owner_id) == (
        "ami-0123456789abcdef0", "b/m/manifest.json", "available", "123456789012")
    assert image.is_public is True and image.kernel_id == "aki-0123456789abcdef0"
    assert image.ramdisk_id == "ari-0123456789abcdef0" and image.architecture == "x86_64"
    assert image.root_device_name == "/dev/sda1" and image.virtualization_type == "paravirtual"
    assert image.tags == {"Name": "x"} and image.description == "the demo"
    assert image.block_device_mapping["/dev/sdb"].ephemeral_name == "ephemeral0"


def test_image_attribute_output_through_botocore() -> None:
    data = {"ImageId": "ami-1", "LaunchPermissions": [{"Group": "all"}, {"UserId": "123456789012"}],
            "KernelId": {"Value": "aki-1"}, "Description": {}}
    parsed = botocore_parse("DescribeImageAttribute", respond("DescribeImageAttribute", data))
    assert parsed["LaunchPermissions"] == data["LaunchPermissions"]
    assert parsed["KernelId"] == {"Value": "aki-1"}


@pytest.mark.parametrize("spec", default_catalog(), ids=lambda t: t.name)
def test_instance_type_output_through_botocore(spec: Any) -> None:
    data = {"InstanceTypes": [describe_type(spec)], "NextToken": "n"}
    parsed = botocore_parse("DescribeInstanceTypes", respond("DescribeInstanceTypes", data))
    parsed.pop("ResponseMetadata")
    assert parsed == data
