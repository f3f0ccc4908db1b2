"""Private IPv4 addresses for instances, from their zone's subnet (``Settings.subnet_of``:
``zone_subnets``, else ``private_subnet``).

An address belongs to an instance until it is terminated (the column is then cleared); the
unique index on ``instances.private_ip`` makes a duplicate impossible even if two placements
raced. The network address, the first host (the node bridge's gateway) and the broadcast
address are never handed out. An address in use anywhere is never given again, even when two
zones' subnets overlap (or share ``private_subnet``). MAC addresses are derived from the address,
so they are unique too.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.db.models import Instance


def allocate(session: Session, subnet: str, count: int) -> list[str]:
    """Up to ``count`` free addresses, lowest first."""
    network = ipaddress.ip_network(subnet)
    used = set(session.scalars(select(Instance.private_ip)
                               .where(Instance.private_ip.is_not(None))))
    out: list[str] = []
    hosts = network.hosts()
    next(hosts, None)  # the gateway
    for host in hosts:
        if len(out) == count:
            break
        text = str(host)
        if text not in used:
            out.append(text)
    return out


def mac_of(address: str) -> str:
    """``d0:0d:`` + the four bytes of the address (Eucalyptus's scheme)."""
    packed = ipaddress.IPv4Address(address).packed
    return "d0:0d:" + ":".join(f"{b:02x}" for b in packed)


def private_dns_name(address: str | None, region: str) -> str:
    if not address:
        return ""
    host = "ip-" + address.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"
