"""Golden domain XML: the designer's output for fixed specs, compared with files under golden/.

After an intended change, regenerate with IRONBARK_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from nodeagent.hypervisor.config import METADATA_NS
from nodeagent.hypervisor.designer import NodePolicy, design
from nodeagent.spec import InstancePaths, InstanceSpec

GOLDEN = Path(__file__).parent / "golden"


def spec(**changes: object) -> InstanceSpec:
    fields: dict[str, object] = {
        "instance_id": "i-0123456789abcdef0",
        "memory_mib": 128,
        "vcpus": 1,
        "kernel": "/var/lib/ironbark/node/images/eki-1/vmlinux",
        "ramdisk": "/var/lib/ironbark/node/images/eri-1/initrd.img",
        "root_image": "/var/lib/ironbark/node/images/emi-1/root.img",
        "mac": "52:54:00:12:34:56",
        "tap": "ib-0123456789ab",
        "private_ip": "10.77.0.10",
    }
    fields.update(changes)
    return InstanceSpec(**fields)  # type: ignore[arg-type]


PATHS = InstancePaths(Path("/var/lib/ironbark/node/instances/i-0123456789abcdef0"))


def check_golden(name: str, xml: str) -> None:
    path = GOLDEN / name
    if os.environ.get("IRONBARK_UPDATE_GOLDEN") == "1":
        path.write_text(xml)
    assert xml == path.read_text()


def test_tcg_guest_matches_golden() -> None:
    xml = design(spec(), PATHS, NodePolicy(virt_type="qemu", bridge="ibr0")).to_string()
    check_golden("domain_tcg.xml", xml)


def test_kvm_guest_without_ramdisk_matches_golden() -> None:
    changed = spec(ramdisk=None, memory_mib=512, vcpus=2, cmdline="console=ttyS0 root=/dev/vda1")
    xml = design(changed, PATHS, NodePolicy(virt_type="kvm", bridge="br-cloud")).to_string()
    check_golden("domain_kvm.xml", xml)


def test_tb_cache_only_under_tcg() -> None:
    tcg = etree.fromstring(design(spec(), PATHS, NodePolicy("qemu", "ibr0")).to_string())
    kvm = etree.fromstring(design(spec(), PATHS, NodePolicy("kvm", "ibr0")).to_string())
    assert tcg.findtext("features/tcg/tb-cache") == "32"
    assert kvm.find("features/tcg") is None
    assert kvm.find("features/acpi") is not None


def test_metadata_names_the_instance() -> None:
    root = etree.fromstring(design(spec(), PATHS, NodePolicy("qemu", "ibr0")).to_string())
    ns = {"ib": METADATA_NS}
    assert root.xpath("string(metadata/ib:instance/ib:instance-id)", namespaces=ns) == (
        "i-0123456789abcdef0"
    )


def test_values_are_escaped_not_templated() -> None:
    hostile = spec(cmdline="console=ttyS0 x='<a>&\"")
    root = etree.fromstring(design(hostile, PATHS, NodePolicy("qemu", "ibr0")).to_string())
    assert root.findtext("os/cmdline") == "console=ttyS0 x='<a>&\""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("instance_id", "i-../../etc"),
        ("mac", "52:54:00:12:34"),
        ("tap", "vnet0"),
        ("tap", "a-name-longer-than-15"),
        ("private_ip", "10.77.0.256"),
        ("memory_mib", 64),
        ("vcpus", 0),
        ("kernel", "relative/vmlinux"),
        ("root_image_format", "vmdk"),
    ],
)
def test_bad_specs_are_refused(field: str, value: object) -> None:
    from nodeagent.spec import InvalidSpec

    with pytest.raises(InvalidSpec):
        spec(**{field: value})


def test_attached_volumes_are_virtio_disks_with_the_volume_serial() -> None:
    from nodeagent.volumes import VolumeAttachment

    volumes = [VolumeAttachment("vol-0123456789abcdef0", "/dev/sdf", "/srv/vol.img"),
               VolumeAttachment("vol-89abcdef", "xvdg", "/srv/v2.qcow2", "qcow2")]
    dom = etree.fromstring(design(spec(), PATHS, NodePolicy("qemu", "ibr0"), volumes).to_string())
    disks = [(d.find("target").get("dev"), d.find("driver").get("type"),  # type: ignore[union-attr]
              d.find("source").get("file"), d.findtext("serial"))  # type: ignore[union-attr]
             for d in dom.iterfind("devices/disk")]
    assert disks[1:] == [("vdf", "raw", "/srv/vol.img", "vol0123456789abcdef0"),
                         ("vdg", "qcow2", "/srv/v2.qcow2", "vol89abcdef")]
    assert all(len(serial or "") <= 20 for *_, serial in disks)  # virtio-blk keeps 20 bytes


def test_a_volume_from_another_storage_host_is_an_nbd_network_disk() -> None:
    from nodeagent.volumes import VolumeAttachment

    volumes = [VolumeAttachment("vol-0123456789abcdef0", "/dev/sdh",
                                nbd="nbd://10.0.0.5:10810/vol-0123456789abcdef0"),
               VolumeAttachment("vol-89abcdef", "sdi", nbd="nbd://[fd00::5]:10809/vol-89abcdef")]
    dom = etree.fromstring(design(spec(), PATHS, NodePolicy("qemu", "ibr0"), volumes).to_string())
    disks = list(dom.iterfind("devices/disk"))[1:]
    assert [d.get("type") for d in disks] == ["network", "network"]
    source = disks[0].find("source")
    assert source is not None and source.get("protocol") == "nbd"
    assert source.get("name") == "vol-0123456789abcdef0" and source.get("file") is None
    host = source.find("host")
    assert host is not None and (host.get("name"), host.get("port")) == ("10.0.0.5", "10810")
    v6 = disks[1].find("source/host")
    assert v6 is not None and (v6.get("name"), v6.get("port")) == ("fd00::5", "10809")
    assert disks[0].findtext("serial") == "vol0123456789abcdef0"
    assert disks[0].find("driver").get("type") == "raw"  # type: ignore[union-attr]
    assert disks[0].find("target").get("dev") == "vdh"  # type: ignore[union-attr]


@pytest.mark.parametrize("fields", [
    {"path": "/srv/v.img", "nbd": "nbd://10.0.0.5:10809/v"},  # both
    {},  # neither
    {"nbd": "http://10.0.0.5:10809/v"},
    {"nbd": "nbd://10.0.0.5/v"},
    {"nbd": "nbd://10.0.0.5:99999/v"},
    {"nbd": "nbd://10.0.0.5:10809/v", "format": "qcow2"},
])
def test_volume_sources_are_checked(fields: dict[str, str]) -> None:
    from nodeagent.spec import InvalidSpec
    from nodeagent.volumes import VolumeAttachment

    with pytest.raises(InvalidSpec):
        VolumeAttachment.from_dict({"volume_id": "vol-89abcdef", "device": "sdf", **fields})


def test_an_ebs_root_volume_is_vda_with_the_volume_serial() -> None:
    from nodeagent.spec import InvalidSpec
    from nodeagent.volumes import launch_attachments, root_attachment

    ebs = spec(root_image=None, root_volume={"volume_id": "vol-0123456789abcdef0",
                                             "format": "raw", "path": "/srv/root.raw"},
               volumes=[{"volume_id": "vol-89abcdef", "device": "/dev/sdf",
                         "nbd": "nbd://10.0.0.5:10810/vol-89abcdef"}])
    root = root_attachment(ebs)
    dom = etree.fromstring(design(ebs, PATHS, NodePolicy("qemu", "ibr0"),
                                  launch_attachments(ebs), root).to_string())
    disks = list(dom.iterfind("devices/disk"))
    first = disks[0]
    assert first.find("target").get("dev") == "vda"  # type: ignore[union-attr]
    assert first.find("source").get("file") == "/srv/root.raw"  # type: ignore[union-attr]
    assert first.findtext("serial") == "vol0123456789abcdef0"
    assert str(PATHS.overlay) not in etree.tostring(dom).decode()
    assert disks[1].get("type") == "network" and disks[1].findtext("serial") == "vol89abcdef"
    with pytest.raises(InvalidSpec):  # a root volume or a root image, not both
        spec(root_volume={"volume_id": "vol-0123456789abcdef0", "path": "/srv/root.raw"})
    with pytest.raises(InvalidSpec):  # vda is the root's
        launch_attachments(spec(volumes=[{"volume_id": "vol-89abcdef", "device": "/dev/vda",
                                          "path": "/srv/x"}]))
    with pytest.raises(InvalidSpec):
        InstanceSpec.from_dict({**_wire(ebs), "root_volume": "vol-1"})


def _wire(value: InstanceSpec) -> dict[str, object]:
    import json

    return json.loads(value.to_json())  # type: ignore[no-any-return]


def test_ephemeral_disks_are_virtio_disks_after_the_root() -> None:
    from nodeagent.spec import EphemeralDisk

    disks_of = spec(ephemeral=(EphemeralDisk("ephemeral0", "vdb", 2),))
    dom = etree.fromstring(design(disks_of, PATHS, NodePolicy("qemu", "ibr0")).to_string())
    disks = [(d.find("target").get("dev"), d.find("source").get("file"),  # type: ignore[union-attr]
              d.findtext("serial")) for d in dom.iterfind("devices/disk")]
    assert disks[1:] == [("vdb", str(PATHS.root / "ephemeral0.qcow2"), "ephemeral0")]


@pytest.mark.parametrize("ephemeral", [
    [{"name": "swap", "device": "vdb", "size_gib": 1}],
    [{"name": "ephemeral0", "device": "vda", "size_gib": 1}],
    [{"name": "ephemeral0", "device": "vdb", "size_gib": 0}],
    [{"name": "ephemeral0", "device": "vdb", "size_gib": True}],
    [{"name": "ephemeral0", "device": "vdb"}],
    [{"name": "ephemeral0", "device": "vdb", "size_gib": 1},
     {"name": "ephemeral1", "device": "vdb", "size_gib": 1}],
])
def test_bad_ephemeral_disks_are_refused(ephemeral: list[dict[str, object]]) -> None:
    from nodeagent.spec import InvalidSpec

    data = {k: v for k, v in vars(spec()).items() if k not in ("images", "ephemeral")}
    with pytest.raises(InvalidSpec):
        InstanceSpec.from_dict({**data, "ephemeral": ephemeral})


def test_ephemeral_disks_round_trip_through_json() -> None:
    import json

    from nodeagent.spec import EphemeralDisk

    made = spec(ephemeral=(EphemeralDisk("ephemeral0", "vdb", 2),))
    assert InstanceSpec.from_dict(json.loads(made.to_json())) == made
    plain = json.loads(spec().to_json())
    assert InstanceSpec.from_dict({k: v for k, v in plain.items() if k != "ephemeral"}) == spec()
