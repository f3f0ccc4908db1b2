"""Which bucket and key a request names: path style, virtual-host style, Eucalyptus aliases."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

ALIASES = ("/services/objectstorage", "/services/Walrus")


@dataclass(frozen=True)
class Target:
    bucket: str | None
    key: str | None
    virtual_host: bool = False

    @property
    def level(self) -> str:
        if self.bucket is None:
            return "service"
        return "bucket" if self.key is None else "object"

    @property
    def resource(self) -> str:
        """The ``Resource`` of an error document."""
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}" + (f"/{self.key}" if self.key is not None else "")


def parse_target(raw_path: str, host: str, dns_domain: str | None) -> Target:
    """Split the (still percent-encoded) path into bucket and key.

    The key is everything after ``/bucket/``, decoded once: S3 keys may hold ``//``, ``../``,
    trailing slashes and encoded newlines, all kept verbatim.
    """
    path = raw_path or "/"
    for alias in ALIASES:
        if path == alias or path.startswith(alias + "/"):
            path = path[len(alias):] or "/"
            break
    hostname = host.rsplit(":", 1)[0].lower() if host else ""
    suffix = f".s3.{dns_domain.lower()}" if dns_domain else None
    if suffix and hostname.endswith(suffix) and len(hostname) > len(suffix):
        bucket = hostname[: -len(suffix)]
        key = path.removeprefix("/")
        return Target(bucket, unquote(key, errors="strict") if key else None, virtual_host=True)
    rest = path.removeprefix("/")
    if not rest:
        return Target(None, None)
    bucket, sep, key = rest.partition("/")
    if not sep or key == "":
        return Target(unquote(bucket), None)
    return Target(unquote(bucket), unquote(key, errors="strict"))
