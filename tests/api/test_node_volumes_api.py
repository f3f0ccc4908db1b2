"""The node agent's volume attach/detach commands over HTTP, in process, on libvirt's test
driver. The test driver cannot hot-plug (libvirt 9 answers "not supported"), so running
guests are covered by tests/e2e/test_node_boot.py; here: stopped guests (the definition is
re-rendered from the spec and the attachments), records, refusals and idempotence."""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.testclient import TestClient

from tests.api.test_node_api import AUTH, api, new_id, spec_body

__all__ = ["api"]
VOL = "vol-0123456789abcdef0"


def launch_stopped(api: TestClient) -> str:
    instance_id = new_id()
    root: Path = api.root  # type: ignore[attr-defined]
    assert api.put(f"/v1/instances/{instance_id}", json=spec_body(root),
                   headers=AUTH).status_code == 200
    reply = api.post(f"/v1/instances/{instance_id}/stop", json={"grace": 0}, headers=AUTH)
    assert reply.json()["state"] == "shutoff"
    return instance_id


def volume_file(api: TestClient, name: str = "vol.img") -> str:
    path: Path = api.root / name  # type: ignore[attr-defined]
    path.write_bytes(b"\0" * 65536)
    return str(path)


def test_attach_to_a_stopped_instance_then_boot_then_detach(api: TestClient) -> None:
    instance_id = launch_stopped(api)
    body = {"device": "/dev/sdf", "path": volume_file(api)}
    url = f"/v1/instances/{instance_id}/volumes/{VOL}"
    for _ in range(2):  # idempotent
        reply = api.put(url, json=body, headers=AUTH)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"instance_id": instance_id, "volume_id": VOL,
                                "device": "/dev/sdf", "state": "attached"}
    listed = api.get(f"/v1/instances/{instance_id}/volumes", headers=AUTH).json()["volumes"]
    assert [v["volume_id"] for v in listed] == [VOL]
    assert api.post(f"/v1/instances/{instance_id}/start",
                    headers=AUTH).json()["state"] == "running"
    api.post(f"/v1/instances/{instance_id}/stop", json={"grace": 0}, headers=AUTH)
    for _ in range(2):  # idempotent
        reply = api.delete(url, headers=AUTH)
        assert reply.status_code == 200 and reply.json()["state"] == "detached"
    assert api.get(f"/v1/instances/{instance_id}/volumes", headers=AUTH).json()["volumes"] == []


def test_attachment_survives_in_the_definition(api: TestClient) -> None:
    from nodeagent.hypervisor.guest import Guest
    from nodeagent.hypervisor.host import Host

    instance_id = launch_stopped(api)
    reply = api.put(f"/v1/instances/{instance_id}/volumes/{VOL}",
                    json={"device": "xvdg", "path": volume_file(api), "format": "raw"},
                    headers=AUTH)
    assert reply.status_code == 200, reply.text

    async def inactive_xml() -> str:
        host = Host("test:///default")
        try:
            return await Guest(host, instance_id).xml(inactive=True)
        finally:
            await host.close()

    xml = asyncio.run(inactive_xml())
    assert "<serial>vol0123456789abcdef0</serial>" in xml and "dev='vdg'" in xml
    api.delete(f"/v1/instances/{instance_id}/volumes/{VOL}", headers=AUTH)
    assert "vol0123456789abcdef0" not in asyncio.run(inactive_xml())


def test_an_nbd_volume_goes_into_the_definition_as_a_network_disk(api: TestClient) -> None:
    from nodeagent.hypervisor.guest import Guest
    from nodeagent.hypervisor.host import Host

    instance_id = launch_stopped(api)
    nbd = f"nbd://127.0.0.1:10899/{VOL}"
    reply = api.put(f"/v1/instances/{instance_id}/volumes/{VOL}",
                    json={"device": "/dev/sdh", "nbd": nbd, "format": "raw"}, headers=AUTH)
    assert reply.status_code == 200, reply.text

    async def inactive_xml() -> str:
        host = Host("test:///default")
        try:
            return await Guest(host, instance_id).xml(inactive=True)
        finally:
            await host.close()

    xml = asyncio.run(inactive_xml())
    assert "protocol='nbd'" in xml and f"name='{VOL}'" in xml and "port='10899'" in xml
    assert "dev='vdh'" in xml
    api.delete(f"/v1/instances/{instance_id}/volumes/{VOL}", headers=AUTH)
    assert "protocol='nbd'" not in asyncio.run(inactive_xml())


def test_refusals(api: TestClient) -> None:
    instance_id = launch_stopped(api)
    url = f"/v1/instances/{instance_id}/volumes/{VOL}"
    path = volume_file(api)
    cases = [
        ({"device": "/dev/sda", "path": path}, 400),  # the root disk's name
        ({"device": "/dev/sdf", "path": "relative.img"}, 400),
        ({"device": "/dev/sdf", "path": path, "format": "vmdk"}, 400),
        ({"device": "/dev/sdf", "path": path, "extra": "x"}, 400),
        ({"device": "/dev/sdf", "path": str(Path(path).with_name("missing.img"))}, 400),
        ({"device": "/dev/sdf", "path": path, "volume_id": "vol-0000000000000000f"}, 400),
        ({"device": "/dev/sdf", "path": path, "nbd": f"nbd://127.0.0.1:10809/{VOL}"}, 400),
        ({"device": "/dev/sdf", "nbd": "nbd://127.0.0.1/x"}, 400),
    ]
    for body, status in cases:
        reply = api.put(url, json=body, headers=AUTH)
        assert reply.status_code == status, (body, reply.text)
        assert reply.json()["error"] == "InvalidSpec"
    assert api.put(f"/v1/instances/{instance_id}/volumes/vol-bad", json={
        "device": "/dev/sdf", "path": path}, headers=AUTH).status_code == 400
    assert api.put(url, json={"device": "/dev/sdf", "path": path}, headers=AUTH).status_code == 200
    other = "vol-0000000000000000f"
    clash = api.put(f"/v1/instances/{instance_id}/volumes/{other}",
                    json={"device": "/dev/xvdf", "path": path}, headers=AUTH)
    assert clash.status_code == 409 and clash.json()["error"] == "VolumeInUse"
    moved = api.put(url, json={"device": "/dev/sdg", "path": path}, headers=AUTH)
    assert moved.status_code == 409
    unknown = api.put(f"/v1/instances/{new_id()}/volumes/{VOL}",
                      json={"device": "/dev/sdf", "path": path}, headers=AUTH)
    assert unknown.status_code == 404
    gone = api.delete(f"/v1/instances/{new_id()}/volumes/{VOL}", headers=AUTH)
    assert gone.status_code == 200 and gone.json()["state"] == "detached"
    assert api.put(url, json={"device": "/dev/sdf", "path": path}).status_code == 401


def test_hot_plug_refused_by_the_driver_leaves_no_record(api: TestClient) -> None:
    instance_id = new_id()
    root: Path = api.root  # type: ignore[attr-defined]
    api.put(f"/v1/instances/{instance_id}", json=spec_body(root), headers=AUTH)
    reply = api.put(f"/v1/instances/{instance_id}/volumes/{VOL}",
                    json={"device": "/dev/sdf", "path": volume_file(api)}, headers=AUTH)
    assert reply.status_code == 500  # the test driver has no virDomainAttachDeviceFlags
    assert api.get(f"/v1/instances/{instance_id}/volumes", headers=AUTH).json()["volumes"] == []
