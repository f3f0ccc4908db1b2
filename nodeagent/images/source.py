"""Where an image comes from and what it must be: a URL, its SHA-256 and its size."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SHA256 = re.compile(r"^[0-9a-f]{64}$")
SCHEMES = ("http", "https", "file")


class ImageError(Exception):
    """An image could not be fetched, or what was fetched is not what was promised."""


class ChecksumMismatch(ImageError):
    pass


class SizeMismatch(ImageError):
    pass


@dataclass(frozen=True)
class ImageSource:
    """``url``: a presigned S3 URL (http/https) or, all-in-one, ``file:///absolute/path``."""

    url: str
    sha256: str
    size: int

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in SCHEMES or (parts.scheme != "file" and not parts.netloc):
            raise ValueError(f"image url must be http(s):// or file:// (got {parts.scheme!r})")
        if parts.scheme == "file" and not parts.path.startswith("/"):
            raise ValueError("file:// image urls need an absolute path")
        if not SHA256.match(self.sha256):
            raise ValueError("sha256 must be 64 lower-case hex digits")
        if not 0 <= self.size <= 2**44:
            raise ValueError("size must be between 0 and 16 TiB")

    @property
    def display(self) -> str:
        """The URL without its query (a presigned URL's signature is not for logs)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    @classmethod
    def from_dict(cls, data: Any) -> ImageSource:
        if not isinstance(data, dict) or set(data) != {"url", "sha256", "size"}:
            raise ValueError("an image is {url, sha256, size}")
        url, sha256, size = data["url"], data["sha256"], data["size"]
        if not isinstance(url, str) or not isinstance(sha256, str):
            raise TypeError("image url and sha256 must be strings")
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError("image size must be an integer")
        return cls(url, sha256, size)
