"""CloudWatch clients for the end-to-end tests: boto3 (rpc-v2-cbor, what the pinned botocore
picks), boto3 forced onto the JSON protocol (a copy of the model listing only ``json``), and
boto 2's ``CloudWatchConnection`` (Query)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from boto.ec2.cloudwatch import CloudWatchConnection
from boto.regioninfo import RegionInfo
from botocore.config import Config
from botocore.loaders import Loader

from controller.identity.service import Credentials
from tests.conftest import REGION, Server


def boto3_client(server: Server, creds: Credentials, protocol_dir: Path | None = None) -> Any:
    session = botocore.session.Session()
    if protocol_dir is not None:
        session.set_config_variable("data_path", str(protocol_dir))
    return boto3.session.Session(botocore_session=session).client(
        "cloudwatch", region_name=REGION, endpoint_url=server.endpoint,
        config=Config(retries={"max_attempts": 1}), aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key)


def model_with_protocol(root: Path, protocol: str) -> Path:
    """A data directory whose cloudwatch model lists only ``protocol``."""
    model = Loader().load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocol"] = protocol
    model["metadata"]["protocols"] = [protocol]
    target = root / "cloudwatch" / str(model["metadata"]["apiVersion"])
    target.mkdir(parents=True, exist_ok=True)
    (target / "service-2.json").write_text(json.dumps(model))
    return root


def boto2_client(server: Server, creds: Credentials) -> CloudWatchConnection:
    conn = CloudWatchConnection(creds.access_key_id, creds.secret_access_key, is_secure=False,
                                port=server.port, path="/",
                                region=RegionInfo(name=REGION, endpoint="127.0.0.1"))
    conn.num_retries = 0
    return conn


def close_boto2(conn: CloudWatchConnection) -> None:
    """boto 2's close() leaves its pooled sockets open."""
    for pool in conn._pool.host_to_pool.values():
        for connection, _ in pool.queue:
            connection.close()
