"""The manifest reader and RegisterImage's parameter rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.ec2 import errors, image_checks
from controller.ec2.image_manifest import (
    ManifestError,
    parse_bundle_manifest,
    parse_manifest,
)
from controller.ec2.instance_type_catalog import InstanceTypeSpec, check_unique, default_catalog

SHA = "ab" * 32
BUNDLE = b"""<?xml version="1.0"?>
<manifest>
  <version>2007-10-10</version>
  <bundler><name>euca-tools</name><version>3.4</version></bundler>
  <machine_configuration>
    <architecture>i386</architecture>
    <kernel_id>aki-12345678</kernel_id>
    <ramdisk_id>ari-87654321</ramdisk_id>
    <block_device_mapping><mapping><virtual>ami</virtual><device>sda1</device></mapping></block_device_mapping>
  </machine_configuration>
  <image>
    <name>disk.img</name><type>machine</type>
    <ec2_encrypted_key algorithm="AES-128-CBC">00</ec2_encrypted_key>
    <parts count="2">
      <part index="0"><filename>disk.img.part.00</filename><digest algorithm="SHA1">aa</digest></part>
      <part index="1"><filename>disk.img.part.01</filename><digest algorithm="SHA1">bb</digest></part>
    </parts>
  </image>
</manifest>"""


def _json(**fields: Any) -> bytes:
    base = {"manifest_version": "ironbark-image/1", "image_type": "machine",
            "parts": [{"key": "root.img", "size": 10, "sha256": SHA}]}
    return json.dumps({**base, **fields}).encode()


def test_json_manifest_keys_are_relative_to_the_manifest() -> None:
    manifest = parse_manifest(_json(architecture="x86_64", disk_format="qcow2",
                                    kernel_cmdline="console=ttyS0"), "images/demo/")
    assert manifest.image_type == "machine" and manifest.architecture == "x86_64"
    assert [(p.key, p.size, p.sha256) for p in manifest.parts] == [("images/demo/root.img", 10, SHA)]
    assert manifest.disk_format == "qcow2" and manifest.kernel_cmdline == "console=ttyS0"
    stored = json.loads(manifest.to_json())
    assert stored["parts"] == [{"key": "images/demo/root.img", "size": 10, "sha256": SHA}]


@pytest.mark.parametrize("body, words", [
    (_json(image_type="floppy"), "image_type"),
    (_json(manifest_version="2"), "manifest_version"),
    (_json(parts=[]), "no parts"),
    (_json(parts=[{"key": "a", "size": "10", "sha256": SHA}]), "'size'"),
    (_json(parts=[{"key": "a", "size": True, "sha256": SHA}]), "'size'"),
    (_json(parts=[{"key": "a", "size": 1, "sha256": "xyz"}]), "64 hex"),
    (_json(parts=[{"key": "/etc/passwd", "size": 1, "sha256": SHA}]), "relative"),
    (_json(parts=[{"key": "a", "size": -1, "sha256": SHA}]), "negative"),
    (_json(architecture="sparc"), "architecture"),
    (_json(disk_format="vmdk"), "disk_format"),
    (b"[1, 2]", "JSON object"),
    (b"{not json", "not valid JSON"),
    (b"\x00\x01", "neither"),
    (b"{" + b" " * (1024 * 1024), "larger"),
])
def test_json_manifest_refusals(body: bytes, words: str) -> None:
    with pytest.raises(ManifestError, match=words):
        parse_manifest(body, "")


def test_bundle_manifest_is_read_then_refused() -> None:
    bundle = parse_bundle_manifest(BUNDLE, "b/")
    assert (bundle.image_type, bundle.architecture) == ("machine", "i386")
    assert (bundle.kernel_id, bundle.ramdisk_id) == ("aki-12345678", "ari-87654321")
    assert [p.key for p in bundle.parts] == ["b/disk.img.part.00", "b/disk.img.part.01"]
    with pytest.raises(ManifestError, match=r"encrypted EC2 bundle \(machine image, 2 parts\)"):
        parse_manifest(BUNDLE, "b/")


@pytest.mark.parametrize("body, words", [
    (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><manifest/>",
     "not well-formed XML"),
    (b"<manifest><image><type>machine</type></image>", "well-formed"),
    (b"<other/>", "root element"),
    (b"<manifest/>", "no <image>"),
    (b"<manifest><image><type>machine</type></image></manifest>", "no parts"),
])
def test_bundle_refusals(body: bytes, words: str) -> None:
    with pytest.raises(ManifestError, match=words):
        parse_bundle_manifest(body, "")


@pytest.mark.parametrize("name, ok", [
    ("abc", True), ("ubuntu/images/hvm-ssd (2024.01) [x]_'@", True), ("ab", False),
    ("a" * 128, True), ("a" * 129, False), ("bad*name", False), ("naïve", False),
])
def test_image_names(name: str, ok: bool) -> None:
    if ok:
        assert image_checks.check_name(name) == name
    else:
        with pytest.raises(errors.InvalidAMINameMalformed):
            image_checks.check_name(name)


@pytest.mark.parametrize("device, ok", [
    ("/dev/sda1", True), ("/dev/xvdb", True), ("sdb", True), ("/dev/vda", True),
    ("/dev/foo", False), ("/etc/passwd", False), ("", False),
])
def test_device_names(device: str, ok: bool) -> None:
    if ok:
        assert image_checks.check_device_name(device) == device
    else:
        with pytest.raises((errors.InvalidBlockDeviceMapping, errors.MissingParameter)):
            image_checks.check_device_name(device)


def test_block_device_mapping_rules() -> None:
    with pytest.raises(errors.InvalidBlockDeviceMapping, match="more than once"):
        image_checks.block_device_mappings([{"DeviceName": "/dev/sdb", "NoDevice": ""},
                                            {"DeviceName": "sdb", "NoDevice": ""}])
    with pytest.raises(errors.InvalidBlockDeviceMapping, match="exactly one"):
        image_checks.block_device_mappings([{"DeviceName": "/dev/sdb"}])
    with pytest.raises(errors.InvalidBlockDeviceMapping, match="range"):
        image_checks.block_device_mappings([{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 0}}])


def test_catalog_rules() -> None:
    assert len({t.name for t in default_catalog()}) == len(default_catalog())
    micro = next(t for t in default_catalog() if t.name == "t1.micro")
    assert (micro.vcpus, micro.memory_mib) == (1, 128)
    with pytest.raises(ValueError, match="twice"):
        check_unique([micro, micro])
    with pytest.raises(ValueError):
        InstanceTypeSpec(name="Bad Name", vcpus=1, memory_mib=128)
