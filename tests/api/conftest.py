"""In-process API tests: the ASGI app with its runtime, driven by an HTTP client, signed by botocore."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from starlette.testclient import TestClient

from controller.app import create_app
from controller.config import Settings, load_settings
from controller.db.engine import transaction
from controller.identity.service import Credentials
from controller.provisioning import provision_account
from controller.runtime import Runtime, build_runtime
from tests.conftest import _hermetic_env, fresh_pg_database

ENDPOINT = "http://testserver/"


@dataclass
class Api:
    client: TestClient
    runtime: Runtime

    def new_account(self, name: str | None = None) -> Credentials:
        import uuid

        with transaction(self.runtime.sessions) as session:
            return provision_account(session, self.runtime.box, name or f"a-{uuid.uuid4().hex[:10]}")

    def signed(self, creds: Credentials, params: dict[str, str], *, region: str = "us-east-1",
               service: str = "ec2", headers: dict[str, str] | None = None,
               secret: str | None = None, when: datetime | None = None, path: str = "/") -> Any:
        """POST a Query request signed with Signature V4 by botocore (at ``when``, default now)."""
        body = urlencode(params)
        request = AWSRequest(method="POST", url=ENDPOINT.rstrip("/") + path, data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})})
        key = BotoCredentials(creds.access_key_id, secret or creds.secret_access_key)
        with mock.patch("botocore.auth.get_current_datetime", lambda: when or datetime.now(UTC)):
            SigV4Auth(key, service, region).add_auth(request)
        return self.client.post(path, content=body, headers=dict(request.headers.items()))


def _settings(data_dir: Path, url: str) -> Settings:
    with mock.patch.dict(os.environ, _hermetic_env(), clear=True):
        return load_settings(data_dir=data_dir, database_url=url)


@pytest.fixture(scope="module")
def api(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("api")
    if db_backend == "sqlite":
        url = f"sqlite:///{data_dir / 'ironbark.db'}"
        yield from _api(data_dir, url)
    else:
        with fresh_pg_database() as url:
            yield from _api(data_dir, url)


def _api(data_dir: Path, url: str) -> Iterator[Api]:
    settings = _settings(data_dir, url)
    runtime = build_runtime(settings)
    with TestClient(create_app(settings, runtime), base_url="http://testserver") as client:
        yield Api(client, runtime)
    runtime.close()


@pytest.fixture
def creds(api: Api) -> Credentials:
    return api.new_account()
