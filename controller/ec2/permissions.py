"""The add/remove lists of a ``Modify*Attribute`` call that shares a resource with accounts
(images' ``launchPermission``, snapshots' ``createVolumePermission``): the structured form
(``LaunchPermission.Add.N.UserId``) and the flat one (``OperationType`` + ``UserId.N`` +
``UserGroup.N``) are both accepted, as EC2 does."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller import ids
from controller.ec2 import errors


@dataclass(frozen=True)
class Changes:
    add_users: list[str]
    add_groups: list[str]
    remove_users: list[str]
    remove_groups: list[str]

    def __bool__(self) -> bool:
        return bool(self.add_users or self.add_groups or self.remove_users or self.remove_groups)


def _split(items: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    users, groups = [], []
    for item in items:
        if item.get("OrganizationArn") or item.get("OrganizationalUnitArn"):
            raise errors.InvalidParameterValue("Organizations are not supported by this cloud")
        if item.get("UserId") is not None:
            users.append(item["UserId"])
        if item.get("Group") is not None:
            groups.append(item["Group"])
    return users, groups


def permission_changes(params: Mapping[str, Any], structured: str, flat_groups: str,
                       check_users: Callable[[Sequence[str]], None],
                       check_groups: Callable[[Sequence[str]], None]) -> Changes:
    """The changes a request asks for; ``structured`` and ``flat_groups`` name its members."""
    modifications = params.get(structured) or {}
    add_users, add_groups = _split(modifications.get("Add") or [])
    del_users, del_groups = _split(modifications.get("Remove") or [])
    flat_users, flat_group_list = params.get("UserIds") or [], params.get(flat_groups) or []
    if flat_users or flat_group_list:
        operation = params.get("OperationType")
        if operation == "add":
            add_users, add_groups = add_users + flat_users, add_groups + flat_group_list
        elif operation == "remove":
            del_users, del_groups = del_users + flat_users, del_groups + flat_group_list
        else:
            raise errors.InvalidParameterValue(
                f"Value ({str(operation)[:32]}) for parameter operationType is invalid. "
                "Valid values: add, remove")
    for users in (add_users, del_users):
        check_users(users)
    for groups in (add_groups, del_groups):
        check_groups(groups)
    return Changes(add_users, add_groups, del_users, del_groups)


OWNER_ALIASES = ("amazon", "aws-marketplace", "aws-backup-vault")
"""Owner aliases Describe* accept; nothing here belongs to them, so they match nothing."""


def owner_ids(caller: str, owners: Sequence[str]) -> set[str]:
    """The accounts an ``Owners``/``OwnerIds`` list names (``self`` is the caller);
    ``InvalidUserID.Malformed`` for anything else."""
    wanted: set[str] = set()
    for owner in owners:
        if owner == "self":
            wanted.add(caller)
        elif ids.is_account_id(owner):
            wanted.add(owner)
        elif owner not in OWNER_ALIASES:
            raise errors.InvalidUserIDMalformed(f"Invalid user id: '{owner[:64]}'")
    return wanted


def users_named(caller: str, users: Sequence[str]) -> tuple[set[str], bool]:
    """(accounts, whether ``all`` was named) of an ``ExecutableUsers``/``RestorableByUserIds``
    list (``self`` is the caller); ``InvalidUserID.Malformed`` for anything else."""
    accounts: set[str] = set()
    public = False
    for user in users:
        if user == "all":
            public = True
        elif user == "self":
            accounts.add(caller)
        elif ids.is_account_id(user):
            accounts.add(user)
        else:
            raise errors.InvalidUserIDMalformed(f"Invalid user id: '{user[:64]}'")
    return accounts, public
