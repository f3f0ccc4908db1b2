"""Security groups and their rules in the database: lookups, defaults, rule changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controller import ids
from controller.db.models import SecurityGroup, SecurityGroupRule
from controller.ec2 import errors
from controller.ec2.sg_rules import Peer, RuleSpec

DEFAULT_GROUP = "default"
MAX_RULES_PER_DIRECTION = 60
ALL_IPV4 = "0.0.0.0/0"


def create_group(
    session: Session, account_id: str, name: str, description: str, *, default_egress: bool = True
) -> SecurityGroup:
    if session.scalar(_by_name(account_id, name)) is not None:
        raise errors.InvalidGroupDuplicate(f"The security group '{name}' already exists")
    group = SecurityGroup(id=ids.new_resource_id("sg"), account_id=account_id, name=name,
                          description=description)
    session.add(group)
    try:
        session.flush()
    except IntegrityError:
        raise errors.InvalidGroupDuplicate(f"The security group '{name}' already exists") from None
    if default_egress:
        add_rules(session, group, True, [RuleSpec("-1", None, None, cidr_ipv4=ALL_IPV4)])
    return group


def create_default_group(session: Session, account_id: str) -> SecurityGroup:
    """Every account's ``default`` group: all traffic from its own members, all egress."""
    group = create_group(session, account_id, DEFAULT_GROUP, "default group")
    add_rules(session, group, False, [RuleSpec("-1", None, None, peer_group_id=group.id)],
              peer_accounts={group.id: account_id})
    return group


def _by_name(account_id: str, name: str) -> Select[SecurityGroup]:
    return select(SecurityGroup).where(SecurityGroup.account_id == account_id,
                                       SecurityGroup.name == name)


def check_group_id(group_id: str) -> None:
    if not ids.is_resource_id(group_id, "sg"):
        raise errors.InvalidGroupIdMalformed(f'Invalid id: "{group_id}" (expecting "sg-...")')


def find_group(session: Session, account_id: str, group_id: str | None,
               group_name: str | None) -> SecurityGroup:
    """The caller's group named by id (preferred) or name; the AWS NotFound error otherwise."""
    if group_id:
        check_group_id(group_id)
        group = session.get(SecurityGroup, group_id)
        if group is None or group.account_id != account_id:
            raise errors.InvalidGroupNotFound(f"The security group '{group_id}' does not exist")
        return group
    if group_name:
        found = session.scalar(_by_name(account_id, group_name))
        if found is None:
            raise errors.InvalidGroupNotFound(
                f"The security group '{group_name}' does not exist in default VPC 'none'"
            )
        return found
    raise errors.MissingParameter("The request must contain the parameter groupName or groupId")


def lock_for_rule_change(session: Session, group: SecurityGroup, peers: Iterable[str] = ()) -> None:
    """Serialise changes to ``group`` and to the groups its new rules name, until commit.

    A no-op UPDATE takes the row locks on PostgreSQL (in id order, so two requests never wait
    on each other crosswise) and the write lock on SQLite: racing requests cannot both find a
    rule missing, both pass the rule limit, or add a rule naming a group being deleted.
    """
    wanted = sorted({group.id, *peers})
    for group_id in wanted:
        locked = session.execute(
            update(SecurityGroup).where(SecurityGroup.id == group_id)
            .values(name=SecurityGroup.name).execution_options(synchronize_session=False)
        )
        if locked.rowcount == 0:  # type: ignore[attr-defined]
            raise errors.InvalidGroupNotFound(f"The security group '{group_id}' does not exist")
    session.expire(group, ["rules"])  # read them afresh, under the lock


def resolve_peer(session: Session, account_id: str, peer: Peer) -> tuple[str, str]:
    """A referenced group → (group id, owner account id). Other accounts' groups by id or owner+name."""
    owner = peer.user_id or account_id
    if peer.group_id:
        check_group_id(peer.group_id)
        group = session.get(SecurityGroup, peer.group_id)
        if group is None or (peer.user_id and group.account_id != peer.user_id):
            raise errors.InvalidGroupNotFound(f"The security group '{peer.group_id}' does not exist")
        return group.id, group.account_id
    if peer.group_name:
        group = session.scalar(_by_name(owner, peer.group_name))
        if group is None:
            raise errors.InvalidGroupNotFound(
                f"The security group '{peer.group_name}' does not exist"
            )
        return group.id, group.account_id
    raise errors.InvalidParameterValue("Invalid value: a group pair needs GroupId or GroupName")


def add_rules(session: Session, group: SecurityGroup, is_egress: bool, specs: Sequence[RuleSpec],
              peer_accounts: dict[str, str] | None = None) -> list[SecurityGroupRule]:
    """Add all of ``specs`` or none: any duplicate (existing or within the call) refuses all."""
    existing = {_identity(r): r for r in group.rules if r.is_egress == is_egress}
    seen: set[tuple[object, ...]] = set()
    for spec in specs:
        if spec.identity in seen:
            raise errors.InvalidParameterValue("The same permission must not appear multiple times")
        if spec.identity in existing:
            raise errors.InvalidPermissionDuplicate(
                f'the specified rule "{spec.describe()}" already exists'
            )
        seen.add(spec.identity)
    if len(existing) + len(specs) > MAX_RULES_PER_DIRECTION:
        raise errors.RulesPerSecurityGroupLimitExceeded()
    position = session.scalar(
        select(func.coalesce(func.max(SecurityGroupRule.position), 0))
        .where(SecurityGroupRule.group_id == group.id)
    ) or 0
    added = []
    for offset, spec in enumerate(specs, start=1):
        rule = SecurityGroupRule(
            id=ids.new_resource_id("sgr"), position=position + offset, is_egress=is_egress,
            protocol=spec.protocol, from_port=spec.from_port, to_port=spec.to_port,
            cidr_ipv4=spec.cidr_ipv4, cidr_ipv6=spec.cidr_ipv6, prefix_list_id=spec.prefix_list_id,
            peer_group_id=spec.peer_group_id,
            peer_account_id=(peer_accounts or {}).get(spec.peer_group_id or ""),
            description=spec.description,
        )
        group.rules.append(rule)
        added.append(rule)
    session.flush()
    return added


def _identity(rule: SecurityGroupRule) -> tuple[object, ...]:
    return (rule.protocol, rule.from_port, rule.to_port, rule.cidr_ipv4, rule.cidr_ipv6,
            rule.prefix_list_id, rule.peer_group_id)


def remove_rules(session: Session, group: SecurityGroup, is_egress: bool,
                 specs: Sequence[RuleSpec]) -> tuple[list[SecurityGroupRule], list[RuleSpec]]:
    """Remove the rules that exist; return (removed, specs that matched nothing)."""
    existing = {_identity(r): r for r in group.rules if r.is_egress == is_egress}
    removed: list[SecurityGroupRule] = []
    unknown: list[RuleSpec] = []
    for spec in specs:
        rule = existing.pop(spec.identity, None)
        if rule is None:
            unknown.append(spec)
        else:
            removed.append(rule)
    for rule in removed:
        group.rules.remove(rule)
    session.flush()
    return removed, unknown


def remove_rules_by_id(session: Session, group: SecurityGroup, is_egress: bool,
                       rule_ids: Sequence[str]) -> list[SecurityGroupRule]:
    by_id = {r.id: r for r in group.rules if r.is_egress == is_egress}
    for rule_id in rule_ids:
        if rule_id not in by_id:
            raise errors.InvalidSecurityGroupRuleIdNotFound(
                f"The security group rule ID '{rule_id}' does not exist"
            )
    removed = [by_id[rule_id] for rule_id in dict.fromkeys(rule_ids)]
    for rule in removed:
        group.rules.remove(rule)
    session.flush()
    return removed


def referencing_groups(session: Session, group_id: str) -> list[str]:
    """Ids of other groups whose rules name ``group_id``."""
    rows = session.scalars(
        select(SecurityGroupRule.group_id)
        .where(SecurityGroupRule.peer_group_id == group_id, SecurityGroupRule.group_id != group_id)
        .distinct()
    )
    return list(rows)
