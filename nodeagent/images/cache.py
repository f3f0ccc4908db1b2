"""Images on the node's disk, content-addressed by SHA-256, under a size cap.

``CACHE/sha256/<hex>`` holds each verified image (read-only, 0444); downloads go to
``CACHE/tmp/`` and are renamed into place only after their size and checksum match, so a crash
or a bad download never leaves a wrong image under a good name. Several launches that want the
same missing image at once share one download (single flight). After a new image arrives,
least-recently-used images are removed until the cache fits its cap — except those ``in_use``
names (bases of instance overlays, kernels of defined guests), which are never evicted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from nodeagent.images.fetch import fetch
from nodeagent.images.source import ImageError, ImageSource

log = logging.getLogger("ironbark.node.images")


class ImageCache:
    def __init__(
        self,
        root: Path,
        max_bytes: int,
        *,
        client: httpx.AsyncClient | None = None,
        in_use: Callable[[], set[str]] = set,
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.client = client or httpx.AsyncClient(timeout=60, trust_env=False)
        self.in_use = in_use
        self._flights: dict[str, asyncio.Future[Path]] = {}
        self.downloads = 0  # how many fetches actually ran (tests, metrics)

    def path_of(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256

    def cached(self) -> list[Path]:
        folder = self.root / "sha256"
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.cached())

    async def get(self, source: ImageSource) -> Path:
        """The local path of a verified copy of ``source``, fetching it if need be."""
        path = self.path_of(source.sha256)
        if path.is_file():
            os.utime(path)  # the LRU clock
            return path
        flight = self._flights.get(source.sha256)
        if flight is None:
            flight = asyncio.get_running_loop().create_future()
            self._flights[source.sha256] = flight
            asyncio.create_task(self._fly(source, flight))
        return await asyncio.shield(flight)

    async def _fly(self, source: ImageSource, flight: asyncio.Future[Path]) -> None:
        try:
            flight.set_result(await self._fetch(source))
        except BaseException as exc:  # noqa: BLE001 - every waiter gets the failure
            flight.set_exception(exc)
            flight.exception()  # seen: no "never retrieved" warning when nobody waits
        finally:
            del self._flights[source.sha256]

    async def _fetch(self, source: ImageSource) -> Path:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.path_of(source.sha256).parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{source.sha256}.{os.getpid()}.{time.monotonic_ns()}"
        started = time.monotonic()
        self.downloads += 1
        try:
            await fetch(source, tmp, self.client)
            tmp.chmod(0o444)
            await asyncio.to_thread(self._evict, source.size)
            tmp.rename(self.path_of(source.sha256))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        log.info("event=image_cached sha256=%s bytes=%d seconds=%.2f source=%s",
                 source.sha256, source.size, time.monotonic() - started, source.display)
        return self.path_of(source.sha256)

    def _evict(self, incoming: int) -> None:
        """Least recently used first, until ``incoming`` more bytes fit under the cap."""
        keep = self.in_use()
        entries = sorted(((p.stat().st_mtime, p) for p in self.cached()), key=lambda e: e[0])
        total = sum(p.stat().st_size for _, p in entries) + incoming
        for _, path in entries:
            if total <= self.max_bytes:
                break
            if path.name in keep:
                continue
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
            log.info("event=image_evicted sha256=%s", path.name)
        if total > self.max_bytes:
            log.warning("event=image_cache_over_cap bytes=%d cap=%d", total, self.max_bytes)

    def clean_tmp(self) -> None:
        """Leftovers of downloads interrupted by a crash (at start, before any download)."""
        tmp_dir = self.root / "tmp"
        if tmp_dir.is_dir():
            for leftover in tmp_dir.iterdir():
                leftover.unlink(missing_ok=True)

    async def close(self) -> None:
        await self.client.aclose()


__all__ = ["ImageCache", "ImageError"]
