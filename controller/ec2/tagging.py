"""Tag storage, AWS's tag limits, and ``TagSpecifications`` on create calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.orm import Session

from controller.db.models import Tag
from controller.ec2.errors import InvalidParameterValue, TagLimitExceeded

MAX_TAGS_PER_RESOURCE = 50
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256


def validate_tags(tags: Sequence[Mapping[str, Any]], *, deleting: bool = False) -> dict[str, str | None]:
    """Check keys and values; return ``{key: value}`` (value None = any value, for DeleteTags)."""
    result: dict[str, str | None] = {}
    for tag in tags:
        key = tag.get("Key")
        value = tag.get("Value")
        if key is None or key == "":
            raise InvalidParameterValue("Tag key cannot be null or empty")
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidParameterValue(
                f"Tag key exceeds the maximum length of {MAX_KEY_LENGTH} characters"
            )
        if key.lower().startswith("aws:"):
            raise InvalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use")
        if value is not None and len(value) > MAX_VALUE_LENGTH:
            raise InvalidParameterValue(
                f"Tag value exceeds the maximum length of {MAX_VALUE_LENGTH} characters"
            )
        result[key] = value if (deleting or value is not None) else ""
    if not deleting and len(result) > MAX_TAGS_PER_RESOURCE:
        raise TagLimitExceeded("The maximum number of Tags for a resource has been reached.")
    return result


@cache
def _tags_query() -> Select[str, str, str]:
    tags = Tag.__table__.c  # Core, not ORM: this runs on every Describe*
    return select(tags.resource_id, tags.key, tags.value).where(
        tags.account_id == bindparam("account_id"),
        tags.resource_id.in_(bindparam("ids", expanding=True)),
    )


def tags_by_resource(session: Session, account_id: str, resource_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    ids = list(resource_ids)
    out: dict[str, dict[str, str]] = {rid: {} for rid in ids}
    if not ids:
        return out
    rows = session.execute(_tags_query(), {"account_id": account_id, "ids": ids})
    for rid, key, value in rows:
        out[rid][key] = value
    return out


def as_tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def set_tags(
    session: Session, account_id: str, resource_type_of: Mapping[str, str], tags: Mapping[str, str | None]
) -> None:
    """Add or overwrite ``tags`` on each resource, keeping the per-resource limit."""
    existing = tags_by_resource(session, account_id, resource_type_of)
    for rid, rtype in resource_type_of.items():
        merged = {**existing[rid], **{k: v or "" for k, v in tags.items()}}
        if len(merged) > MAX_TAGS_PER_RESOURCE:
            raise TagLimitExceeded("The maximum number of Tags for a resource has been reached.")
        for key, value in tags.items():
            session.merge(
                Tag(resource_id=rid, key=key, account_id=account_id, resource_type=rtype, value=value or "")
            )
    session.flush()


def remove_tags(session: Session, account_id: str, resource_ids: Iterable[str], tags: Mapping[str, str | None]) -> None:
    """DeleteTags: no tags named = all tags; a value names the only value to remove."""
    ids = list(resource_ids)
    base = delete(Tag).where(Tag.account_id == account_id, Tag.resource_id.in_(ids))
    if not tags:
        session.execute(base)
        return
    for key, value in tags.items():
        stmt = base.where(Tag.key == key)
        if value is not None:
            stmt = stmt.where(Tag.value == value)
        session.execute(stmt)


def delete_all_for(session: Session, account_id: str, resource_id: str) -> None:
    session.execute(delete(Tag).where(Tag.account_id == account_id, Tag.resource_id == resource_id))


def tags_from_specifications(
    specs: Sequence[Mapping[str, Any]] | None, resource_type: str
) -> dict[str, str]:
    """The tags that ``TagSpecifications`` asks for on a resource of ``resource_type``."""
    tags: dict[str, str] = {}
    for spec in specs or ():
        rtype = spec.get("ResourceType")
        if rtype != resource_type:
            raise InvalidParameterValue(
                f"'{rtype}' is not a valid taggable resource type for this operation."
            )
        for key, value in validate_tags(spec.get("Tags") or []).items():
            tags[key] = value or ""
    if len(tags) > MAX_TAGS_PER_RESOURCE:
        raise TagLimitExceeded("The maximum number of Tags for a resource has been reached.")
    return tags
