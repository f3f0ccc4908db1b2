"""``ironbark admin image import`` against a live server: uploads through the S3 API, writes
manifests, registers aki/ari/ami (or one whole-disk ami), then the images describe as such."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tests.conftest import Server
from tests.e2e.test_cli import ironbark


def _demo_dir(tmp_path: Path) -> Path:
    """Files shaped like deploy/images/build-demo.sh's output; the disk needs multipart."""
    files = {"vmlinux": os.urandom(300_000), "initrd.img": os.urandom(100_000),
             "root.img": os.urandom(9 * 1024 * 1024 + 17)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    def entry(name: str) -> dict[str, Any]:
        return {"file": name, "size": len(files[name]),
                "sha256": hashlib.sha256(files[name]).hexdigest()}

    (tmp_path / "image.json").write_text(json.dumps({
        "name": "demo-import", "kernel_version": "6.1", "cmdline": "console=ttyS0 root=/dev/vda",
        "kernel": entry("vmlinux"), "ramdisk": entry("initrd.img"),
        "root": {**entry("root.img"), "format": "raw"}}))
    return tmp_path


def test_import_kernel_ramdisk_disk(server: Server, tmp_path: Path, make_ec2: Any,
                                    make_s3: Any) -> None:
    directory = _demo_dir(tmp_path)
    done = ironbark(server, "image", "import", str(directory), "--bucket", "images",
                    "--endpoint", server.endpoint, "--public")
    ids = json.loads(done.stdout)
    assert "100%" in done.stderr and "registered" in done.stderr
    ec2, s3 = make_ec2(server.admin), make_s3(server.admin)
    images = {i["ImageId"]: i for i in ec2.describe_images(ImageIds=list(ids.values()))["Images"]}
    ami = images[ids["ImageId"]]
    assert ami["Name"] == "demo-import" and ami["Public"] is True
    assert ami["KernelId"] == ids["KernelId"] and ami["RamdiskId"] == ids["RamdiskId"]
    assert images[ids["KernelId"]]["ImageType"] == "kernel"
    assert images[ids["RamdiskId"]]["Name"] == "demo-import-ramdisk"
    manifest = json.loads(s3.get_object(Bucket="images", Key="demo-import/machine.manifest.json")
                          ["Body"].read())
    info = json.loads((directory / "image.json").read_text())
    assert manifest["parts"] == [{"key": "root.img", "size": info["root"]["size"],
                                  "sha256": info["root"]["sha256"]}]
    assert manifest["kernel_cmdline"] == "console=ttyS0 root=/dev/vda"
    body = s3.get_object(Bucket="images", Key="demo-import/root.img")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == info["root"]["sha256"]
    # another account sees the public machine image, not the private kernel
    other = make_ec2(server.new_account())
    assert [i["ImageId"] for i in other.describe_images(ExecutableUsers=["all"])["Images"]] == [
        ids["ImageId"]]
    again = ironbark(server, "image", "import", str(directory), "--bucket", "images",
                     "--endpoint", server.endpoint, ok=False)
    assert again.returncode == 1 and "InvalidAMIName.Duplicate" in again.stderr


def test_import_whole_disk_into_another_account(server: Server, tmp_path: Path,
                                                make_ec2: Any) -> None:
    creds = server.new_account()
    disk = tmp_path / "whole.qcow2"
    disk.write_bytes(b"QFI\xfb" + os.urandom(5000))
    done = ironbark(server, "image", "import", "--disk", str(disk), "--disk-format", "qcow2",
                    "--bucket", "whole-disks", "--account", creds.account_id,
                    "--endpoint", server.endpoint)
    ids = json.loads(done.stdout)
    assert set(ids) == {"ImageId"}
    image = make_ec2(creds).describe_images(ImageIds=[ids["ImageId"]])["Images"][0]
    assert image["Name"] == "whole" and image["VirtualizationType"] == "hvm"
    assert "KernelId" not in image and image["OwnerId"] == creds.account_id
