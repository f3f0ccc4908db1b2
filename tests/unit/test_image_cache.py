"""The image cache's own logic on file:// sources: verification, LRU eviction, single flight."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

import pytest

from nodeagent.images import ImageCache, ImageError, ImageSource
from nodeagent.images.source import ChecksumMismatch, SizeMismatch
from nodeagent.spec import InstanceSpec, InvalidSpec


def image(tmp_path: Path, name: str, size: int) -> ImageSource:
    data = os.urandom(size)
    path = tmp_path / "src" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return ImageSource(f"file://{path}", hashlib.sha256(data).hexdigest(), size)


def test_fetch_verifies_and_stores_read_only(tmp_path: Path) -> None:
    source = image(tmp_path, "a", 3000)
    cache = ImageCache(tmp_path / "cache", 10_000)
    path = asyncio.run(cache.get(source))
    assert path == cache.path_of(source.sha256)
    assert path.read_bytes() == Path(source.url[7:]).read_bytes()
    assert path.stat().st_mode & 0o222 == 0
    assert asyncio.run(cache.get(source)) == path and cache.downloads == 1  # a hit
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


@pytest.mark.parametrize("change", ["sha256", "size_small", "size_big"])
def test_a_wrong_image_is_refused_and_not_kept(tmp_path: Path, change: str) -> None:
    good = image(tmp_path, "a", 2000)
    bad = {
        "sha256": ImageSource(good.url, "0" * 64, good.size),
        "size_small": ImageSource(good.url, good.sha256, good.size - 1),
        "size_big": ImageSource(good.url, good.sha256, good.size + 1),
    }[change]
    cache = ImageCache(tmp_path / "cache", 10_000)
    wanted = ChecksumMismatch if change == "sha256" else SizeMismatch
    with pytest.raises(wanted):
        asyncio.run(cache.get(bad))
    assert cache.cached() == [] and list((tmp_path / "cache" / "tmp").iterdir()) == []
    assert asyncio.run(cache.get(good)).is_file()  # the good one still arrives


def test_missing_source(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path / "cache", 10_000)
    with pytest.raises(ImageError, match="cannot read"):
        asyncio.run(cache.get(ImageSource(f"file://{tmp_path}/nope", "0" * 64, 1)))


def test_lru_eviction_spares_images_in_use(tmp_path: Path) -> None:
    a, b, c, d = (image(tmp_path, n, 4000) for n in "abcd")
    in_use: set[str] = set()
    cache = ImageCache(tmp_path / "cache", 10_000, in_use=lambda: in_use)

    async def scenario() -> None:
        await cache.get(a)
        await cache.get(b)
        os.utime(cache.path_of(a.sha256), (1, 1))  # a: least recently used
        os.utime(cache.path_of(b.sha256), (2, 2))
        await cache.get(c)  # 12,000 > 10,000: a goes
        assert {p.name for p in cache.cached()} == {b.sha256, c.sha256}
        await cache.get(b)  # a hit refreshes b
        os.utime(cache.path_of(c.sha256), (3, 3))
        in_use.add(c.sha256)  # c is oldest but backs an instance
        await cache.get(d)
        assert {p.name for p in cache.cached()} == {c.sha256, d.sha256}
        assert cache.size() <= 10_000

    asyncio.run(scenario())


def test_concurrent_launches_share_one_download(tmp_path: Path) -> None:
    source = image(tmp_path, "a", 5 * 1024 * 1024)
    cache = ImageCache(tmp_path / "cache", 100 * 1024 * 1024)

    async def scenario() -> list[Path]:
        return list(await asyncio.gather(*(cache.get(source) for _ in range(8))))

    paths = asyncio.run(scenario())
    assert set(paths) == {cache.path_of(source.sha256)} and cache.downloads == 1


def test_concurrent_waiters_all_see_a_failure_then_a_retry_downloads(tmp_path: Path) -> None:
    good = image(tmp_path, "a", 1000)
    bad = ImageSource(good.url, "f" * 64, good.size)
    cache = ImageCache(tmp_path / "cache", 10_000)

    async def scenario() -> list[BaseException | Path]:
        return list(await asyncio.gather(*(cache.get(bad) for _ in range(4)),
                                         return_exceptions=True))

    results = asyncio.run(scenario())
    assert all(isinstance(r, ChecksumMismatch) for r in results) and cache.downloads == 1
    with pytest.raises(ChecksumMismatch):
        asyncio.run(cache.get(bad))
    assert cache.downloads == 2  # a failure is not cached


@pytest.mark.parametrize("source", [
    {"url": "ftp://x/y", "sha256": "0" * 64, "size": 1},
    {"url": "file://relative", "sha256": "0" * 64, "size": 1},
    {"url": "http://h/y", "sha256": "XYZ", "size": 1},
    {"url": "http://h/y", "sha256": "0" * 64, "size": -1},
    {"url": "http://h/y", "sha256": "0" * 64, "size": "1"},
    {"url": "http://h/y", "sha256": "0" * 64},
])
def test_spec_refuses_bad_image_sources(source: dict[str, object]) -> None:
    base = {"instance_id": "i-0123456789abcdef0", "memory_mib": 128, "vcpus": 1,
            "mac": "52:54:00:00:00:01", "tap": "ib-x", "private_ip": "10.0.0.2",
            "root_image": "/r"}
    with pytest.raises(InvalidSpec):
        InstanceSpec.from_dict({**base, "images": {"kernel": source}})
    good = {"url": "http://h/k", "sha256": "0" * 64, "size": 1}
    spec = InstanceSpec.from_dict({**base, "images": {"kernel": good}})
    assert InstanceSpec.from_dict(json.loads(spec.to_json())) == spec
    with pytest.raises(InvalidSpec, match="both"):
        InstanceSpec.from_dict({**base, "kernel": "/k", "images": {"kernel": good}})
    with pytest.raises(InvalidSpec, match="kernel"):
        InstanceSpec.from_dict(base)
    with pytest.raises(InvalidSpec, match="unknown role"):
        InstanceSpec.from_dict({**base, "kernel": "/k", "images": {"swap": good}})
