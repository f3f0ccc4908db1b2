"""CreateTags, DeleteTags, DescribeTags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from controller.db.models import Tag
from controller.ec2.context import RequestContext
from controller.ec2.errors import InvalidParameterValue, MissingParameter
from controller.ec2.filters import apply_filters
from controller.ec2.pagination import paginate
from controller.ec2.registry import Params, Result, action
from controller.ec2.resources import kind_of, require_existing
from controller.ec2.tagging import remove_tags, set_tags, validate_tags

MAX_RESOURCES = 1000


def _resources(params: Params) -> list[str]:
    resources: list[str] = params.get("Resources") or []
    if not resources:
        raise MissingParameter("The request must contain the parameter resourceIdSet")
    if len(resources) > MAX_RESOURCES:
        raise InvalidParameterValue(f"You can tag at most {MAX_RESOURCES} resources at once.")
    return resources


@action("CreateTags")
def create_tags(ctx: RequestContext, params: Params) -> Result:
    resources = _resources(params)
    tags = validate_tags(params.get("Tags") or [])
    if not tags:
        raise MissingParameter("The request must contain the parameter tagSet")
    types = require_existing(ctx.session, ctx.account_id, resources)
    set_tags(ctx.session, ctx.account_id, types, tags)
    return {}


@action("DeleteTags")
def delete_tags(ctx: RequestContext, params: Params) -> Result:
    resources = _resources(params)
    tags = validate_tags(params.get("Tags") or [], deleting=True)
    for rid in resources:
        kind_of(rid)
    remove_tags(ctx.session, ctx.account_id, resources, tags)
    return {}


_FILTERS: dict[str, Any] = {
    "key": lambda t: t.key,
    "value": lambda t: t.value,
    "resource-id": lambda t: t.resource_id,
    "resource-type": lambda t: t.resource_type,
}


@action("DescribeTags", mutating=False)
def describe_tags(ctx: RequestContext, params: Params) -> Result:
    rows = list(ctx.session.scalars(select(Tag).where(Tag.account_id == ctx.account_id)))
    tags_of: dict[str, dict[str, str]] = {}
    for row in rows:
        tags_of.setdefault(row.resource_id, {})[row.key] = row.value
    rows = apply_filters(rows, params.get("Filters"), _FILTERS, lambda t: tags_of[t.resource_id])
    page, token = paginate(rows, lambda t: f"{t.resource_id}\x00{t.key}",
                           params.get("MaxResults"), params.get("NextToken"))
    result: dict[str, Any] = {
        "Tags": [{"ResourceId": t.resource_id, "ResourceType": t.resource_type, "Key": t.key,
                  "Value": t.value} for t in page]
    }
    if token:
        result["NextToken"] = token
    return result
