"""The JSON bodies of the controller's node endpoints (``/_ironbark/nodes/...``).

Unknown fields are refused, so a typo in an agent shows up as a 400 rather than silently.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HYPERVISORS = ("kvm", "qemu", "fake")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Capacity(_Strict):
    vcpus: int = Field(ge=1, le=65536)
    memory_mib: int = Field(ge=1, le=2**40)
    disk_gib: int = Field(ge=0, le=2**40)
    max_instances: int = Field(ge=0, le=1_000_000)


class InstanceReport(_Strict):
    instance_id: str = Field(pattern=r"^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
    state: str = Field(min_length=1, max_length=32)


class Registration(_Strict):
    name: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    endpoint: str = Field(min_length=1, max_length=512, pattern=r"^https?://[^\s]+$")
    hypervisor: Literal["kvm", "qemu", "fake"]
    capacity: Capacity
    api_token: str | None = Field(default=None, min_length=1, max_length=512)
    """The bearer token the controller must send with commands to this node."""


class Registered(_Strict):
    node_id: str
    credential: str
    heartbeat_seconds: float


class Heartbeat(_Strict):
    capacity: Capacity | None = None
    instances: list[InstanceReport] = Field(default_factory=list, max_length=100_000)


class HeartbeatReply(_Strict):
    node_id: str
    state: str
    heartbeat_seconds: float
