"""Bytes of an image into a local file: streamed, hashed and counted on the way, fsynced.

``http(s)://`` through httpx (a presigned URL carries its own authorisation), ``file://`` by a
copy in a thread. Raises :class:`ImageError` subclasses; the caller removes the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from nodeagent.images.source import ChecksumMismatch, ImageError, ImageSource, SizeMismatch

CHUNK = 1024 * 1024


class _Sink:
    def __init__(self, out: Path, source: ImageSource) -> None:
        self.file = out.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self.source = source

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.source.size:
            raise SizeMismatch(f"{self.source.display}: more than the promised {self.source.size} B")
        self.digest.update(chunk)
        self.file.write(chunk)

    def finish(self) -> None:
        try:
            if self.size != self.source.size:
                raise SizeMismatch(f"got {self.size} B, promised {self.source.size} B")
            if self.digest.hexdigest() != self.source.sha256:
                raise ChecksumMismatch(f"sha256 {self.digest.hexdigest()}, "
                                       f"promised {self.source.sha256}")
            self.file.flush()
            os.fsync(self.file.fileno())
        finally:
            self.file.close()


def _copy_file(source: ImageSource, out: Path) -> None:
    sink = _Sink(out, source)
    try:
        with Path(unquote(urlsplit(source.url).path)).open("rb") as src:
            while chunk := src.read(CHUNK):
                sink.write(chunk)
    except OSError as exc:
        sink.file.close()
        raise ImageError(f"cannot read {source.url}: {exc.strerror}") from exc
    except ImageError:
        sink.file.close()
        raise
    sink.finish()


async def _download(source: ImageSource, out: Path, client: httpx.AsyncClient) -> None:
    sink = _Sink(out, source)
    try:
        async with client.stream("GET", source.url) as reply:
            if reply.status_code != 200:
                raise ImageError(f"GET {urlsplit(source.url).path}: HTTP {reply.status_code}")
            async for chunk in reply.aiter_bytes(CHUNK):
                await asyncio.to_thread(sink.write, chunk)
    except httpx.HTTPError as exc:
        sink.file.close()
        raise ImageError(f"download failed: {exc!r}") from exc
    except ImageError:
        sink.file.close()
        raise
    await asyncio.to_thread(sink.finish)


async def fetch(source: ImageSource, out: Path, client: httpx.AsyncClient) -> None:
    """Write the image to ``out``; raise unless its size and SHA-256 are the promised ones."""
    if urlsplit(source.url).scheme == "file":
        await asyncio.to_thread(_copy_file, source, out)
    else:
        await _download(source, out, client)
