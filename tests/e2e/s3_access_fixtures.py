"""Fixtures shared by the S3 access-control tests: a second account, an unsigned client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from controller.identity.service import Credentials
from tests.conftest import REGION, Clients, Server, _boto3_session


@pytest.fixture
def other_account(server: Server) -> Credentials:
    return server.new_account()


@pytest.fixture
def other(clients: Clients, other_account: Credentials) -> Any:
    """A boto3 S3 client of a second account."""
    return clients.s3(other_account)


@pytest.fixture
def anon(server: Server) -> Iterator[Any]:
    """A boto3 S3 client that signs nothing (anonymous requests)."""
    client = _boto3_session().client(
        "s3", region_name=REGION, endpoint_url=server.endpoint,
        config=Config(signature_version=botocore.UNSIGNED, s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}))
    yield client
    client.close()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"acc-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def status(err: pytest.ExceptionInfo[ClientError]) -> int:
    return int(err.value.response["ResponseMetadata"]["HTTPStatusCode"])


def canonical(client: Any) -> str:
    """The caller's canonical user id, as ListBuckets shows it."""
    return str(client.list_buckets()["Owner"]["ID"])


def denied(call: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert (code(err), status(err)) == ("AccessDenied", 403), err.value.response
