"""The instance-type catalog: what each type name means in vCPUs, memory and local disk.

Operators replace it in the settings (``[[instance_types]]`` tables in the TOML file, or JSON in
``IRONBARK_INSTANCE_TYPES``); the default holds small types that fit test guests (the
Eucalyptus-era names, sized down) and a few of AWS's current names with their real sizes.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NAME = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")


class InstanceTypeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    vcpus: int = Field(ge=1, le=448)
    memory_mib: int = Field(ge=64, le=24 * 1024 * 1024)
    disk_gib: int = Field(default=0, ge=0, le=65536)
    """Local (instance-store) disk; 0 = none."""
    architectures: tuple[str, ...] = ("x86_64", "i386")
    current_generation: bool = True
    burstable: bool = False

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _NAME.fullmatch(value) or len(value) > 64:
            raise ValueError("instance type names look like family.size (t3.micro)")
        return value


def _t(name: str, vcpus: int, memory_mib: int, disk_gib: int = 0, *, current: bool = True,
       burstable: bool = False) -> InstanceTypeSpec:
    return InstanceTypeSpec(name=name, vcpus=vcpus, memory_mib=memory_mib, disk_gib=disk_gib,
                            current_generation=current, burstable=burstable)


def default_catalog() -> list[InstanceTypeSpec]:
    return [
        # small guests for tests and demos (Eucalyptus-style names, sized to fit)
        _t("t1.micro", 1, 128, current=False, burstable=True),
        _t("m1.small", 1, 256, 2, current=False),
        _t("c1.medium", 1, 512, 2, current=False),
        _t("m1.medium", 1, 512, 4, current=False),
        _t("m1.large", 2, 1024, 8, current=False),
        _t("m1.xlarge", 2, 2048, 10, current=False),
        _t("c1.xlarge", 4, 2048, 10, current=False),
        # AWS's current names with their real sizes
        _t("t2.nano", 1, 512, burstable=True),
        _t("t2.micro", 1, 1024, burstable=True),
        _t("t2.small", 1, 2048, burstable=True),
        _t("t3.nano", 2, 512, burstable=True),
        _t("t3.micro", 2, 1024, burstable=True),
        _t("t3.small", 2, 2048, burstable=True),
        _t("t3.medium", 2, 4096, burstable=True),
        _t("m5.large", 2, 8192),
        _t("m5.xlarge", 4, 16384),
        _t("c5.large", 2, 4096),
        _t("r5.large", 2, 16384),
    ]


def check_unique(catalog: list[InstanceTypeSpec]) -> list[InstanceTypeSpec]:
    names = [t.name for t in catalog]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"instance types listed twice: {', '.join(duplicates)}")
    if not catalog:
        raise ValueError("the instance-type catalog is empty")
    return catalog
