"""An operator's instance-type catalog (``IRONBARK_INSTANCE_TYPES``) replaces the default."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server, running_server

CUSTOM = [{"name": "tiny.one", "vcpus": 1, "memory_mib": 64},
          {"name": "big.box", "vcpus": 8, "memory_mib": 32768, "disk_gib": 100}]


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(db_backend, tmp_path_factory,
                        {"IRONBARK_INSTANCE_TYPES": json.dumps(CUSTOM)}) as srv:
        yield srv


def test_operator_catalog_replaces_the_default(ec2: Any) -> None:
    types = {t["InstanceType"]: t for t in ec2.describe_instance_types()["InstanceTypes"]}
    assert set(types) == {"tiny.one", "big.box"}
    assert types["big.box"]["InstanceStorageInfo"]["Disks"] == [
        {"SizeInGB": 100, "Count": 1, "Type": "hdd"}]
