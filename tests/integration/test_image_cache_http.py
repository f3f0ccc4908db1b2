"""The image cache against a real local HTTP server, and instances booting from cached images
(qcow2 overlays on them) through libvirt's test driver."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from nodeagent.hypervisor.designer import NodePolicy
from nodeagent.hypervisor.host import Host
from nodeagent.images import ImageCache, ImageError, ImageSource
from nodeagent.images.source import ChecksumMismatch
from nodeagent.instances import InstanceManager, NoNetwork
from nodeagent.spec import InstanceSpec
from tests.conftest import host_tests_unavailable
from tests.hostcheck import require_libvirt_binding


class Files:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port

    def add(self, name: str, data: bytes) -> ImageSource:
        (self.root / name).write_bytes(data)
        return ImageSource(f"http://127.0.0.1:{self.port}/{name}?X-Amz-Signature=secret",
                           hashlib.sha256(data).hexdigest(), len(data))


@pytest.fixture
def files(tmp_path: Path) -> Iterator[Files]:
    root = tmp_path / "www"
    root.mkdir()
    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Files(root, int(httpd.server_address[1]))
    finally:
        httpd.shutdown()
        httpd.server_close()




def test_download_verify_and_failures(files: Files, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    source = files.add("disk.img", data)
    cache = ImageCache(tmp_path / "cache", 64 * 1024 * 1024)

    async def scenario() -> None:
        got = await asyncio.gather(*(cache.get(source) for _ in range(6)))
        assert set(got) == {cache.path_of(source.sha256)} and cache.downloads == 1
        assert got[0].read_bytes() == data
        promised = files.add("tampered.img", os.urandom(1000))
        (files.root / "tampered.img").write_bytes(os.urandom(1000))  # changed on the server
        with pytest.raises(ChecksumMismatch):
            await cache.get(promised)
        with pytest.raises(ImageError, match="HTTP 404") as missing:
            await cache.get(ImageSource(f"http://127.0.0.1:{files.port}/nope?X-Amz-Signature=s",
                                        "0" * 64, 1))
        assert "secret" not in str(missing.value) and "X-Amz" not in str(missing.value)
        with pytest.raises(ImageError, match="download failed"):
            await cache.get(ImageSource("http://127.0.0.1:9/x", "0" * 64, 1))
        await cache.close()

    asyncio.run(scenario())
    assert [p.name for p in cache.cached()] == [source.sha256]
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


def test_instances_boot_from_overlays_on_one_cached_image(files: Files, tmp_path: Path) -> None:
    require_libvirt_binding()
    if shutil.which("qemu-img") is None:
        host_tests_unavailable("qemu-img missing (deploy/host-setup.sh installs qemu-utils)")
    root = files.add("root.img", os.urandom(1024 * 1024))
    kernel = files.add("vmlinux", os.urandom(4096))
    cache = ImageCache(tmp_path / "cache", 1024 * 1024 + 4096,
                       client=httpx.AsyncClient(trust_env=False))
    node = InstanceManager(Host("test:///default"), tmp_path / "state",
                           NodePolicy(virt_type="qemu", bridge="ibr0"), NoNetwork(),
                           stop_grace=1, images=cache)
    specs = [InstanceSpec(instance_id="i-" + uuid.uuid4().hex[:17], memory_mib=128, vcpus=1,
                          mac=f"52:54:00:00:01:0{n}", tap=f"ib-img{n}",
                          private_ip=f"10.77.0.{30 + n}",
                          images={"kernel": kernel, "root": root}) for n in range(4)]

    async def scenario() -> None:
        statuses = await asyncio.gather(*(node.run(spec) for spec in specs))
        assert {s.state for s in statuses} == {"running"}
        assert cache.downloads == 2  # kernel and root, once each, for four launches
        assert node.images_in_use() == {root.sha256, kernel.sha256}
        overlay = node.store.paths(specs[0].instance_id).overlay
        info = await asyncio.create_subprocess_exec(
            "qemu-img", "info", "-U", str(overlay), stdout=asyncio.subprocess.PIPE)
        out, _ = await info.communicate()
        assert str(cache.path_of(root.sha256)) in out.decode()
        # a new image that does not fit: the in-use ones are not evicted
        other = files.add("other.img", os.urandom(8192))
        await cache.get(other)
        assert {p.name for p in cache.cached()} >= {root.sha256, kernel.sha256}
        for spec in specs:
            await node.terminate(spec.instance_id)
        assert node.images_in_use() == set()
        await cache.get(files.add("more.img", os.urandom(8192)))
        assert root.sha256 not in {p.name for p in cache.cached()}  # evicted once unused
        await cache.close()
        await node.host.close()

    asyncio.run(scenario())
