"""The node agent → controller metrics batch (the wire contract of
``POST /_ironbark/nodes/metrics``): counters are deltas over ``[start, end)``."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, NonNegativeInt, PositiveInt, model_validator

MAX_SAMPLES = 20_000


class VolumeSample(BaseModel):
    read_bytes: NonNegativeInt = 0
    write_bytes: NonNegativeInt = 0
    read_ops: NonNegativeInt = 0
    write_ops: NonNegativeInt = 0


class InstanceSample(BaseModel):
    instance_id: str = Field(min_length=1, max_length=32)
    start: AwareDatetime
    end: AwareDatetime
    vcpus: PositiveInt
    cpu_time_ns: NonNegativeInt = 0
    disk_read_bytes: NonNegativeInt = 0
    disk_write_bytes: NonNegativeInt = 0
    disk_read_ops: NonNegativeInt = 0
    disk_write_ops: NonNegativeInt = 0
    net_in_bytes: NonNegativeInt = 0
    net_out_bytes: NonNegativeInt = 0
    net_in_packets: NonNegativeInt = 0
    net_out_packets: NonNegativeInt = 0
    volumes: dict[str, VolumeSample] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> InstanceSample:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


class MetricsBatch(BaseModel):
    node_id: str = Field(min_length=1, max_length=64)
    samples: list[InstanceSample] = Field(max_length=MAX_SAMPLES)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())
