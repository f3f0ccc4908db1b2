"""The node agent's live-backup request: only the wanted disk is backed up, into the file."""

from __future__ import annotations

from pathlib import Path


def test_backup_xml_names_only_the_wanted_disk(tmp_path: Path) -> None:
    from lxml import etree

    from nodeagent.hypervisor.guest import _backup_xml

    root = etree.fromstring(_backup_xml("vdb", ["vda", "vdc"], tmp_path / "b.qcow2", "qcow2"))
    assert root.tag == "domainbackup" and root.get("mode") == "push"
    disks = {d.get("name"): d for d in root.iterfind("disks/disk")}
    assert disks["vdb"].get("backup") == "yes" and disks["vdb"].get("type") == "file"
    assert disks["vdb"].find("driver").get("type") == "qcow2"  # type: ignore[union-attr]
    assert disks["vdb"].find("target").get("file") == str(tmp_path / "b.qcow2")  # type: ignore[union-attr]
    assert {disks["vda"].get("backup"), disks["vdc"].get("backup")} == {"no"}
