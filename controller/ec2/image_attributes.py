"""DescribeImageAttribute, ModifyImageAttribute, ResetImageAttribute.

As on EC2: any account that sees an image may read its description, kernel, ramdisk and block
device mappings; only the owner reads or changes its launch permissions, changes its
description, or resets it. ``Group=all`` makes an image public.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from controller import ids
from controller.db.models import Image, ImageLaunchPermission
from controller.ec2 import errors, image_checks
from controller.ec2.context import RequestContext
from controller.ec2.images_store import owned_image, visible_image
from controller.ec2.permissions import permission_changes
from controller.ec2.registry import Params, Result, action

_EMPTY_VALUE = ("sriovNetSupport", "bootMode", "tpmSupport", "uefiData", "lastLaunchedTime",
                "imdsSupport", "deregistrationProtection")
_OUTPUT_MEMBER = {"sriovNetSupport": "SriovNetSupport", "bootMode": "BootMode",
                  "tpmSupport": "TpmSupport", "uefiData": "UefiData",
                  "lastLaunchedTime": "LastLaunchedTime", "imdsSupport": "ImdsSupport",
                  "deregistrationProtection": "DeregistrationProtection"}


def _unknown_attribute(name: str) -> errors.InvalidParameterValue:
    return errors.InvalidParameterValue(
        f"Value ({name[:64]}) for parameter attribute is invalid. Unknown attribute.")


def _value(value: str | None) -> dict[str, str]:
    return {"Value": value} if value is not None else {}


def launch_permissions(session: Session, image: Image) -> list[dict[str, str]]:
    granted = session.scalars(select(ImageLaunchPermission.account_id)
                              .where(ImageLaunchPermission.image_id == image.id)
                              .order_by(ImageLaunchPermission.account_id))
    listed = [{"Group": "all"}] if image.is_public else []
    return listed + [{"UserId": account} for account in granted]


@action("DescribeImageAttribute", mutating=False)
def describe_image_attribute(ctx: RequestContext, params: Params) -> Result:
    attribute = params["Attribute"]
    if attribute == "launchPermission":
        image = owned_image(ctx.session, ctx.account_id, params["ImageId"])
        return {"ImageId": image.id, "LaunchPermissions": launch_permissions(ctx.session, image)}
    image = visible_image(ctx.session, ctx.account_id, params["ImageId"])
    result: dict[str, Any] = {"ImageId": image.id}
    if attribute == "description":
        result["Description"] = _value(image.description)
    elif attribute == "kernel":
        result["KernelId"] = _value(image.kernel_id)
    elif attribute == "ramdisk":
        result["RamdiskId"] = _value(image.ramdisk_id)
    elif attribute == "blockDeviceMapping":
        result["BlockDeviceMappings"] = json.loads(image.block_device_mappings)
    elif attribute == "productCodes":
        result["ProductCodes"] = []
    elif attribute in _EMPTY_VALUE:
        result[_OUTPUT_MEMBER[attribute]] = {}
    else:
        raise _unknown_attribute(attribute)
    return result


def _check_user_ids(user_ids: Sequence[str]) -> None:
    for user in user_ids:
        if not ids.is_account_id(user):
            raise errors.InvalidAMIAttributeItemValue(
                f'Invalid attribute item value "{user[:64]}" for userId item type.')


def _check_groups(groups: Sequence[str]) -> None:
    for group in groups:
        if group != "all":
            raise errors.InvalidAMIAttributeItemValue(
                f'Invalid attribute item value "{group[:64]}" for group item type.')


def _apply_permissions(session: Session, image: Image, params: Params) -> bool:
    changes = permission_changes(params, "LaunchPermission", "UserGroups", _check_user_ids,
                                 _check_groups)
    if not changes:
        return False
    add_users, add_groups = changes.add_users, changes.add_groups
    del_users, del_groups = changes.remove_users, changes.remove_groups
    if add_groups:
        image.is_public = True
    if del_groups:
        image.is_public = False
    for user in dict.fromkeys(add_users):
        if user != image.account_id and session.get(ImageLaunchPermission, (image.id, user)) is None:
            session.add(ImageLaunchPermission(image_id=image.id, account_id=user))
    if del_users:
        session.execute(delete(ImageLaunchPermission).where(
            ImageLaunchPermission.image_id == image.id,
            ImageLaunchPermission.account_id.in_(del_users)))
    return True


@action("ModifyImageAttribute")
def modify_image_attribute(ctx: RequestContext, params: Params) -> Result:
    attribute = params.get("Attribute")
    if attribute not in (None, "description", "launchPermission"):
        if attribute in ("kernel", "ramdisk", "blockDeviceMapping", "productCodes"):
            raise errors.InvalidParameterCombination(
                f"The attribute {attribute} of an image cannot be changed after registration")
        raise _unknown_attribute(str(attribute))
    if params.get("ProductCodes") or params.get("OrganizationArns") or params.get(
            "OrganizationalUnitArns"):
        raise errors.InvalidParameterCombination(
            "Product codes and organizations are not supported by this cloud")
    image = owned_image(ctx.session, ctx.account_id, params["ImageId"])
    changed = _apply_permissions(ctx.session, image, params)
    description = (params.get("Description") or {}).get("Value")
    if description is None and attribute == "description":
        description = params.get("Value")
    if description is not None:
        image.description = image_checks.check_description(description)
        changed = True
    if not changed:
        raise errors.InvalidParameterCombination("No attributes specified.")
    return {}


@action("ResetImageAttribute")
def reset_image_attribute(ctx: RequestContext, params: Params) -> Result:
    if params["Attribute"] != "launchPermission":
        raise errors.InvalidParameterValue(
            f"Value ({params['Attribute'][:64]}) for parameter attribute is invalid. "
            "Only launchPermission can be reset.")
    image = owned_image(ctx.session, ctx.account_id, params["ImageId"])
    image.is_public = False
    ctx.session.execute(delete(ImageLaunchPermission).where(
        ImageLaunchPermission.image_id == image.id))
    return {}
