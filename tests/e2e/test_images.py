"""RegisterImage, DescribeImages, DeregisterImage and the image attributes, end to end with
boto3, the AWS CLI and boto 2, against images whose bytes really are in the object store."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from controller.identity.service import Credentials
from tests.conftest import AwsCli, Server
from tests.e2e.refusals import assert_refused, refusal

AMI = re.compile(r"ami-[0-9a-f]{17}")
BUNDLE = (b'<?xml version="1.0"?><manifest><version>2007-10-10</version><machine_configuration>'
          b"<architecture>x86_64</architecture><kernel_id>aki-12345678</kernel_id>"
          b"</machine_configuration><image><name>x.img</name><type>machine</type>"
          b"<ec2_encrypted_key algorithm='AES-128-CBC'>ab</ec2_encrypted_key><parts count='1'>"
          b"<part index='0'><filename>x.img.part.00</filename></part></parts></image></manifest>")


def upload_image(s3: Any, bucket: str, prefix: str, image_type: str, payload: bytes,
                 **extra: Any) -> str:
    """Put ``payload`` and an Ironbark JSON manifest naming it; the ImageLocation."""
    s3.put_object(Bucket=bucket, Key=f"{prefix}/part.0", Body=payload)
    manifest = {"manifest_version": "ironbark-image/1", "image_type": image_type,
                "architecture": "x86_64",
                "parts": [{"key": "part.0", "size": len(payload),
                           "sha256": hashlib.sha256(payload).hexdigest()}], **extra}
    s3.put_object(Bucket=bucket, Key=f"{prefix}/manifest.json", Body=json.dumps(manifest))
    return f"{bucket}/{prefix}/manifest.json"


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"img-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def triple(ec2: Any, s3: Any, bucket: str) -> dict[str, str]:
    """A registered kernel, ramdisk and machine image of the test's account."""
    aki = ec2.register_image(Name="kernel-k", ImageLocation=upload_image(s3, bucket, "k", "kernel", b"K" * 100))
    ari = ec2.register_image(Name="ramdisk-r", ImageLocation=upload_image(s3, bucket, "r", "ramdisk", b"R" * 50))
    ami = ec2.register_image(Name="machine-m", ImageLocation=upload_image(s3, bucket, "m", "machine", b"M" * 4096),
                             KernelId=aki["ImageId"], RamdiskId=ari["ImageId"],
                             TagSpecifications=[{"ResourceType": "image",
                                                 "Tags": [{"Key": "role", "Value": "demo"}]}])
    return {"aki": aki["ImageId"], "ari": ari["ImageId"], "ami": ami["ImageId"]}


def test_register_kernel_ramdisk_machine_and_describe(ec2: Any, triple: dict[str, str],
                                                      account: Credentials, bucket: str) -> None:
    assert triple["aki"].startswith("aki-") and triple["ari"].startswith("ari-")
    assert AMI.fullmatch(triple["ami"])
    image = ec2.describe_images(ImageIds=[triple["ami"]])["Images"][0]
    assert image["ImageId"] == triple["ami"]
    assert image["ImageLocation"] == f"{bucket}/m/manifest.json"
    assert image["State"] == "available" and image["OwnerId"] == account.account_id
    assert image["Public"] is False and image["ImageType"] == "machine"
    assert image["KernelId"] == triple["aki"] and image["RamdiskId"] == triple["ari"]
    assert image["Architecture"] == "x86_64" and image["RootDeviceType"] == "instance-store"
    assert image["RootDeviceName"] == "/dev/sda1" and image["VirtualizationType"] == "paravirtual"
    assert image["Tags"] == [{"Key": "role", "Value": "demo"}]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", image["CreationDate"])
    kernel = ec2.describe_images(ImageIds=[triple["aki"]])["Images"][0]
    assert kernel["ImageType"] == "kernel" and "KernelId" not in kernel
    everything = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    assert everything == set(triple.values())


def test_filters_and_tags(ec2: Any, triple: dict[str, str]) -> None:
    def ids(*filters: tuple[str, list[str]]) -> set[str]:
        reply = ec2.describe_images(Owners=["self"],
                                    Filters=[{"Name": n, "Values": v} for n, v in filters])
        return {i["ImageId"] for i in reply["Images"]}

    assert ids(("image-type", ["kernel", "ramdisk"])) == {triple["aki"], triple["ari"]}
    assert ids(("name", ["machine-?"]), ("kernel-id", [triple["aki"]])) == {triple["ami"]}
    assert ids(("tag:role", ["de*"])) == {triple["ami"]}
    assert ids(("is-public", ["true"])) == set()
    assert ids(("state", ["available"])) == set(triple.values())
    ec2.create_tags(Resources=[triple["aki"]], Tags=[{"Key": "role", "Value": "kernel"}])
    assert ids(("tag-key", ["role"])) == {triple["aki"], triple["ami"]}
    assert_refused(refusal(lambda: ids(("bogus", ["x"]))), "InvalidParameterValue")


def test_pagination(ec2: Any, triple: dict[str, str]) -> None:
    first = ec2.describe_images(Owners=["self"], MaxResults=2)
    assert len(first["Images"]) == 2 and first["NextToken"]
    rest = ec2.describe_images(Owners=["self"], MaxResults=2, NextToken=first["NextToken"])
    assert len(rest["Images"]) == 1 and "NextToken" not in rest
    seen = {i["ImageId"] for i in first["Images"] + rest["Images"]}
    assert seen == set(triple.values())
    paginator = ec2.get_paginator("describe_images")
    pages = list(paginator.paginate(Owners=["self"], PaginationConfig={"PageSize": 1}))
    assert sum(len(p["Images"]) for p in pages) == 3
    assert_refused(refusal(lambda: ec2.describe_images(ImageIds=[triple["ami"]], MaxResults=5)),
                   "InvalidParameterCombination")
    assert_refused(refusal(lambda: ec2.describe_images(MaxResults=5, NextToken="garbage!")),
                   "InvalidPaginationToken")


def test_register_refusals(ec2: Any, s3: Any, bucket: str, triple: dict[str, str]) -> None:
    location = upload_image(s3, bucket, "x", "machine", b"x" * 10)
    for kwargs, code in [
        ({"Name": "machine-m", "ImageLocation": location}, "InvalidAMIName.Duplicate"),
        ({"Name": "bad*name", "ImageLocation": location}, "InvalidAMIName.Malformed"),
        ({"Name": "no-location"}, "MissingParameter"),
        ({"Name": "nobucket", "ImageLocation": "no-such-bucket-x/m.json"}, "InvalidManifest"),
        ({"Name": "nokey", "ImageLocation": f"{bucket}/missing.json"}, "InvalidManifest"),
        ({"Name": "arch-x", "ImageLocation": location, "Architecture": "sparc"},
         "InvalidParameterValue"),
        ({"Name": "virt-x", "ImageLocation": location, "VirtualizationType": "pv"},
         "InvalidParameterValue"),
        ({"Name": "kern", "ImageLocation": location, "KernelId": "aki-bogus"},
         "InvalidAMIID.Malformed"),
        ({"Name": "kern2", "ImageLocation": location, "KernelId": "aki-0123456789abcdef0"},
         "InvalidAMIID.NotFound"),
        ({"Name": "kern3", "ImageLocation": location, "KernelId": triple["ari"]},
         "InvalidParameterValue"),
        ({"Name": "bdm-x", "ImageLocation": location,
          "BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "VirtualName": "swap"}]},
         "InvalidBlockDeviceMapping"),
        ({"Name": "snap", "ImageLocation": location,
          "BlockDeviceMappings": [{"DeviceName": "/dev/sdb",
                                   "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}]},
         "InvalidSnapshot.NotFound"),
    ]:
        assert_refused(refusal(lambda kw=kwargs: ec2.register_image(**kw)), code)


@pytest.mark.parametrize("body, words", [
    (b"not a manifest", "neither"),
    (b'{"manifest_version": "ironbark-image/1", "image_type": "machine", "parts": []}', "no parts"),
    (b'{"manifest_version": "v0"}', "manifest_version"),
    (BUNDLE, "encrypted EC2 bundle (machine image, 1 parts)"),
])
def test_bad_manifests_are_invalid_manifest(ec2: Any, s3: Any, bucket: str, body: bytes,
                                            words: str) -> None:
    s3.put_object(Bucket=bucket, Key="bad/manifest", Body=body)
    refused = refusal(lambda: ec2.register_image(Name="bad-manifest", ImageLocation=f"{bucket}/bad/manifest"))
    assert_refused(refused, "InvalidManifest")
    assert words in refused.message


def test_part_size_must_match(ec2: Any, s3: Any, bucket: str) -> None:
    location = upload_image(s3, bucket, "p", "machine", b"abc")
    s3.put_object(Bucket=bucket, Key="p/part.0", Body=b"abcd")
    refused = refusal(lambda: ec2.register_image(Name="part-size", ImageLocation=location))
    assert_refused(refused, "InvalidManifest")
    assert "4 bytes" in refused.message


def test_caller_must_be_able_to_read_the_manifest(server: Server, ec2: Any, s3: Any, bucket: str,
                                                  make_ec2: Callable[[Credentials], Any]) -> None:
    location = upload_image(s3, bucket, "priv", "kernel", b"k")
    other = make_ec2(server.new_account())
    assert_refused(refusal(lambda: other.register_image(Name="steal", ImageLocation=location)),
                   "InvalidManifest")
    s3.put_object_acl(Bucket=bucket, Key="priv/manifest.json", ACL="public-read")
    s3.put_object_acl(Bucket=bucket, Key="priv/part.0", ACL="public-read")
    assert other.register_image(Name="shared", ImageLocation=location)["ImageId"].startswith("aki-")


def test_sharing_and_public_images(server: Server, ec2: Any, triple: dict[str, str],
                                   make_ec2: Callable[[Credentials], Any]) -> None:
    friend_creds = server.new_account()
    friend, stranger = make_ec2(friend_creds), make_ec2(server.new_account())
    ami = triple["ami"]
    assert_refused(refusal(lambda: friend.describe_images(ImageIds=[ami])), "InvalidAMIID.NotFound")
    ec2.modify_image_attribute(ImageId=ami, LaunchPermission={
        "Add": [{"UserId": friend_creds.account_id}]})
    assert friend.describe_images(ImageIds=[ami])["Images"][0]["Tags"] == []
    assert [i["ImageId"] for i in friend.describe_images(ExecutableUsers=["self"])["Images"]] == [ami]
    assert [i["ImageId"] for i in ec2.describe_images(
        ExecutableUsers=[friend_creds.account_id])["Images"]] == [ami]
    assert friend.describe_images(Owners=["self"])["Images"] == []
    assert stranger.describe_images(ExecutableUsers=["all"])["Images"] == [] or all(
        i["Public"] for i in stranger.describe_images(ExecutableUsers=["all"])["Images"])
    attr = ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert attr["LaunchPermissions"] == [{"UserId": friend_creds.account_id}]
    assert_refused(refusal(lambda: friend.describe_image_attribute(
        ImageId=ami, Attribute="launchPermission")), "AuthFailure", 401)
    assert_refused(refusal(lambda: friend.deregister_image(ImageId=ami)), "AuthFailure", 401)
    assert_refused(refusal(lambda: friend.modify_image_attribute(
        ImageId=ami, Description={"Value": "mine"})), "AuthFailure", 401)
    ec2.modify_image_attribute(ImageId=ami, LaunchPermission={"Add": [{"Group": "all"}]})
    assert stranger.describe_images(ImageIds=[ami])["Images"][0]["Public"] is True
    assert ami in {i["ImageId"] for i in stranger.describe_images(ExecutableUsers=["all"])["Images"]}
    assert ami in {i["ImageId"] for i in stranger.describe_images(Owners=[server.admin.account_id,
                                                                             triple_owner(ec2, ami)])["Images"]}
    ec2.reset_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert_refused(refusal(lambda: stranger.describe_images(ImageIds=[ami])), "InvalidAMIID.NotFound")
    assert_refused(refusal(lambda: friend.describe_images(ImageIds=[ami])), "InvalidAMIID.NotFound")


def triple_owner(ec2: Any, image_id: str) -> str:
    return str(ec2.describe_images(ImageIds=[image_id])["Images"][0]["OwnerId"])


def test_attributes(ec2: Any, triple: dict[str, str]) -> None:
    ami = triple["ami"]
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="kernel")["KernelId"] == {
        "Value": triple["aki"]}
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="ramdisk")["RamdiskId"] == {
        "Value": triple["ari"]}
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="description")["Description"] == {}
    ec2.modify_image_attribute(ImageId=ami, Description={"Value": "demo image"})
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="description")["Description"] == {
        "Value": "demo image"}
    ec2.modify_image_attribute(ImageId=ami, Attribute="description", Value="v2")
    assert ec2.describe_images(ImageIds=[ami])["Images"][0]["Description"] == "v2"
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="blockDeviceMapping")[
        "BlockDeviceMappings"] == []
    for kwargs, code in [
        ({"Attribute": "launchPermission", "OperationType": "add", "UserIds": ["nobody"]},
         "InvalidAMIAttributeItemValue"),
        ({"LaunchPermission": {"Add": [{"Group": "friends"}]}}, "InvalidAMIAttributeItemValue"),
        ({"Attribute": "kernel", "Value": triple["aki"]}, "InvalidParameterCombination"),
        ({}, "InvalidParameterCombination"),
    ]:
        assert_refused(refusal(lambda kw=kwargs: ec2.modify_image_attribute(ImageId=ami, **kw)), code)
    assert_refused(refusal(lambda: ec2.reset_image_attribute(ImageId=ami, Attribute="kernel")),
                   "InvalidParameterValue")
    assert_refused(refusal(lambda: ec2.describe_image_attribute(ImageId="ami-nothex",
                                                                Attribute="kernel")),
                   "InvalidAMIID.Malformed")


def test_block_device_mappings_are_kept(ec2: Any, s3: Any, bucket: str) -> None:
    mappings = [{"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
                {"DeviceName": "/dev/sdc", "NoDevice": ""},
                {"DeviceName": "/dev/sdd", "Ebs": {"VolumeSize": 2, "DeleteOnTermination": False}}]
    image_id = ec2.register_image(Name="bdm-image", ImageLocation=upload_image(s3, bucket, "b", "machine", b"b"),
                                  BlockDeviceMappings=mappings, RootDeviceName="/dev/vda",
                                  VirtualizationType="hvm", Architecture="arm64")["ImageId"]
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert image["RootDeviceName"] == "/dev/vda" and image["VirtualizationType"] == "hvm"
    assert image["Architecture"] == "arm64"
    shown = image["BlockDeviceMappings"]
    assert shown[0] == mappings[0] and shown[1] == mappings[1]
    assert shown[2]["Ebs"]["VolumeSize"] == 2 and shown[2]["Ebs"]["DeleteOnTermination"] is False
    filtered = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "block-device-mapping.device-name", "Values": ["/dev/sdd"]}])["Images"]
    assert [i["ImageId"] for i in filtered] == [image_id]


def test_deregister(ec2: Any, triple: dict[str, str]) -> None:
    assert ec2.deregister_image(ImageId=triple["ami"])["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_refused(refusal(lambda: ec2.describe_images(ImageIds=[triple["ami"]])),
                   "InvalidAMIID.NotFound")
    assert_refused(refusal(lambda: ec2.deregister_image(ImageId=triple["ami"])),
                   "InvalidAMIID.NotFound")
    assert_refused(refusal(lambda: ec2.deregister_image(ImageId="ami-12")), "InvalidAMIID.Malformed")
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [triple["ami"]]}])["Tags"] == []


def test_describe_refusals(ec2: Any) -> None:
    assert_refused(refusal(lambda: ec2.describe_images(ImageIds=["ami-xyz"])), "InvalidAMIID.Malformed")
    assert_refused(refusal(lambda: ec2.describe_images(ImageIds=["ami-0123456789abcdef0"])),
                   "InvalidAMIID.NotFound")
    assert_refused(refusal(lambda: ec2.describe_images(Owners=["nobody"])), "InvalidUserID.Malformed")
    assert ec2.describe_images(Owners=["amazon"])["Images"] == []
    assert_refused(refusal(lambda: ec2.register_image(Name="dry-run", ImageLocation="b/k", DryRun=True)),
                   "DryRunOperation", 412)


def test_aws_cli(aws: AwsCli, s3: Any, bucket: str) -> None:
    location = upload_image(s3, bucket, "cli", "machine", b"c" * 10)
    image_id = aws("ec2", "register-image", "--name", "cli-image", "--image-location", location,
                   "--description", "from the CLI")["ImageId"]
    images = aws("ec2", "describe-images", "--owners", "self", "--filters",
                 "Name=name,Values=cli-*")["Images"]
    assert [(i["ImageId"], i["Description"]) for i in images] == [(image_id, "from the CLI")]
    aws("ec2", "modify-image-attribute", "--image-id", image_id, "--launch-permission",
        "Add=[{Group=all}]")
    attr = aws("ec2", "describe-image-attribute", "--image-id", image_id, "--attribute",
               "launchPermission")
    assert attr["LaunchPermissions"] == [{"Group": "all"}]
    aws("ec2", "reset-image-attribute", "--image-id", image_id, "--attribute", "launchPermission")
    aws("ec2", "deregister-image", "--image-id", image_id)
    assert aws("ec2", "describe-images", "--owners", "self")["Images"] == []


def test_boto2(boto2: Any, s3: Any, bucket: str, server: Server) -> None:
    kernel = boto2.register_image(name="b2-kernel",
                                  image_location=upload_image(s3, bucket, "k2", "kernel", b"k"))
    image_id = boto2.register_image(name="b2-image", description="boto 2",
                                    image_location=upload_image(s3, bucket, "m2", "machine", b"m"),
                                    kernel_id=kernel, architecture="x86_64")
    assert image_id.startswith("ami-") and kernel.startswith("aki-")
    images = {i.id: i for i in boto2.get_all_images(owners=["self"])}
    image = images[image_id]
    assert image.kernel_id == kernel and image.description == "boto 2"
    assert image.state == "available" and image.is_public is False
    assert image.type == "machine" and image.root_device_type == "instance-store"
    assert images[kernel].type == "kernel"
    other = server.new_account()
    assert boto2.modify_image_attribute(image_id, attribute="launchPermission", operation="add",
                                        user_ids=[other.account_id], groups=["all"])
    attr = boto2.get_image_attribute(image_id, attribute="launchPermission")
    assert attr.attrs["user_ids"] == [other.account_id] and attr.attrs["groups"] == ["all"]
    # boto 2 keeps the <value> of <kernel><value>aki-...</value></kernel> as .value
    assert boto2.get_image_attribute(image_id, attribute="kernel").value == kernel
    assert boto2.modify_image_attribute(image_id, attribute="launchPermission", operation="remove",
                                        groups=["all"])
    assert boto2.get_all_images(image_ids=[image_id])[0].is_public is False
    assert boto2.reset_image_attribute(image_id)
    assert boto2.deregister_image(image_id)
    assert_refused(refusal(lambda: boto2.get_all_images(image_ids=[image_id])),
                   "InvalidAMIID.NotFound")
