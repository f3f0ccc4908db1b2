"""Controller configuration: environment (``IRONBARK_*``), an optional TOML file, CLI overrides.

Built once at start-up by :func:`load_settings` and passed in; nothing reads the environment later.
"""

from __future__ import annotations

import ipaddress
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from controller.ec2.instance_type_catalog import InstanceTypeSpec, check_unique, default_catalog

DEFAULT_PORT = 8773


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/ironbark")
    return Path.home() / ".local" / "share" / "ironbark"


_CONFIG_FILE: ContextVar[Path | None] = ContextVar("ironbark_config_file", default=None)
S = TypeVar("S", bound="TomlSettings")


class TomlSettings(BaseSettings):
    """Settings from, highest precedence first: explicit overrides (command-line options), the
    environment, then an optional TOML file given to :meth:`load`. Shared by the controller and
    the node agent."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _CONFIG_FILE.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Self:
        """Build the settings; overrides that are None (options not given) do not count."""
        if config_file is not None and not config_file.is_file():
            raise FileNotFoundError(f"configuration file not found: {config_file}")
        token = _CONFIG_FILE.set(config_file)
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        finally:
            _CONFIG_FILE.reset(token)


class Settings(TomlSettings):
    """Everything the controller can be told. Field names map to ``IRONBARK_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="IRONBARK_", extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    region: str = "us-east-1"
    availability_zones: list[str] = Field(default_factory=list)
    dns_domain: str | None = None
    s3_inline_max_bytes: int = Field(default=64 * 1024, ge=0, le=1024 * 1024)
    """Objects up to this size are stored in the database row with their metadata (one
    transaction, no blob file, no fsync): exactly as durable as the database. 0 turns it off."""
    http_busy_poll_us: int = Field(default=250, ge=0, le=100_000)
    """After each request and response the API server's event loop polls for this many
    microseconds before it sleeps, so that a client's next request is answered without a CPU
    wake-up (+20-30 % requests/s for one client; docs/s3-performance.md). It costs at most this
    much CPU time after each burst of requests and nothing when idle; 0 turns it off."""
    website_domain: str = "s3-website.localhost"
    """S3 static websites answer at ``BUCKET.<website_domain>`` (and ``BUCKET.s3-website.<dns
    domain>``); browsers and curl resolve ``*.localhost`` to the loopback address by themselves."""
    secret_key: str | None = None
    log_level: str = "INFO"
    log_json: bool = False
    max_query_body_bytes: int = 1024 * 1024
    s3_lifecycle_day_seconds: int = Field(default=86400, ge=1)
    """The length of a lifecycle "day"; anything but 86400 (tests) skips the midnight rounding."""
    s3_lifecycle_interval_seconds: float = Field(default=3600.0, gt=0)
    """How often the lifecycle job passes over the buckets."""
    s3_access_log_interval_seconds: float = Field(default=60.0, gt=0)
    """How often server access log records are delivered to their target buckets."""
    s3_sse_c_allow_http: bool = False
    """Accept SSE-C keys (``x-amz-server-side-encryption-customer-key``) over plain HTTP from
    any address; else only over HTTPS or from the loopback address, as S3 requires HTTPS."""
    s3_sse_c_blocked_by_default: bool = True
    """As S3 since April 2026: SSE-C writes to a bucket are refused (AccessDenied) unless its
    default encryption unblocks them (``BlockedEncryptionTypes`` ``NONE``)."""
    cluster_token: str | None = None
    """What node agents present to register; generated into ``DATA/cluster-token`` if unset."""
    node_heartbeat_seconds: float = Field(default=10.0, gt=0, le=3600)
    """How often node agents send heartbeats (they are told so when they register)."""
    node_missed_heartbeats: int = Field(default=3, ge=1, le=1000)
    """A node silent for this many heartbeat intervals is marked unhealthy."""
    with_node: bool = False
    """All in one: run the node agent (``IRONBARK_NODE_*`` settings) in this process,
    registered with this controller. Off by default: it drives libvirt and the host network."""
    instance_types: list[InstanceTypeSpec] = Field(default_factory=default_catalog)
    """The instance-type catalog (``controller/ec2/instance_type_catalog.py`` has the default)."""
    private_subnet: str = "10.77.0.0/24"
    """Instances' private addresses come from here (the node agent's default bridge network);
    the network, the first address (the bridge's gateway) and the broadcast are never given."""
    zone_subnets: dict[str, str] = Field(default_factory=dict)
    """Availability zone -> the IPv4 subnet its instances' private addresses come from (the
    bridge network of that zone's nodes); zones not listed use ``private_subnet``."""
    node_zones: dict[str, str] = Field(default_factory=dict)
    """Node name -> availability zone; nodes not listed are in the first zone."""
    placement_policy: Literal["least-loaded", "packing"] = "least-loaded"
    instance_reconcile_seconds: float = Field(default=2.0, gt=0, le=3600)
    """How often the instance reconciler passes (commands to nodes, states from reports)."""
    instance_launch_timeout_seconds: float = Field(default=600.0, gt=0)
    """A launch the node has not confirmed within this time ends terminated (Server.InternalError)."""
    terminated_visible_seconds: float = Field(default=3600.0, ge=0)
    cloudwatch_alarm_seconds: float = Field(default=60.0, gt=0, le=3600)
    """How often CloudWatch alarms are evaluated (and, every few minutes, metrics expired)."""
    """How long DescribeInstances still shows a terminated instance (EC2: about an hour)."""
    metadata_host: str = "0.0.0.0"
    """Where the instance metadata service listens: node agents DNAT guests' requests for
    169.254.169.254:80 to their bridge gateway on ``metadata_port``, so all-in-one it must
    listen there (0.0.0.0); the service answers only addresses of known instances."""
    metadata_port: int = Field(default=8775, ge=0, le=65535)
    """0 turns the metadata listener off."""
    image_url_endpoint: str | None = None
    """The S3 endpoint put in the presigned image URLs sent to nodes (default: this controller's
    ``http://host:port/``; set it when nodes reach the controller under another name)."""
    image_url_seconds: int = Field(default=6 * 3600, ge=60, le=7 * 86400)
    # --- EBS volumes (docs/ebs.md) ---
    volume_dir: Path | None = None
    """Where this storage host keeps volume files (default: ``DATA/volumes``)."""
    volume_host: str | None = None
    """This storage host's name (default: the host name). A node of the same name opens the
    volume files by path; any other node gets an NBD export."""
    volume_format: Literal["raw", "qcow2"] = "raw"
    """Format of new volume files: sparse raw, or qcow2."""
    volume_attach: Literal["auto", "nbd"] = "auto"
    """``nbd`` exports every attached volume over NBD, even to a node on the storage host."""
    volume_nbd_address: str | None = None
    """Where NBD exports listen and what nodes are told to connect to (default: ``host``, the
    loopback for a wildcard). NBD has no authentication: use a storage network."""
    volume_nbd_ports: tuple[int, int] = (10809, 10999)
    volume_reconcile_seconds: float = Field(default=1.0, gt=0, le=3600)
    """How often the volume reconciler passes (create, attach, detach, delete)."""
    demo_image: str = "auto"
    """``ironbark up`` registers the demo image on its first start: ``auto`` builds it into
    ``DATA/demo-image`` with deploy/images/build-demo.sh when the machine can; a directory
    made by that script is used as it is; ``off`` never registers it."""

    @field_validator("instance_types")
    @classmethod
    def _unique_types(cls, value: list[InstanceTypeSpec]) -> list[InstanceTypeSpec]:
        return check_unique(value)

    @field_validator("private_subnet")
    @classmethod
    def _subnet_shape(cls, value: str) -> str:
        return _ipv4_subnet(value)

    @field_validator("zone_subnets")
    @classmethod
    def _zone_subnets_shape(cls, value: dict[str, str]) -> dict[str, str]:
        return {zone: _ipv4_subnet(subnet) for zone, subnet in value.items()}

    @model_validator(mode="after")
    def _zone_subnets_known(self) -> Self:
        unknown = sorted(set(self.zone_subnets) - set(self.zones))
        if unknown:
            raise ValueError(f"zone_subnets names zones that are not availability zones: "
                             f"{', '.join(unknown)}")
        return self

    def subnet_of(self, zone: str) -> str:
        """The subnet of ``zone``'s instance addresses."""
        return self.zone_subnets.get(zone, self.private_subnet)

    @field_validator("region")
    @classmethod
    def _region_shape(cls, value: str) -> str:
        if not value or len(value) > 32 or not all(c.isalnum() or c == "-" for c in value):
            raise ValueError("region must be letters, digits and dashes")
        return value

    @property
    def zones(self) -> list[str]:
        return self.availability_zones or [f"{self.region}a"]

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'ironbark.db'}"

    @property
    def local_endpoint(self) -> str:
        """Where processes on this machine reach the controller's API: the listening address,
        loopback for a wildcard one, IPv6 in brackets (the embedded node agent registers here;
        image URLs point here unless ``image_url_endpoint`` says otherwise)."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def volumes_dir(self) -> Path:
        return self.volume_dir or self.data_dir / "volumes"

    @property
    def storage_host(self) -> str:
        return self.volume_host or os.uname().nodename

    @property
    def nbd_address(self) -> str:
        if self.volume_nbd_address:
            return self.volume_nbd_address
        return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)

    @property
    def cluster_token_file(self) -> Path:
        return self.data_dir / "cluster-token"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"


def _ipv4_subnet(value: str) -> str:
    """An IPv4 network in CIDR form with room for a gateway and an instance (/30 or larger)."""
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 network (a.b.c.d/len): {exc}") from None
    if network.prefixlen > 30:
        raise ValueError(f"{value}: a subnet needs at least a /30 (gateway and one instance)")
    return str(network)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings: CLI overrides beat the environment, which beats the TOML file."""
    return Settings.load(config_file, **overrides)
