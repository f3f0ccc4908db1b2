"""EBS rules (pure): volume states, the limits of each volume type, EC2 device names.

Limits as the EBS user guide gives them (sizes in GiB, IOPS, throughput in MiB/s); io2 and
gp3 beyond 16 TiB (Block Express) are not offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from controller.ec2 import errors

CREATING = "creating"
AVAILABLE = "available"
IN_USE = "in-use"
DELETING = "deleting"
ERROR = "error"

ATTACHING = "attaching"
ATTACHED = "attached"
DETACHING = "detaching"

DEFAULT_TYPE = "gp2"


@dataclass(frozen=True)
class TypeLimits:
    min_size: int
    max_size: int
    iops: tuple[int, int] | None = None
    """Provisioned IOPS allowed (None: the type takes no Iops)."""
    iops_required: bool = False
    iops_per_gib: int | None = None
    default_iops: int | None = None
    throughput: tuple[int, int] | None = None
    default_throughput: int | None = None


TYPES: dict[str, TypeLimits] = {
    "gp2": TypeLimits(1, 16384),
    "gp3": TypeLimits(1, 16384, iops=(3000, 16000), iops_per_gib=500, default_iops=3000,
                      throughput=(125, 1000), default_throughput=125),
    "io1": TypeLimits(4, 16384, iops=(100, 64000), iops_required=True, iops_per_gib=50),
    "io2": TypeLimits(4, 16384, iops=(100, 64000), iops_required=True, iops_per_gib=500),
    "st1": TypeLimits(125, 16384),
    "sc1": TypeLimits(125, 16384),
    "standard": TypeLimits(1, 1024),
}


@dataclass(frozen=True)
class Performance:
    volume_type: str
    iops: int | None
    throughput: int | None


def check_type(volume_type: str | None) -> str:
    name = volume_type or DEFAULT_TYPE
    if name not in TYPES:
        raise errors.InvalidParameterValue(
            f"Value ({name[:32]}) for parameter volumeType is invalid. Valid volume types are: "
            f"{', '.join(TYPES)}.")
    return name


def check_size(volume_type: str, size: int) -> None:
    limits = TYPES[volume_type]
    if size < limits.min_size:
        raise errors.InvalidParameterValue(
            f"Volume of {size}GiB is too small; minimum is {limits.min_size}GiB.")
    if size > limits.max_size:
        raise errors.InvalidParameterValue(
            f"Volume of {size}GiB is too large; maximum is {limits.max_size}GiB.")


def gp2_iops(size: int) -> int:
    """gp2's baseline: 3 IOPS per GiB, at least 100, at most 16,000."""
    return max(100, min(16000, 3 * size))


def performance(volume_type: str, size: int, iops: int | None,
                throughput: int | None) -> Performance:
    """Check Iops and Throughput for the type and size; what the volume reports."""
    limits = TYPES[volume_type]
    if iops is not None and limits.iops is None:
        raise errors.InvalidParameterCombination(
            f"The parameter iops is not supported for {volume_type} volumes.")
    if iops is None and limits.iops_required:
        raise errors.InvalidParameterCombination(
            f"The parameter iops must be specified for {volume_type} volumes.")
    if throughput is not None and limits.throughput is None:
        raise errors.InvalidParameterCombination(
            f"The parameter throughput is not supported for {volume_type} volumes.")
    if iops is not None and limits.iops is not None:
        low, high = limits.iops
        if not low <= iops <= high:
            raise errors.InvalidParameterValue(
                f"Volume iops of {iops} is {'too low' if iops < low else 'too high'}; "
                f"{'minimum' if iops < low else 'maximum'} is {low if iops < low else high}.")
        if limits.iops_per_gib is not None and iops > limits.iops_per_gib * size \
                and iops > (limits.default_iops or 0):
            raise errors.InvalidParameterValue(
                f"Iops to volume size ratio of {iops / size:.6f} is too high; maximum is "
                f"{float(limits.iops_per_gib):.6f}.")
    if throughput is not None and limits.throughput is not None:
        low, high = limits.throughput
        if not low <= throughput <= high:
            raise errors.InvalidParameterValue(
                f"Volume throughput of {throughput} is "
                f"{'too low' if throughput < low else 'too high'}; "
                f"{'minimum' if throughput < low else 'maximum'} is "
                f"{low if throughput < low else high}.")
        provisioned = iops or limits.default_iops or 0
        if throughput > provisioned // 4:
            raise errors.InvalidParameterValue(
                f"Throughput (MiBps) to iops ratio of {throughput / provisioned:.6f} is too "
                "high; maximum is 0.250000 MiBps per iops.")
    if volume_type == "gp2":
        return Performance(volume_type, gp2_iops(size), None)
    return Performance(volume_type, iops if iops is not None else limits.default_iops,
                       throughput if throughput is not None else limits.default_throughput)


# EC2 device names for EBS volumes: /dev/sd[b-z], /dev/xvd[b-z] (with or without /dev/).
_DEVICE = re.compile(r"^(?:/dev/)?(?:sd|xvd)([b-z])$")


def device_letter(device: str) -> str:
    """The guest disk letter of a device name (``/dev/sdf`` and ``xvdf`` are both ``f``:
    the guest sees ``vdf``), or ``InvalidParameterValue``."""
    match = _DEVICE.match(device)
    if match is None:
        raise errors.InvalidParameterValue(
            f"Value ({device[:64]}) for parameter device is invalid. {device[:64]} is not a "
            "valid EBS device name.")
    return match.group(1)


def root_letter(root_device_name: str | None) -> str | None:
    """The letter the root device takes (``/dev/sda1`` → ``a``)."""
    match = re.match(r"^(?:/dev/)?(?:sd|xvd|vd)([a-z])", root_device_name or "/dev/sda1")
    return match.group(1) if match else None
