"""EBS volume rules: sizes, IOPS and throughput by volume type, device names."""

from __future__ import annotations

import pytest

from controller.ec2 import errors
from controller.ec2 import volume_rules as rules


@pytest.mark.parametrize(("volume_type", "low", "high"), [
    ("gp2", 1, 16384), ("gp3", 1, 16384), ("io1", 4, 16384), ("io2", 4, 16384),
    ("st1", 125, 16384), ("sc1", 125, 16384), ("standard", 1, 1024)])
def test_sizes_by_type(volume_type: str, low: int, high: int) -> None:
    rules.check_size(volume_type, low)
    rules.check_size(volume_type, high)
    with pytest.raises(errors.InvalidParameterValue, match="too small"):
        rules.check_size(volume_type, low - 1)
    with pytest.raises(errors.InvalidParameterValue, match="too large"):
        rules.check_size(volume_type, high + 1)


def test_types() -> None:
    assert rules.check_type(None) == "gp2"
    assert rules.check_type("st1") == "st1"
    with pytest.raises(errors.InvalidParameterValue, match="volumeType"):
        rules.check_type("gp4")


def test_reported_performance() -> None:
    assert rules.performance("gp2", 10, None, None) == rules.Performance("gp2", 100, None)
    assert rules.performance("gp2", 1000, None, None).iops == 3000
    assert rules.performance("gp2", 16000, None, None).iops == 16000
    assert rules.performance("gp3", 1, None, None) == rules.Performance("gp3", 3000, 125)
    assert rules.performance("gp3", 100, 6000, 500) == rules.Performance("gp3", 6000, 500)
    assert rules.performance("io1", 100, 5000, None) == rules.Performance("io1", 5000, None)
    assert rules.performance("st1", 500, None, None) == rules.Performance("st1", None, None)


@pytest.mark.parametrize(("args", "error", "text"), [
    (("gp2", 10, 100, None), errors.InvalidParameterCombination, "iops is not supported"),
    (("standard", 10, 100, None), errors.InvalidParameterCombination, "not supported"),
    (("io1", 10, None, None), errors.InvalidParameterCombination, "must be specified"),
    (("io2", 10, None, None), errors.InvalidParameterCombination, "must be specified"),
    (("gp2", 10, None, 200), errors.InvalidParameterCombination, "throughput"),
    (("io1", 10, 50, None), errors.InvalidParameterValue, "too low"),
    (("io1", 10, 501, None), errors.InvalidParameterValue, "ratio"),
    (("io2", 10, 5001, None), errors.InvalidParameterValue, "ratio"),
    (("gp3", 10, 2000, None), errors.InvalidParameterValue, "too low"),
    (("gp3", 10, 16001, None), errors.InvalidParameterValue, "too high"),
    (("gp3", 10, 6000, None), errors.InvalidParameterValue, "ratio"),
    (("gp3", 10, None, 100), errors.InvalidParameterValue, "too low"),
    (("gp3", 100, None, 1001), errors.InvalidParameterValue, "too high"),
    (("gp3", 100, 3000, 1000), errors.InvalidParameterValue, "MiBps per iops"),
])
def test_performance_refusals(args: tuple[str, int, int | None, int | None],
                              error: type[errors.ClientError], text: str) -> None:
    with pytest.raises(error, match=text):
        rules.performance(*args)


def test_device_names() -> None:
    assert rules.device_letter("/dev/sdf") == "f"
    assert rules.device_letter("/dev/xvdp") == "p"
    assert rules.device_letter("xvdz") == "z"
    assert rules.device_letter("sdb") == "b"
    for bad in ("/dev/sda", "/dev/sdf1", "/dev/vdf", "/dev/hdf", "/dev/foo", "", "/dev/sdff"):
        with pytest.raises(errors.InvalidParameterValue, match="not a valid EBS device name"):
            rules.device_letter(bad)
    assert rules.root_letter("/dev/sda1") == "a"
    assert rules.root_letter("/dev/xvda") == "a"
    assert rules.root_letter(None) == "a"
