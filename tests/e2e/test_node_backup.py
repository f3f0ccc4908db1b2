"""The node agent's live backup of an attached volume, on a real TCG guest: the guest fills
the volume and keeps writing to it; the backup (libvirt's push-mode backup, through the node
API) completes while it runs; the snapshot engine stores the copy and restores exactly what
the guest had written; dropping the backup removes its file."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tests.e2e.test_node_boot import (
    GUEST_IP,
    INSTANCE_ID,
    MAC,
    TAP,
    demo_image,
    node,
    sync,
    wait_console,
)

__all__ = ["demo_image", "node"]
VOLUME_ID = "vol-0e2e00000000000bb"
MIB = 1 << 20
PATTERN = b"ironbark-live-backup\n"
USER_DATA = b"""#!/bin/sh
while [ ! -e /sys/block/vdb ]; do sleep 1; done
yes ironbark-live-backup | head -c 1048576 > /dev/vdb
sync
echo IRONBARK-VOLUME-WRITTEN
( n=0; while true; do n=$((n+1)); echo "tick $n" | dd of=/dev/vdb bs=512 seek=8192 \
  conv=notrunc 2>/dev/null; sleep 0.2; done ) </dev/null >/dev/null 2>&1 &
"""
TOKEN = "backup-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class DictStore:
    def __init__(self) -> None:
        self.parts: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self.parts[key] = data

    def get(self, key: str) -> bytes:
        return self.parts[key]

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.parts.pop(key, None)


def test_live_backup_of_an_attached_volume(node: Any, demo_image: Path, tmp_path: Path) -> None:
    from nodeagent.api import create_app
    from nodeagent.images import ImageSource
    from nodeagent.spec import InstanceSpec
    from nodeagent.volumes import VolumeAttachment
    from storage.snapshots import restore, take_snapshot

    node.metadata.instances[GUEST_IP] = (INSTANCE_ID, USER_DATA)
    manifest = json.loads((demo_image / "image.json").read_text())
    images = {role: ImageSource(f"file://{demo_image / manifest[role]['file']}",
                                manifest[role]["sha256"], manifest[role]["size"])
              for role in ("kernel", "ramdisk", "root")}
    spec = InstanceSpec(instance_id=INSTANCE_ID, memory_mib=128, vcpus=1, images=images,
                        root_image_format="raw", cmdline=manifest["cmdline"], mac=MAC, tap=TAP,
                        private_ip=GUEST_IP)
    volume_file = tmp_path / "vol.raw"
    with volume_file.open("wb") as out:
        out.truncate(64 * MIB)
    try:
        assert sync(node.run(spec)).state == "running"
        volume = VolumeAttachment(VOLUME_ID, "/dev/sdf", str(volume_file))
        assert sync(node.attach_volume(INSTANCE_ID, volume)).state == "attached"
        wait_console(node, "IRONBARK-VOLUME-WRITTEN")
        api = create_app(node, TOKEN, capacity=dict)
        url = f"/v1/instances/{INSTANCE_ID}/volumes/{VOLUME_ID}/backups/snap-1"
        with TestClient(api) as client:
            assert client.post(url, headers=AUTH).status_code == 200  # replaced by the next
            started = time.monotonic()
            reply = client.post(url, headers=AUTH)
            took = time.monotonic() - started
            assert reply.status_code == 200, reply.text
            backup = reply.json()
            assert backup["format"] == "qcow2" and backup["name"] == "snap-1"
            path = Path(backup["path"])
            assert path.is_file() and path.stat().st_size < 8 * MIB  # sparse
            store = DictStore()
            snap = take_snapshot(path, "qcow2", store, "s/", scratch=tmp_path / "scratch")
            restored = tmp_path / "restored.raw"
            restore(snap, store, restored)
            data = restored.read_bytes()
            assert len(data) == 64 * MIB
            assert data[:MIB] == (PATTERN * (MIB // len(PATTERN) + 1))[:MIB]
            assert data[4 * MIB:4 * MIB + 5] == b"tick "  # the guest was writing meanwhile
            assert data[MIB:4 * MIB].count(0) == 3 * MIB
            missing = client.post(f"/v1/instances/{INSTANCE_ID}/volumes/vol-0e2e00000000000cc"
                                  "/backups/snap-2", headers=AUTH)
            assert missing.status_code == 409, missing.text
            assert client.delete(url, headers=AUTH).status_code == 200
            assert not path.exists()
            assert client.delete(url, headers=AUTH).status_code == 200  # idempotent
        assert took < 30
        sync(node.stop(INSTANCE_ID, 0))
        with TestClient(api) as client:  # a stopped guest: the controller reads the file
            assert client.post(url, headers=AUTH).status_code == 409
    finally:
        sync(node.terminate(INSTANCE_ID))
