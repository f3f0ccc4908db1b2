"""Test harness: real server processes on SQLite and PostgreSQL, and the clients that drive them.

``server`` is parametrized by ``db_backend`` (ids ``sqlite``, ``pg``), so one run covers both
databases; ``IRONBARK_TEST_BACKENDS=sqlite`` narrows it. Each PostgreSQL user gets
a fresh database. PostgreSQL unreachable fails the tests, or skips them with
``IRONBARK_TEST_ALLOW_SKIP_PG=1``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from unittest import mock

import boto3
import httpx
import pytest
from boto.ec2.connection import EC2Connection
from boto.ec2.regioninfo import RegionInfo
from botocore.config import Config

from controller.identity.service import Credentials

REGION = "us-east-1"
BACKEND_IDS = {"sqlite": "sqlite", "postgresql": "pg"}
PG_ADMIN_URL = os.environ.get("IRONBARK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
AWS_CLI = Path(sys.executable).parent / "aws"
_ERROR_CODE = re.compile(r"An error occurred \(([^)]+)\)")


def _backend_params() -> list[Any]:
    wanted = os.environ.get("IRONBARK_TEST_BACKENDS", "sqlite,postgresql")
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BACKEND_IDS))
    if unknown or not names:
        raise pytest.UsageError(f"IRONBARK_TEST_BACKENDS: unknown {unknown}; use sqlite,postgresql")
    marks = {"sqlite": [], "postgresql": [pytest.mark.postgres]}
    return [pytest.param(name, id=BACKEND_IDS[name], marks=marks[name]) for name in names]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    e2e_dir = Path(__file__).parent / "e2e"
    for item in items:
        if e2e_dir in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards, even with sessions still open."""
    import psycopg

    name = f"ironbark_t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {str(exc).strip()}"
        if os.environ.get("IRONBARK_TEST_ALLOW_SKIP_PG") == "1":
            pytest.skip(message)
        pytest.fail(f"{message}\n(IRONBARK_TEST_ALLOW_SKIP_PG=1 skips, "
                    "IRONBARK_TEST_BACKENDS=sqlite leaves PostgreSQL out)", pytrace=False)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{PG_ADMIN_URL.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _database(db_backend: str, directory: Path) -> Iterator[str]:
    """SQLite: a file in ``directory`` (the server's default). PostgreSQL: a fresh database."""
    if db_backend == "sqlite":
        yield f"sqlite:///{directory / 'ironbark.db'}"
    else:
        with fresh_pg_database() as url:
            yield url


@pytest.fixture(scope="module", params=_backend_params())
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _hermetic_env() -> dict[str, str]:
    """The environment minus every ``IRONBARK_<setting>``: the harness configures its servers."""
    from controller.config import Settings

    drop = {f"IRONBARK_{name.upper()}" for name in Settings.model_fields}
    return {k: v for k, v in os.environ.items() if k.upper() not in drop}


@dataclass
class Server:
    """A running ``ironbark up`` process, and in-process access to its database."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    database_url: str
    log_path: Path
    admin: Credentials = field(init=False)
    _engine: Any = None
    _sessions: Any = None
    _box: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def fail(self, what: str) -> NoReturn:
        tail = "\n".join(self.log_text().splitlines()[-40:])
        pytest.fail(f"server {what}; log tail ({self.log_path}):\n{tail}", pytrace=False)

    def new_account(self, name: str | None = None) -> Credentials:
        """Provision an account straight in the server's database, as ``ironbark admin`` does."""
        from controller.config import load_settings
        from controller.db.engine import make_engine, make_session_factory, transaction
        from controller.provisioning import provision_account
        from controller.runtime import secret_box

        if self._sessions is None:
            with mock.patch.dict(os.environ, _hermetic_env(), clear=True):
                settings = load_settings(data_dir=self.data_dir, database_url=self.database_url)
            self._engine = make_engine(self.database_url)
            self._sessions = make_session_factory(self._engine)
            self._box = secret_box(settings)
        with transaction(self._sessions) as session:
            return provision_account(session, self._box, name or f"t-{uuid.uuid4().hex[:12]}")

    def close_db(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _healthy(endpoint: str) -> bool:
    try:
        reply = httpx.get(endpoint + "_ironbark/health", timeout=2, trust_env=False)
        return reply.status_code == 200 and reply.json() == {"status": "ok"}
    except (httpx.HTTPError, ValueError):
        return False


def _start(data_dir: Path, database_url: str, pg: bool) -> Server:
    """Start a server and wait for its health check; retry when another process took the port."""
    env = _hermetic_env() | ({"IRONBARK_DATABASE_URL": database_url} if pg else {})
    for attempt in range(3):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        log_path = data_dir / f"server-{attempt}.log"
        command = [sys.executable, "-m", "controller.cli.main", "up", "--data-dir", str(data_dir),
                   "--host", "127.0.0.1", "--port", str(port)]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, env=env)
        server = Server(process, port, data_dir, database_url, log_path)
        deadline = time.monotonic() + START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if _healthy(server.endpoint):
                return server
            time.sleep(0.1)
        if process.poll() is None:
            process.kill()
            process.wait()
            server.fail(f"not healthy after {START_TIMEOUT:.0f} s")
        if "address already in use" not in server.log_text().lower():
            server.fail(f"exited with status {process.returncode} while starting")
    pytest.fail("no free port for the server after 3 attempts", pytrace=False)


def _stop(server: Server) -> None:
    """SIGTERM, then insist on a graceful exit within STOP_TIMEOUT (killing it if none comes)."""
    server.process.send_signal(signal.SIGTERM)
    try:
        status = server.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        server.fail(f"ignored SIGTERM for {STOP_TIMEOUT:.0f} s")
    # 0, or death by the SIGTERM that uvicorn re-raises once its graceful shutdown is done.
    if status not in (0, -signal.SIGTERM):
        server.fail(f"exited with status {status} on SIGTERM")


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real ``ironbark up`` process for the test module, on the current database backend."""
    data_dir = tmp_path_factory.mktemp(f"server-{BACKEND_IDS[db_backend]}")
    with _database(db_backend, data_dir) as url:
        srv = _start(data_dir, url, pg=db_backend == "postgresql")
        try:
            creds = json.loads((data_dir / "admin-credentials.json").read_text())
            srv.admin = Credentials(creds["account_id"], "admin", creds["user"],
                                    creds["access_key_id"], creds["secret_access_key"])
            yield srv
        finally:
            srv.close_db()
            _stop(srv)


class AwsCliError(Exception):
    """The AWS CLI exited non-zero; ``stderr`` holds ``An error occurred (CODE) ...``."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"aws {' '.join(args)} exited {returncode}: {stderr.strip()}")
        self.returncode, self.stderr = returncode, stderr
        self.code = match.group(1) if (match := _ERROR_CODE.search(stderr)) else None


AwsCli = Callable[..., Any]


def _aws_cli(endpoint: str, creds: Credentials) -> AwsCli:
    env = {k: v for k, v in _hermetic_env().items() if not k.startswith("AWS_")} | {
        "AWS_ACCESS_KEY_ID": creds.access_key_id,
        "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_MAX_ATTEMPTS": "1",
    }

    def aws(*args: str, timeout: float = 60) -> Any:
        command = [str(AWS_CLI), "--endpoint-url", endpoint, "--region", REGION,
                   "--output", "json", *args]
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout, check=False)
        if done.returncode != 0:
            raise AwsCliError(list(args), done.returncode, done.stderr)
        return json.loads(done.stdout) if done.stdout.strip() else None

    return aws


def _ec2_client(endpoint: str, creds: Credentials) -> Any:
    return boto3.session.Session().client(
        "ec2", region_name=REGION, endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}),
        aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key)


def _boto2_connection(port: int, creds: Credentials) -> EC2Connection:
    region = RegionInfo(name=REGION, endpoint="127.0.0.1")
    return EC2Connection(creds.access_key_id, creds.secret_access_key, region=region,
                         port=port, is_secure=False, path="/")


@pytest.fixture
def account(server: Server) -> Credentials:
    """A fresh account for one test, so that tests never see each other's resources."""
    return server.new_account()


@pytest.fixture
def make_ec2(server: Server) -> Callable[[Credentials], Any]:
    """Clients of other accounts: ``make_ec2(server.new_account())``; likewise the two below."""
    return lambda creds: _ec2_client(server.endpoint, creds)


@pytest.fixture
def make_aws(server: Server) -> Callable[[Credentials], AwsCli]:
    return lambda creds: _aws_cli(server.endpoint, creds)


@pytest.fixture
def make_boto2(server: Server) -> Callable[[Credentials], EC2Connection]:
    return lambda creds: _boto2_connection(server.port, creds)


@pytest.fixture
def ec2(server: Server, account: Credentials) -> Any:
    """A boto3 EC2 client of the test's own account, retries off."""
    return _ec2_client(server.endpoint, account)


@pytest.fixture
def aws(server: Server, account: Credentials) -> AwsCli:
    """``aws("ec2", "describe-key-pairs")`` as the test's account: parsed JSON, or None."""
    return _aws_cli(server.endpoint, account)


@pytest.fixture
def boto2(server: Server, account: Credentials) -> EC2Connection:
    """A boto 2 ``EC2Connection`` of the test's own account."""
    return _boto2_connection(server.port, account)
