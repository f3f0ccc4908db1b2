"""The settings of an ``ironbark up --with-node`` cloud on a real host whose node has a bridge
and subnet of its own (the host clean-up after it: ``test_instances_real_guest._clean_host``)."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def all_in_one_env(node_dir: Path, node_name: str, bridge: str, subnet: str,
                   gateway_cidr: str) -> dict[str, str]:
    """The metadata listener on: the node DNATs guests' 169.254.169.254:80 to its bridge
    gateway on ``metadata_port``, where the controller listens (on every address)."""
    metadata_port = free_port()
    return {"IRONBARK_WITH_NODE": "1", "IRONBARK_NODE_STATE_DIR": str(node_dir),
            "IRONBARK_NODE_PORT": str(free_port()), "IRONBARK_NODE_NODE_NAME": node_name,
            "IRONBARK_NODE_BRIDGE": bridge, "IRONBARK_NODE_GATEWAY_CIDR": gateway_cidr,
            "IRONBARK_NODE_METADATA_PORT": str(metadata_port),
            "IRONBARK_PRIVATE_SUBNET": subnet, "IRONBARK_METADATA_HOST": "0.0.0.0",
            "IRONBARK_METADATA_PORT": str(metadata_port)}
