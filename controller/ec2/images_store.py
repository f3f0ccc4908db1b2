"""Which images an account sees, and how one is shown: the reads behind the image actions.

An image is visible to its owner, to every account when it is public, and to the accounts its
owner granted launch permission. Tags on an image are its owner's (tags are per account).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from controller import ids
from controller.db.models import Image, ImageLaunchPermission, Tag
from controller.db.queries import rows_with_tags
from controller.db.reader import Prepared, Reader
from controller.ec2 import errors
from controller.ec2.tagging import as_tag_list

PREFIXES = {"machine": "ami", "kernel": "aki", "ramdisk": "ari"}
TYPE_OF_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}


def check_image_id(value: str) -> str:
    """``value`` if it is an ``ami-``/``aki-``/``ari-`` id, else ``InvalidAMIID.Malformed``."""
    prefix = value.partition("-")[0]
    if prefix not in TYPE_OF_PREFIX or not ids.is_resource_id(value, prefix):
        raise errors.InvalidAMIIDMalformed(f'Invalid id: "{value[:64]}" (expecting "ami-...")')
    return value


def not_found(image_id: str) -> errors.InvalidAMIIDNotFound:
    return errors.InvalidAMIIDNotFound(f"The image id '[{image_id}]' does not exist")


@lru_cache(maxsize=128)
def _visible(id_count: int) -> Prepared:
    images = Image.__table__
    tags = Tag.__table__
    grants = ImageLaunchPermission.__table__
    caller: Any = bindparam("caller")
    query = (
        select(images, tags.c.key.label("tag_key"), tags.c.value.label("tag_value"))
        .outerjoin(tags, (tags.c.resource_id == images.c.id) & (tags.c.account_id == caller))
        .where(or_(images.c.account_id == caller, images.c.is_public.is_(True),
                   images.c.id.in_(select(grants.c.image_id).where(grants.c.account_id == caller))))
        .order_by(images.c.id)
    )
    if id_count:
        query = query.where(images.c.id.in_([bindparam(f"id_{i}") for i in range(id_count)]))
    return Prepared(query)


def visible_images(reader: Reader, account_id: str,
                   image_ids: Sequence[str] = ()) -> list[tuple[Any, dict[str, str]]]:
    """The images ``account_id`` may see (narrowed to ``image_ids`` if any), each with the
    caller's tags on it, in id order."""
    wanted = list(dict.fromkeys(image_ids))
    params: dict[str, Any] = {"caller": account_id}
    params.update({f"id_{i}": v for i, v in enumerate(wanted)})
    return rows_with_tags(reader.all(_visible(len(wanted)), params))


def granted_accounts(session: Session, image_ids: Iterable[str]) -> dict[str, set[str]]:
    """The accounts each image is explicitly shared with."""
    wanted = list(image_ids)
    out: dict[str, set[str]] = {i: set() for i in wanted}
    if not wanted:
        return out
    rows = session.execute(select(ImageLaunchPermission.image_id, ImageLaunchPermission.account_id)
                           .where(ImageLaunchPermission.image_id.in_(wanted)))
    for image_id, account in rows:
        out[image_id].add(account)
    return out


def is_visible(session: Session, image: Image, account_id: str) -> bool:
    if image.account_id == account_id or image.is_public:
        return True
    return session.get(ImageLaunchPermission, (image.id, account_id)) is not None


def visible_image(session: Session, account_id: str, image_id: str) -> Image:
    """The image if the account may see it: ``InvalidAMIID.Malformed`` / ``.NotFound``."""
    check_image_id(image_id)
    image = session.get(Image, image_id)
    if image is None or not is_visible(session, image, account_id):
        raise not_found(image_id)
    return image


def owned_image(session: Session, account_id: str, image_id: str) -> Image:
    """The image if the account owns it; someone else's visible image is ``AuthFailure``."""
    image = visible_image(session, account_id, image_id)
    if image.account_id != account_id:
        raise errors.AuthFailure(f"Not authorized for image:{image_id}")
    return image


def describe(image: Any, tags: dict[str, str]) -> dict[str, Any]:
    """One ``Image`` of DescribeImages, from a row (or model) of ``images``."""
    item: dict[str, Any] = {
        "ImageId": image.id,
        "ImageLocation": image.image_location,
        "State": image.state,
        "OwnerId": image.account_id,
        "CreationDate": image.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "Public": bool(image.is_public),
        "Architecture": image.architecture,
        "ImageType": image.image_type,
        "Name": image.name,
        "RootDeviceType": image.root_device_type,
        "VirtualizationType": image.virtualization_type,
        "Hypervisor": "xen",
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "BlockDeviceMappings": json.loads(image.block_device_mappings),
        "Tags": as_tag_list(tags),
    }
    for key, value in (("Description", image.description), ("KernelId", image.kernel_id),
                       ("RamdiskId", image.ramdisk_id), ("RootDeviceName", image.root_device_name)):
        if value is not None:
            item[key] = value
    return item
