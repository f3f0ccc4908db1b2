"""Node agent configuration: environment (``IRONBARK_NODE_*``), an optional TOML file, overrides.

Built once at start-up by :func:`load_node_settings` and passed in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from controller.config import TomlSettings

DEFAULT_NODE_PORT = 8774


def default_state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/ironbark/node")
    return Path.home() / ".local" / "share" / "ironbark" / "node"


class NodeSettings(TomlSettings):
    """Everything the node agent can be told. Field names map to ``IRONBARK_NODE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="IRONBARK_NODE_", extra="forbid")

    state_dir: Path = Field(default_factory=default_state_dir)
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_NODE_PORT, ge=0, le=65535)
    api_token: str | None = None  # generated into STATE/api-token when not set
    libvirt_uri: str = "qemu:///system"
    virt_type: Literal["auto", "kvm", "qemu"] = "auto"
    libvirt_deadline: float = Field(default=30.0, gt=0)
    stop_grace: float = Field(default=60.0, ge=0)
    bridge: str = Field(default="ibr0", pattern=r"^[A-Za-z0-9_-]{1,15}$")
    gateway_cidr: str = "10.77.0.1/24"
    metadata_port: int = Field(default=8775, ge=1, le=65535)
    manage_network: bool = True
    log_level: str = "INFO"
    controller_url: str | None = None  # register with this controller (None: stand alone)
    cluster_token: str | None = None  # presented once, at registration
    node_name: str | None = None  # default: the host name
    advertise_url: str | None = None  # where the controller reaches this agent's API
    heartbeat_interval: float | None = Field(default=None, gt=0)  # None: what the controller says
    disk_gib: int | None = Field(default=None, ge=0)  # default: free space of state_dir
    max_instances: int = Field(default=64, ge=0)
    image_cache_dir: Path | None = None  # default: STATE/images
    image_cache_max_gib: float = Field(default=20.0, gt=0)
    metrics_interval: float = Field(default=60.0, ge=1)  # seconds between samples
    metrics_buffer: int = Field(default=60, ge=1)  # samples kept per instance (unsent, recent)


def load_node_settings(config_file: Path | None = None, **overrides: Any) -> NodeSettings:
    """CLI overrides beat the environment, which beats the TOML file."""
    return NodeSettings.load(config_file, **overrides)
