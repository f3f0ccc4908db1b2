"""Hostile input never makes a 500: keys and parameters that XML or UTF-8 cannot carry get
S3 error documents that parse."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from lxml import etree

from controller.identity.service import Credentials
from tests.conftest import Server
from tests.e2e.signing import signed


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"hos-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_nul_in_a_key_gets_a_well_formed_error(server: Server, account: Credentials,
                                               bucket: str, method: str) -> None:
    reply = signed(account, method, f"{server.endpoint}{bucket}/a%00b?object-lock")
    assert 400 <= reply.status_code < 500 or reply.status_code == 501, reply.text
    root = etree.fromstring(reply.content)
    assert root.findtext("Resource") == f"/{bucket}/a%00b"


def test_parameters_that_are_not_utf8(server: Server, account: Credentials,
                                      bucket: str) -> None:
    reply = signed(account, "GET", f"{server.endpoint}{bucket}?list-type=2&start-after=%FF")
    assert reply.status_code == 400
    assert etree.fromstring(reply.content).findtext("Code") == "InvalidArgument"
