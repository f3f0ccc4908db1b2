"""DescribeInstanceTypes over the operator's catalog (``Settings.instance_types``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.ec2 import errors
from controller.ec2.context import RequestContext
from controller.ec2.filters import apply_filters
from controller.ec2.instance_type_catalog import InstanceTypeSpec
from controller.ec2.pagination import paginate
from controller.ec2.registry import Params, Result, action

MAX_NAMES = 100
_F = Callable[[InstanceTypeSpec], object]

_FILTERS: dict[str, _F] = {
    "instance-type": lambda t: t.name,
    "current-generation": lambda t: t.current_generation,
    "free-tier-eligible": lambda t: t.name in ("t1.micro", "t2.micro", "t3.micro"),
    "bare-metal": lambda t: False,
    "burstable-performance-supported": lambda t: t.burstable,
    "hibernation-supported": lambda t: False,
    "dedicated-hosts-supported": lambda t: False,
    "auto-recovery-supported": lambda t: False,
    "hypervisor": lambda t: "xen",
    "instance-storage-supported": lambda t: t.disk_gib > 0,
    "instance-storage-info.total-size": lambda t: t.disk_gib if t.disk_gib else None,
    "instance-storage-info.disk.size-in-gb": lambda t: t.disk_gib if t.disk_gib else None,
    "instance-storage-info.disk.count": lambda t: 1 if t.disk_gib else None,
    "instance-storage-info.disk.type": lambda t: "hdd" if t.disk_gib else None,
    "memory-info.size-in-mib": lambda t: t.memory_mib,
    "processor-info.supported-architecture": lambda t: list(t.architectures),
    "supported-boot-mode": lambda t: "legacy-bios",
    "supported-root-device-type": lambda t: ["ebs", "instance-store"],
    "supported-usage-class": lambda t: "on-demand",
    "supported-virtualization-type": lambda t: ["hvm", "paravirtual"],
    "vcpu-info.default-vcpus": lambda t: t.vcpus,
    "vcpu-info.default-cores": lambda t: t.vcpus,
    "vcpu-info.default-threads-per-core": lambda t: 1,
    "vcpu-info.valid-cores": lambda t: list(range(1, t.vcpus + 1)),
    "vcpu-info.valid-threads-per-core": lambda t: 1,
    "network-info.ipv6-supported": lambda t: False,
    "network-info.maximum-network-interfaces": lambda t: 1,
    "network-info.ena-support": lambda t: "unsupported",
    "network-info.network-performance": lambda t: "Low to Moderate",
    "ebs-info.ebs-optimized-support": lambda t: "unsupported",
    "ebs-info.encryption-support": lambda t: "unsupported",
}


def describe(t: InstanceTypeSpec) -> dict[str, Any]:
    """One ``InstanceTypeInfo``."""
    info: dict[str, Any] = {
        "InstanceType": t.name,
        "CurrentGeneration": t.current_generation,
        "FreeTierEligible": bool(_FILTERS["free-tier-eligible"](t)),
        "SupportedUsageClasses": ["on-demand"],
        "SupportedRootDeviceTypes": ["ebs", "instance-store"],
        "SupportedVirtualizationTypes": ["hvm", "paravirtual"],
        "BareMetal": False,
        "Hypervisor": "xen",
        "ProcessorInfo": {"SupportedArchitectures": list(t.architectures)},
        "VCpuInfo": {"DefaultVCpus": t.vcpus, "DefaultCores": t.vcpus,
                     "DefaultThreadsPerCore": 1, "ValidCores": list(range(1, t.vcpus + 1)),
                     "ValidThreadsPerCore": [1]},
        "MemoryInfo": {"SizeInMiB": t.memory_mib},
        "InstanceStorageSupported": t.disk_gib > 0,
        "EbsInfo": {"EbsOptimizedSupport": "unsupported", "EncryptionSupport": "unsupported",
                    "NvmeSupport": "unsupported"},
        "NetworkInfo": {"NetworkPerformance": "Low to Moderate", "MaximumNetworkInterfaces": 1,
                        "MaximumNetworkCards": 1, "DefaultNetworkCardIndex": 0,
                        "Ipv4AddressesPerInterface": 1, "Ipv6AddressesPerInterface": 0,
                        "Ipv6Supported": False, "EnaSupport": "unsupported",
                        "EfaSupported": False, "EncryptionInTransitSupported": False},
        "PlacementGroupInfo": {"SupportedStrategies": []},
        "HibernationSupported": False,
        "BurstablePerformanceSupported": t.burstable,
        "DedicatedHostsSupported": False,
        "AutoRecoverySupported": False,
        "SupportedBootModes": ["legacy-bios"],
    }
    if t.disk_gib:
        info["InstanceStorageInfo"] = {
            "TotalSizeInGB": t.disk_gib,
            "Disks": [{"SizeInGB": t.disk_gib, "Count": 1, "Type": "hdd"}],
            "NvmeSupport": "unsupported", "EncryptionSupport": "unsupported"}
    return info


@action("DescribeInstanceTypes", mutating=False)
def describe_instance_types(ctx: RequestContext, params: Params) -> Result:
    catalog = {t.name: t for t in ctx.settings.instance_types}
    names: list[str] = params.get("InstanceTypes") or []
    if len(names) > MAX_NAMES:
        raise errors.InvalidParameterValue(
            f"The number of instance types exceeds the maximum of {MAX_NAMES}")
    unknown = [n for n in dict.fromkeys(names) if n not in catalog]
    if unknown:
        raise errors.InvalidInstanceType(
            f"The following supplied instance types do not exist: [{', '.join(unknown)}]")
    types = [catalog[n] for n in dict.fromkeys(names)] if names else list(catalog.values())
    types = apply_filters(types, params.get("Filters"), _FILTERS)
    page, token = paginate(types, lambda t: t.name, params.get("MaxResults"),
                           params.get("NextToken"), low=5, high=100)
    result: dict[str, Any] = {"InstanceTypes": [describe(t) for t in page]}
    if token:
        result["NextToken"] = token
    return result
