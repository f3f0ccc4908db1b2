"""``ironbark up`` registers the demo image on its first start.

The image (``deploy/images/build-demo.sh``: kernel + ramdisk + root disk) is built into
``DATA/demo-image`` when it is not there yet and the machine can build it, then imported through
the same code path as ``ironbark admin image import`` (the cloud's own S3 and EC2 APIs) as
an account of its own, :data:`ACCOUNT` (created then), and made public, so every account sees it
in DescribeImages while no user account holds its bucket: a new account starts empty, as in
AWS, whose public images belong to their publishers. It happens once: ``DATA/demo-image.json``
records the image id, and an image of the demo's name already in that account (or, registered
by an earlier version, in the admin account) counts as done. Runs in a thread after the API
listens; a machine that cannot build the image (no readable kernel, no busybox) logs why and
starts without it.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from controller.config import Settings
from controller.logs import event

if TYPE_CHECKING:
    from controller.cli.image_import import Files

log = logging.getLogger("ironbark.demo_image")
BUCKET = "ironbark-images"
ACCOUNT = "ironbark-images"
"""The account that owns the demo image and its bucket."""
MARKER = "demo-image.json"
BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "images" / "build-demo.sh"
BUILD_TIMEOUT = 300.0
READY_TIMEOUT = 120.0


def recorded(settings: Settings) -> str | None:
    """The demo image id registered earlier (from the marker), if any."""
    try:
        return str(json.loads((settings.data_dir / MARKER).read_text())["ImageId"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def source_dir(settings: Settings) -> Path | None:
    """A directory with the demo image's files: the configured one, else ``DATA/demo-image``
    (built now if need be); None when switched off or it cannot be built here."""
    if settings.demo_image == "off":
        return None
    if settings.demo_image != "auto":
        given = Path(settings.demo_image)
        if (given / "image.json").is_file():
            return given
        event(log, logging.WARNING, "demo_image.missing", directory=str(given))
        return None
    built = settings.data_dir / "demo-image"
    if (built / "image.json").is_file():
        return built
    if not BUILD_SCRIPT.is_file():
        event(log, logging.INFO, "demo_image.no_build_script", script=str(BUILD_SCRIPT))
        return None
    event(log, logging.INFO, "demo_image.building", directory=str(built))
    try:
        done = subprocess.run([str(BUILD_SCRIPT), str(built)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=BUILD_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        event(log, logging.WARNING, "demo_image.not_built", reason=str(exc))
        return None
    if done.returncode != 0 or not (built / "image.json").is_file():
        lines = done.stderr.strip().splitlines()
        event(log, logging.INFO, "demo_image.not_built",
              reason=lines[-1] if lines else f"status {done.returncode}")
        return None
    return built


def _wait_ready(settings: Settings, stop: threading.Event) -> bool:
    url = settings.local_endpoint.rstrip("/") + "/_ironbark/health"
    deadline = time.monotonic() + READY_TIMEOUT
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        stop.wait(0.2)
    return False


def _own_images(ec2: Any, *names: str) -> dict[str, str]:
    """Name -> id of the images with these names that the client's account owns."""
    reply = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": list(names)}])
    return {image["Name"]: image["ImageId"] for image in reply["Images"]}


def image_account(settings: Settings) -> None:
    """Create :data:`ACCOUNT` unless it exists."""
    from controller.cli.admin import _db
    from controller.identity import service
    from controller.identity.errors import NoSuchEntity
    from controller.provisioning import provision_account

    with _db(settings) as (session, box):
        try:
            service.get_account(session, ACCOUNT)
        except NoSuchEntity:
            provision_account(session, box, ACCOUNT)


def register(settings: Settings, directory: Path) -> str:
    """Import the image in ``directory`` into :data:`ACCOUNT`, public, unless an image of its
    name is there already; record and return the machine image's id."""
    from controller.cli.image_import import clients, directory_files

    files = directory_files(directory)
    # Registered in the admin account by an earlier version (its marker lost): that one stands.
    image_id = _own_images(clients(settings, None, settings.local_endpoint)[1],
                           files.name).get(files.name)
    if image_id is None:
        image_id = _register_in_image_account(settings, files)
    marker = settings.data_dir / MARKER
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"ImageId": image_id, "Name": files.name}) + "\n")
    tmp.replace(marker)
    return image_id


def _register_in_image_account(settings: Settings, files: Files) -> str:
    """The image's id in :data:`ACCOUNT`, imported now unless an image of its name is there."""
    from controller.cli.image_import import clients, import_files

    image_account(settings)
    s3, ec2 = clients(settings, ACCOUNT, settings.local_endpoint)
    parts = (f"{files.name}-kernel", f"{files.name}-ramdisk")
    found = _own_images(ec2, files.name, *parts)
    image_id = found.get(files.name)
    if image_id is not None:
        return image_id
    for name in parts:  # an import interrupted after the kernel or ramdisk
        if name in found:
            ec2.deregister_image(ImageId=found[name])
    image_id = str(import_files(s3, ec2, files, BUCKET, public=True, out=io.StringIO())["ImageId"])
    event(log, logging.INFO, "demo_image.registered", image_id=image_id, image_name=files.name)
    return image_id


def announce(image_id: str) -> None:
    print(f"Demo image {image_id} (public): aws ec2 run-instances --image-id {image_id} "
          "--instance-type t1.micro", flush=True)


def _run(settings: Settings, stop: threading.Event) -> None:
    try:
        directory = source_dir(settings)
        if directory is None or not _wait_ready(settings, stop):
            return
        announce(register(settings, directory))
    except Exception:  # noqa: BLE001 - the cloud runs on without its demo image
        event(log, logging.WARNING, "demo_image.failed", exc_info=True)


def start(settings: Settings) -> None:
    """Register the demo image in a background thread, unless done before (then only say
    which it is)."""
    done = recorded(settings)
    if done is not None:
        announce(done)
    elif settings.demo_image != "off":
        threading.Thread(target=_run, args=(settings, threading.Event()), name="demo-image",
                         daemon=True).start()
