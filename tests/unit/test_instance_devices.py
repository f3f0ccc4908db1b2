"""RunInstances' block device mappings over the image's (pure): what an instance gets, and
EC2's errors."""

from __future__ import annotations

from typing import Any

import pytest

from controller.ec2 import errors
from controller.ec2.instance_devices import launch_mappings, node_ephemeral

EPH0 = {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}


def launch(requested: list[dict[str, Any]] | None, image: list[dict[str, Any]] | None = None,
           disk_gib: int = 2) -> list[dict[str, Any]]:
    return launch_mappings(requested, image or [], "/dev/sda1", disk_gib)


def test_request_and_image_mappings_merge_by_device() -> None:
    assert launch([EPH0]) == [{**EPH0, "SizeGiB": 2}]
    assert launch(None, [EPH0]) == [{**EPH0, "SizeGiB": 2}]
    # the request's xvdb is the image's sdb (both the guest's vdb): it replaces it
    assert launch([{"DeviceName": "xvdb", "VirtualName": "ephemeral0"}], [EPH0]) == [
        {"DeviceName": "xvdb", "VirtualName": "ephemeral0", "SizeGiB": 2}]
    assert launch([{"DeviceName": "/dev/sdb", "NoDevice": ""}], [EPH0]) == []


def test_only_the_types_instance_store_is_honoured() -> None:
    both = [EPH0, {"DeviceName": "/dev/sdc", "VirtualName": "ephemeral1"}]
    assert [m["VirtualName"] for m in launch(both)] == ["ephemeral0"]
    assert launch(both, disk_gib=0) == []
    # the same virtual name twice: the first device keeps it
    assert launch([EPH0, {"DeviceName": "/dev/sdc", "VirtualName": "ephemeral0"}]) == [
        {**EPH0, "SizeGiB": 2}]


def test_an_images_partition_style_mapping_is_skipped() -> None:
    assert launch(None, [{"DeviceName": "/dev/sda2", "VirtualName": "ephemeral0"}]) == []


@pytest.mark.parametrize(("requested", "error", "message"), [
    ([{"VirtualName": "ephemeral0"}], errors.InvalidBlockDeviceMapping, "Missing device name"),
    ([{"DeviceName": "/dev/x", "VirtualName": "ephemeral0"}], errors.InvalidBlockDeviceMapping,
     "Invalid device name /dev/x"),
    ([{"DeviceName": "/dev/sdb1", "VirtualName": "ephemeral0"}],
     errors.InvalidBlockDeviceMapping, "Invalid device name /dev/sdb1"),
    ([EPH0, {"DeviceName": "sdb", "NoDevice": ""}], errors.InvalidBlockDeviceMapping,
     "sdb is being assigned to multiple times."),
    ([{"DeviceName": "/dev/sdb"}], errors.InvalidBlockDeviceMapping, "exactly one"),
    ([{"DeviceName": "/dev/sdb", "VirtualName": "ephemeral24"}],
     errors.InvalidBlockDeviceMapping, "Invalid virtual name"),
    ([{"DeviceName": "/dev/sda1", "NoDevice": ""}], errors.InvalidBlockDeviceMapping,
     "root device"),
])
def test_refusals(requested: list[dict[str, Any]], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        launch(requested)


def test_ebs_mappings_are_not_ephemeral_disks() -> None:
    """Ebs entries are volumes (controller/ec2/instance_volumes.py), not this function's."""
    image = [{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}]
    assert launch(None, image) == []
    assert launch([{"DeviceName": "/dev/sdg", "Ebs": {"VolumeSize": 1}}]) == []


def test_node_entries() -> None:
    assert node_ephemeral([{"DeviceName": "xvdc", "VirtualName": "ephemeral0", "SizeGiB": 4}]) \
        == [{"name": "ephemeral0", "device": "vdc", "size_gib": 4}]
