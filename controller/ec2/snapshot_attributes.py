"""DescribeSnapshotAttribute, ModifySnapshotAttribute, ResetSnapshotAttribute.

Only the owner reads or changes a snapshot's create-volume permissions; ``Group=all`` makes it
public (every account sees it and may create volumes from it), a user id shares it with that
account. Product codes exist (always empty) and cannot be changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from controller import ids
from controller.db.models import SnapshotPermission
from controller.ec2 import errors
from controller.ec2.context import RequestContext
from controller.ec2.permissions import permission_changes
from controller.ec2.registry import Params, Result, action
from controller.ec2.snapshots_store import owned_snapshot

_ATTRIBUTES = ("createVolumePermission", "productCodes")


def _check_attribute(name: str | None) -> str:
    if name not in _ATTRIBUTES:
        raise errors.InvalidParameterValue(
            f"Value ({str(name)[:64]}) for parameter attribute is invalid. "
            "Valid values: createVolumePermission, productCodes")
    return name


def _check_user_ids(user_ids: Sequence[str]) -> None:
    for user in user_ids:
        if not ids.is_account_id(user):
            raise errors.InvalidUserIDMalformed(f"Invalid user id: '{user[:64]}'")


def _check_groups(groups: Sequence[str]) -> None:
    for group in groups:
        if group != "all":
            raise errors.InvalidParameterValue(
                f"Value ({group[:64]}) for parameter userGroup is invalid. Valid values: all")


@action("DescribeSnapshotAttribute", mutating=False)
def describe_snapshot_attribute(ctx: RequestContext, params: Params) -> Result:
    attribute = _check_attribute(params.get("Attribute"))
    snapshot = owned_snapshot(ctx.session, ctx.account_id, params["SnapshotId"])
    if attribute == "productCodes":
        return {"SnapshotId": snapshot.id, "ProductCodes": []}
    granted = ctx.session.scalars(select(SnapshotPermission.account_id)
                                  .where(SnapshotPermission.snapshot_id == snapshot.id)
                                  .order_by(SnapshotPermission.account_id))
    listed = [{"Group": "all"}] if snapshot.is_public else []
    return {"SnapshotId": snapshot.id,
            "CreateVolumePermissions": listed + [{"UserId": a} for a in granted]}


@action("ModifySnapshotAttribute")
def modify_snapshot_attribute(ctx: RequestContext, params: Params) -> Result:
    attribute = params.get("Attribute")
    if attribute is not None:
        _check_attribute(attribute)
        if attribute == "productCodes":
            raise errors.InvalidParameterCombination(
                "The productCodes attribute of a snapshot cannot be changed")
    snapshot = owned_snapshot(ctx.session, ctx.account_id, params["SnapshotId"],
                              for_update=True)
    changes = permission_changes(params, "CreateVolumePermission", "GroupNames",
                                 _check_user_ids, _check_groups)
    if not changes:
        raise errors.MissingParameter("No create volume permission to add or remove.")
    if changes.add_groups:
        snapshot.is_public = True
    if changes.remove_groups:
        snapshot.is_public = False
    session = ctx.session
    for user in dict.fromkeys(changes.add_users):
        if user != snapshot.account_id and session.get(
                SnapshotPermission, (snapshot.id, user)) is None:
            session.add(SnapshotPermission(snapshot_id=snapshot.id, account_id=user))
    if changes.remove_users:
        session.execute(delete(SnapshotPermission).where(
            SnapshotPermission.snapshot_id == snapshot.id,
            SnapshotPermission.account_id.in_(changes.remove_users)))
    return {}


@action("ResetSnapshotAttribute")
def reset_snapshot_attribute(ctx: RequestContext, params: Params) -> Result:
    if _check_attribute(params["Attribute"]) != "createVolumePermission":
        raise errors.InvalidParameterValue(
            "Value (productCodes) for parameter attribute is invalid. "
            "Only createVolumePermission can be reset.")
    snapshot = owned_snapshot(ctx.session, ctx.account_id, params["SnapshotId"],
                              for_update=True)
    snapshot.is_public = False
    ctx.session.execute(delete(SnapshotPermission)
                        .where(SnapshotPermission.snapshot_id == snapshot.id))
    return {}
