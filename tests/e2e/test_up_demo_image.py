"""``ironbark up`` registers the demo image on its first start, public, exactly once.

The server is given a ready image directory (``demo_image`` = a directory shaped like
``deploy/images/build-demo.sh``'s output), so this runs on every machine, on both backends: a
brand-new account finds the image with boto3, the AWS CLI and boto 2, and restarts do not
register it again (marker kept, marker lost). ``tests/e2e/test_up_with_node.py`` has the real
thing on a hypervisor host: the default ``auto`` builds the image, and a new account boots it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

from controller.identity.service import Credentials
from tests.conftest import Server, _start, _stop, running_server

T = TypeVar("T")
NAME = "ironbark-demo"


def eventually(check: Callable[[], T | None], what: str, deadline: float = 60.0) -> T:
    end = time.monotonic() + deadline
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline:.0f} s")
        time.sleep(0.3)


def _image_dir(path: Path) -> Path:
    """Files shaped like build-demo.sh's output (random bytes: this server never boots them)."""
    files = {"vmlinux": os.urandom(200_000), "initrd.img": os.urandom(50_000),
             "root.img": os.urandom(1024 * 1024)}
    for name, data in files.items():
        (path / name).write_bytes(data)

    def entry(name: str) -> dict[str, Any]:
        return {"file": name, "size": len(files[name]),
                "sha256": hashlib.sha256(files[name]).hexdigest()}

    (path / "image.json").write_text(json.dumps({
        "name": NAME, "kernel_version": "6.1", "cmdline": "console=ttyS0 root=/dev/vda rw",
        "kernel": entry("vmlinux"), "ramdisk": entry("initrd.img"),
        "root": {**entry("root.img"), "format": "raw"}}))
    return path


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"IRONBARK_DEMO_IMAGE": str(_image_dir(tmp_path_factory.mktemp("demo-files")))}


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory,
           demo_env: dict[str, str]) -> Iterator[Server]:
    with running_server(db_backend, tmp_path_factory, demo_env) as srv:
        yield srv


def announced_image(server: Server, deadline: float = 60.0) -> str:
    """The demo image id once ``ironbark up`` has registered it (it says so on stdout)."""
    def said() -> str | None:
        for line in server.banner_text().splitlines():
            if line.startswith("Demo image ami-"):
                return line.split()[2]
        return None

    return eventually(said, "the demo image announced", deadline)


def test_a_new_account_sees_the_public_demo_image(server: Server, make_ec2: Any, make_boto2: Any,
                                                  make_s3: Any, clients: Any) -> None:
    image_id = announced_image(server)
    user = server.new_account()
    images = make_ec2(user).describe_images(ExecutableUsers=["all"])["Images"]
    owner = _image_account(server)
    assert owner.account_id != server.admin.account_id
    assert [(i["ImageId"], i["Name"], i["Public"], i["OwnerId"]) for i in images] == [
        (image_id, NAME, True, owner.account_id)]
    assert images[0]["KernelId"].startswith("aki-") and images[0]["RamdiskId"].startswith("ari-")
    listed = clients.aws(user)("ec2", "describe-images", "--filters", f"Name=name,Values={NAME}")
    assert [i["ImageId"] for i in listed["Images"]] == [image_id]
    boto2_images = make_boto2(user).get_all_images(executable_by=["all"])
    assert [(i.id, i.name, i.is_public) for i in boto2_images] == [(image_id, NAME, True)]
    assert json.loads((server.data_dir / "demo-image.json").read_text())["ImageId"] == image_id
    # Its files are in a bucket of the image account: the admin account starts empty.
    assert make_s3(server.admin).list_buckets()["Buckets"] == []
    assert [b["Name"] for b in make_s3(owner).list_buckets()["Buckets"]] == ["ironbark-images"]


def _image_account(server: Server) -> Credentials:
    """The credentials of the account that owns the demo image."""
    return server.account_credentials("ironbark-images")


def _restart(server: Server, env: dict[str, str]) -> Server:
    _stop(server)
    again = _start(server.data_dir, server.database_url,
                   pg=server.database_url.startswith("postgresql"), extra_env=env)
    again.admin = server.admin
    return again


def test_restarts_do_not_register_it_again(server: Server, demo_env: dict[str, str]) -> None:
    image_id = announced_image(server)
    marker = server.data_dir / "demo-image.json"
    current = _restart(server, demo_env)  # the marker says it is done
    try:
        assert f"Demo image {image_id} (public)" in current.banner_text()
        marker.unlink()
        current = _restart(current, demo_env)  # no marker: found by name in its account
        assert announced_image(current) == image_id
        eventually(marker.exists, "the marker written again")
        owner = _image_account(server)  # the same database; its engine is disposed with it
        ec2 = boto3.client("ec2", endpoint_url=current.endpoint, region_name="us-east-1",
                           aws_access_key_id=owner.access_key_id,
                           aws_secret_access_key=owner.secret_access_key)
        names = [i["Name"] for i in ec2.describe_images(Owners=["self"])["Images"]]
        assert sorted(names) == [NAME, f"{NAME}-kernel", f"{NAME}-ramdisk"]
        assert "demo_image.registered" not in current.log_text()
    finally:
        _stop(current)


def test_an_image_an_earlier_version_registered_as_admin_stands(
        db_backend: str, tmp_path_factory: pytest.TempPathFactory,
        demo_env: dict[str, str]) -> None:
    """Earlier versions registered the demo image in the admin account: with its marker lost,
    a start adopts that image rather than importing another into the image account."""
    with running_server(db_backend, tmp_path_factory) as old:  # demo image off
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IRONBARK_", "AWS_"))}
        done = subprocess.run(
            [sys.executable, "-m", "controller.cli.main", "admin", "image", "import",
             demo_env["IRONBARK_DEMO_IMAGE"], "--data-dir", str(old.data_dir),
             "--database-url", old.database_url, "--endpoint", old.endpoint,
             "--bucket", "ironbark-images", "--prefix", "ironbark-demo/", "--public"],
            capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        ec2 = boto3.client("ec2", endpoint_url=old.endpoint, region_name="us-east-1",
                           aws_access_key_id=old.admin.access_key_id,
                           aws_secret_access_key=old.admin.secret_access_key)
        legacy = {i["Name"]: i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
        current = _restart(old, demo_env)
        try:
            assert announced_image(current) == legacy[NAME]
            assert "demo_image.registered" not in current.log_text()
        finally:
            _stop(current)
