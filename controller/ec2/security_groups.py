"""CreateSecurityGroup, DeleteSecurityGroup, DescribeSecurityGroups, Authorize/Revoke Ingress/Egress."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import object_session, selectinload

from controller.db.models import SecurityGroup, SecurityGroupRule
from controller.ec2 import errors
from controller.ec2 import security_groups_store as store
from controller.ec2.context import RequestContext
from controller.ec2.filters import apply_filters
from controller.ec2.pagination import paginate
from controller.ec2.registry import Params, Result, action
from controller.ec2.sg_rules import RuleSpec, expand, group_permissions, permissions_from_params
from controller.ec2.tagging import (
    as_tag_list,
    delete_all_for,
    set_tags,
    tags_by_resource,
    tags_from_specifications,
)

_TEXT = re.compile(r"[A-Za-z0-9. _\-:/()#,@\[\]+=&;{}!$*]*")
MAX_TEXT = 255


def _check_text(value: str, field: str) -> None:
    if len(value) > MAX_TEXT or not _TEXT.fullmatch(value):
        raise errors.InvalidParameterValue(f"Invalid value '{value[:300]}' for {field}.")


@action("CreateSecurityGroup")
def create_security_group(ctx: RequestContext, params: Params) -> Result:
    name: str = params["GroupName"]
    description: str = params["Description"]
    if not name:
        raise errors.InvalidParameterValue("Invalid value '' for groupName.")
    if not description:
        raise errors.InvalidParameterValue("Invalid value '' for GroupDescription.")
    _check_text(name, "groupName")
    _check_text(description, "GroupDescription")
    if name == store.DEFAULT_GROUP:
        raise errors.InvalidGroupReserved("The security group 'default' is reserved")
    if name.lower().startswith("sg-"):
        raise errors.InvalidParameterValue("Group names may not be in the format sg-*.")
    if params.get("VpcId"):
        # EC2-Classic-like: there are no VPCs to create a group in.
        raise errors.InvalidVpcIdNotFound(f"The vpc ID '{params['VpcId']}' does not exist")
    tags = tags_from_specifications(params.get("TagSpecifications"), "security-group")
    group = store.create_group(ctx.session, ctx.account_id, name, description)
    if tags:
        set_tags(ctx.session, ctx.account_id, {group.id: "security-group"}, tags)
    return {"GroupId": group.id, "Tags": as_tag_list(tags), "SecurityGroupArn": _arn(ctx, group.id)}


def _arn(ctx: RequestContext, group_id: str) -> str:
    return f"arn:aws:ec2:{ctx.settings.region}:{ctx.account_id}:security-group/{group_id}"


@action("DeleteSecurityGroup")
def delete_security_group(ctx: RequestContext, params: Params) -> Result:
    group = store.find_group(ctx.session, ctx.account_id, params.get("GroupId"), params.get("GroupName"))
    if group.name == store.DEFAULT_GROUP:
        raise errors.CannotDelete(
            f'the specified group: "{group.id}" name: "default" cannot be deleted by a user'
        )
    store.lock_for_rule_change(ctx.session, group)
    users = store.referencing_groups(ctx.session, group.id)
    if users:
        raise errors.DependencyViolation(f"resource {group.id} has a dependent object")
    delete_all_for(ctx.session, ctx.account_id, group.id)
    ctx.session.delete(group)
    ctx.session.flush()
    return {"Return": True, "GroupId": group.id}


def _ip_filter(egress: bool, part: str) -> Any:
    def extract(group: SecurityGroup) -> list[object]:
        values: list[object] = []
        for rule in group.rules:
            if rule.is_egress != egress:
                continue
            if part == "protocol":
                values.append(rule.protocol)
            elif part in ("from-port", "to-port"):
                values.append(rule.from_port if part == "from-port" else rule.to_port)
            elif part == "cidr":
                values.append(rule.cidr_ipv4)
            elif part == "ipv6-cidr":
                values.append(rule.cidr_ipv6)
            elif part == "group-id":
                values.append(rule.peer_group_id)
            elif part == "user-id":
                values.append(rule.peer_account_id or group.account_id if rule.peer_group_id else None)
            elif part == "prefix-list-id":
                values.append(rule.prefix_list_id)
            elif part == "group-name":
                values.append(_peer_name(group, rule))
        return values

    return extract


def _peer_name(group: SecurityGroup, rule: SecurityGroupRule) -> str | None:
    """The name of the group a rule references, when it is one of the caller's own groups."""
    session = object_session(group)
    if not rule.peer_group_id or session is None:
        return None
    peer = session.get(SecurityGroup, rule.peer_group_id)
    return peer.name if peer is not None and peer.account_id == group.account_id else None


_FILTERS: dict[str, Any] = {
    "description": lambda g: g.description,
    "group-id": lambda g: g.id,
    "group-name": lambda g: g.name,
    "owner-id": lambda g: g.account_id,
    "vpc-id": lambda g: None,
}
for _prefix, _egress in (("ip-permission", False), ("egress.ip-permission", True)):
    for _part in ("protocol", "from-port", "to-port", "cidr", "ipv6-cidr", "group-id", "group-name",
                  "user-id", "prefix-list-id"):
        _FILTERS[f"{_prefix}.{_part}"] = _ip_filter(_egress, _part)


@action("DescribeSecurityGroups", mutating=False)
def describe_security_groups(ctx: RequestContext, params: Params) -> Result:
    group_ids: list[str] = params.get("GroupIds") or []
    names: list[str] = params.get("GroupNames") or []
    if (group_ids or names) and params.get("MaxResults") is not None:
        raise errors.InvalidParameterCombination(
            "The parameter groupIds or groupNames cannot be used with the parameter maxResults"
        )
    for gid in group_ids:
        store.check_group_id(gid)
    query = (select(SecurityGroup).where(SecurityGroup.account_id == ctx.account_id)
             .options(selectinload(SecurityGroup.rules)))
    if group_ids:
        query = query.where(SecurityGroup.id.in_(group_ids))
    if names:
        query = query.where(SecurityGroup.name.in_(names))
    groups = list(ctx.session.scalars(query))
    _require_found(groups, group_ids, names)
    tags = tags_by_resource(ctx.session, ctx.account_id, [g.id for g in groups])
    groups = apply_filters(groups, params.get("Filters"), _FILTERS, lambda g: tags[g.id])
    page, token = paginate(groups, lambda g: g.id, params.get("MaxResults"), params.get("NextToken"))
    peers = _peer_info(ctx, page)
    result: dict[str, Any] = {"SecurityGroups": [_describe(ctx, g, tags[g.id], peers) for g in page]}
    if token:
        result["NextToken"] = token
    return result


def _require_found(groups: list[SecurityGroup], group_ids: list[str], names: list[str]) -> None:
    have_ids = {g.id for g in groups}
    have_names = {g.name for g in groups}
    for gid in group_ids:
        if gid not in have_ids:
            raise errors.InvalidGroupNotFound(f"The security group '{gid}' does not exist")
    for name in names:
        if name not in have_names:
            raise errors.InvalidGroupNotFound(
                f"The security group '{name}' does not exist in default VPC 'none'"
            )


def _peer_info(ctx: RequestContext, groups: list[SecurityGroup]) -> dict[str, tuple[str, str]]:
    wanted = {r.peer_group_id for g in groups for r in g.rules if r.peer_group_id}
    if not wanted:
        return {}
    rows = ctx.session.execute(
        select(SecurityGroup.id, SecurityGroup.account_id, SecurityGroup.name)
        .where(SecurityGroup.id.in_(wanted))
    )
    # Names of other accounts' groups are not disclosed, as in EC2.
    return {gid: (owner, name if owner == ctx.account_id else "") for gid, owner, name in rows}


def _describe(ctx: RequestContext, group: SecurityGroup, tags: dict[str, str],
              peers: dict[str, tuple[str, str]]) -> dict[str, Any]:
    ingress = [r for r in group.rules if not r.is_egress]
    egress = [r for r in group.rules if r.is_egress]
    return {
        "GroupId": group.id,
        "GroupName": group.name,
        "Description": group.description,
        "OwnerId": group.account_id,
        "IpPermissions": group_permissions(ingress, peers),
        "IpPermissionsEgress": group_permissions(egress, peers),
        "Tags": as_tag_list(tags),
        "SecurityGroupArn": _arn(ctx, group.id),
    }


def _specs(ctx: RequestContext, params: Params) -> tuple[list[RuleSpec], dict[str, str]]:
    specs: list[RuleSpec] = []
    owners: dict[str, str] = {}
    for permission in permissions_from_params(params):
        literal, pending = expand(permission)
        specs.extend(literal)
        for spec, peer in pending:
            group_id, owner = store.resolve_peer(ctx.session, ctx.account_id, peer)
            owners[group_id] = owner
            specs.append(RuleSpec(**{**spec.__dict__, "peer_group_id": group_id}))
    if not specs:
        raise errors.MissingParameter("The request must contain the parameter ipPermissions")
    return specs, owners


def _rule_output(ctx: RequestContext, group: SecurityGroup, rule: SecurityGroupRule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "SecurityGroupRuleId": rule.id, "GroupId": group.id, "GroupOwnerId": group.account_id,
        "IsEgress": rule.is_egress, "IpProtocol": rule.protocol,
        "FromPort": -1 if rule.from_port is None else rule.from_port,
        "ToPort": -1 if rule.to_port is None else rule.to_port,
        "CidrIpv4": rule.cidr_ipv4, "CidrIpv6": rule.cidr_ipv6, "PrefixListId": rule.prefix_list_id,
        "Description": rule.description, "Tags": [],
        "SecurityGroupRuleArn":
            f"arn:aws:ec2:{ctx.settings.region}:{group.account_id}:security-group-rule/{rule.id}",
    }
    if rule.peer_group_id:
        out["ReferencedGroupInfo"] = {"GroupId": rule.peer_group_id,
                                      "UserId": rule.peer_account_id or group.account_id}
    return out


def _authorize(ctx: RequestContext, params: Params, egress: bool) -> Result:
    group = store.find_group(ctx.session, ctx.account_id, params.get("GroupId"), params.get("GroupName"))
    specs, owners = _specs(ctx, params)
    store.lock_for_rule_change(ctx.session, group, owners)
    rules = store.add_rules(ctx.session, group, egress, specs, peer_accounts=owners)
    return {"Return": True, "SecurityGroupRules": [_rule_output(ctx, group, r) for r in rules]}


def _revoke(ctx: RequestContext, params: Params, egress: bool) -> Result:
    group = store.find_group(ctx.session, ctx.account_id, params.get("GroupId"), params.get("GroupName"))
    store.lock_for_rule_change(ctx.session, group)
    rule_ids = params.get("SecurityGroupRuleIds") or []
    if rule_ids:
        if params.get("IpPermissions"):
            raise errors.InvalidParameterCombination(
                "The parameter 'securityGroupRuleIds' may not be used with 'ipPermissions'"
            )
        removed = store.remove_rules_by_id(ctx.session, group, egress, rule_ids)
        return {"Return": True, "RevokedSecurityGroupRules": [_revoked(r, group) for r in removed]}
    specs, owners = _specs(ctx, params)
    removed, unknown = store.remove_rules(ctx.session, group, egress, specs)
    if not removed:
        raise errors.InvalidPermissionNotFound(
            "The specified rule does not exist in this security group."
        )
    result: dict[str, Any] = {"Return": True,
                              "RevokedSecurityGroupRules": [_revoked(r, group) for r in removed]}
    if unknown:
        result["UnknownIpPermissions"] = group_permissions(
            unknown, {gid: (owner, "") for gid, owner in owners.items()})
    return result


def _revoked(rule: SecurityGroupRule, group: SecurityGroup) -> dict[str, Any]:
    return {"SecurityGroupRuleId": rule.id, "GroupId": group.id, "IsEgress": rule.is_egress,
            "IpProtocol": rule.protocol, "FromPort": rule.from_port, "ToPort": rule.to_port,
            "CidrIpv4": rule.cidr_ipv4, "CidrIpv6": rule.cidr_ipv6,
            "PrefixListId": rule.prefix_list_id, "ReferencedGroupId": rule.peer_group_id,
            "Description": rule.description}


@action("AuthorizeSecurityGroupIngress")
def authorize_security_group_ingress(ctx: RequestContext, params: Params) -> Result:
    return _authorize(ctx, params, egress=False)


@action("AuthorizeSecurityGroupEgress")
def authorize_security_group_egress(ctx: RequestContext, params: Params) -> Result:
    return _authorize(ctx, params, egress=True)


@action("RevokeSecurityGroupIngress")
def revoke_security_group_ingress(ctx: RequestContext, params: Params) -> Result:
    return _revoke(ctx, params, egress=False)


@action("RevokeSecurityGroupEgress")
def revoke_security_group_egress(ctx: RequestContext, params: Params) -> Result:
    return _revoke(ctx, params, egress=True)
