"""Test harness: real server processes on SQLite and PostgreSQL, and the clients that drive them.

``server`` is parametrized by ``db_backend`` (ids ``sqlite``, ``pg``), so one run covers both
databases; ``IRONBARK_TEST_BACKENDS=sqlite`` narrows it. Each server gets a fresh PostgreSQL
database; PostgreSQL unreachable fails, or skips with ``IRONBARK_TEST_ALLOW_SKIP_PG=1``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from unittest import mock

import boto3
import botocore.session
import httpx
import psycopg
import pytest
from botocore.config import Config

with warnings.catch_warnings():  # boto 2 vendors an old six that warns on import
    warnings.simplefilter("ignore", ImportWarning)
    from boto.ec2.connection import EC2Connection
    from boto.ec2.regioninfo import RegionInfo
    from boto.s3.connection import OrdinaryCallingFormat, S3Connection

from controller.config import Settings, load_settings
from controller.db.engine import make_engine, make_session_factory, transaction
from controller.identity.service import Credentials

REGION = "us-east-1"
BACKEND_IDS = {"sqlite": "sqlite", "postgresql": "pg"}
PG_ADMIN_URL = os.environ.get("IRONBARK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
AwsCli = Callable[..., Any]  # aws("ec2", "describe-regions", ...) -> parsed JSON or None


def _backend_params() -> list[Any]:
    wanted = os.environ.get("IRONBARK_TEST_BACKENDS", "sqlite,postgresql")
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    if not names or set(names) - set(BACKEND_IDS):
        raise pytest.UsageError(f"IRONBARK_TEST_BACKENDS={wanted!r}: want sqlite and/or postgresql")
    marks = {"sqlite": [], "postgresql": [pytest.mark.postgres]}
    return [pytest.param(name, id=BACKEND_IDS[name], marks=marks[name]) for name in names]


def pytest_configure(config: pytest.Config) -> None:
    # boto 2's vendored six hooks imports; every later optional import that fails then warns.
    config.addinivalue_line("filterwarnings", r"ignore:_SixMetaPathImporter\.find_spec:ImportWarning")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    e2e = Path(__file__).parent / "e2e"
    for item in (item for item in items if e2e in item.path.parents):
        item.add_marker(pytest.mark.e2e)


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards, even with sessions still open."""
    name = f"ironbark_t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {str(exc).strip()}"
        if os.environ.get("IRONBARK_TEST_ALLOW_SKIP_PG") == "1":
            pytest.skip(message)
        pytest.fail(f"{message}\n(IRONBARK_TEST_ALLOW_SKIP_PG=1 skips these tests)", pytrace=False)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{PG_ADMIN_URL.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def host_tests_unavailable(message: str) -> NoReturn:
    """Skip a test that needs the host (root, libvirt, QEMU, bridges), or fail it when
    ``IRONBARK_REQUIRE_HOST_TESTS=1`` (CI: a missing hypervisor must not look like a pass)."""
    if os.environ.get("IRONBARK_REQUIRE_HOST_TESTS") == "1":
        pytest.fail(f"{message}\n(IRONBARK_REQUIRE_HOST_TESTS=1 makes this a failure)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module", params=_backend_params())
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _hermetic_env() -> dict[str, str]:
    """The environment minus every ``IRONBARK_<setting>``: the harness configures its servers."""
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
    _db: Any = None  # (engine, session factory, secret box), made by the first new_account()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def banner_text(self) -> str:
        """What ``ironbark up`` printed on stdout: the endpoint and the admin credentials."""
        return self.log_path.with_suffix(".out").read_text(errors="replace")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def fail(self, what: str) -> NoReturn:
        tail = "\n".join(self.log_text().splitlines()[-40:])
        pytest.fail(f"server {what}; log tail ({self.log_path}):\n{tail}", pytrace=False)

    def _database(self) -> Any:
        """(engine, session factory, secret box) of the server's database, made once."""
        from controller.runtime import secret_box

        if self._db is None:
            with mock.patch.dict(os.environ, _hermetic_env(), clear=True):
                settings = load_settings(data_dir=self.data_dir, database_url=self.database_url)
            engine = make_engine(self.database_url)
            self._db = (engine, make_session_factory(engine), secret_box(settings))
        return self._db

    def new_account(self, name: str | None = None) -> Credentials:
        """Provision an account straight in the server's database, as ``ironbark admin`` does."""
        from controller.provisioning import provision_account

        _, sessions, box = self._database()
        with transaction(sessions) as session:
            return provision_account(session, box, name or f"t-{uuid.uuid4().hex[:12]}")

    def account_credentials(self, name: str) -> Credentials:
        """The first active access key of an existing account (by name), from the database."""
        from controller.cli.admin import active_credentials

        _, sessions, box = self._database()
        with transaction(sessions) as session:
            return active_credentials(session, box, name)


def _wait_healthy(server: Server) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while server.process.poll() is None:
        try:
            reply = httpx.get(server.endpoint + "_ironbark/health", timeout=2, trust_env=False)
            if reply.status_code == 200 and reply.json() == {"status": "ok"}:
                return True
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() > deadline:
            server.fail(f"not healthy after {START_TIMEOUT:.0f} s")
        time.sleep(0.1)
    return False


def _start(data_dir: Path, database_url: str, pg: bool, extra_env: dict[str, str]) -> Server:
    """Start a server and wait for its health check; retry when another process took the port."""
    # No metadata listener unless a test asks for one: the well-known port is shared by the
    # whole machine (a real guest's metadata redirect points there). No demo image either
    # (tests count images; tests/e2e/test_up_with_node.py switches it on).
    env = (_hermetic_env() | {"IRONBARK_METADATA_PORT": "0", "IRONBARK_DEMO_IMAGE": "off"}
           | ({"IRONBARK_DATABASE_URL": database_url} if pg else {}) | extra_env)
    for attempt in range(3):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        log_path = data_dir / f"server-{attempt}.log"
        command = [sys.executable, "-m", "controller.cli.main", "up", "--data-dir", str(data_dir),
                   "--host", "127.0.0.1", "--port", str(port)]
        # stderr carries the structured log; stdout the banner with the admin credentials.
        with log_path.open("wb") as log, log_path.with_suffix(".out").open("wb") as out:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=log, env=env)
        server = Server(process, port, data_dir, database_url, log_path)
        try:
            if _wait_healthy(server):
                return server
        except BaseException:
            process.kill()
            process.wait()
            raise
        if "address already in use" not in server.log_text().lower():
            server.fail(f"exited with status {process.returncode} while starting")
    pytest.fail("no free port for the server after 3 attempts", pytrace=False)


def _stop(server: Server) -> None:
    """SIGTERM; insist on a graceful exit (status 0) within STOP_TIMEOUT."""
    server.process.send_signal(signal.SIGTERM)
    try:
        status = server.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        server.fail(f"ignored SIGTERM for {STOP_TIMEOUT:.0f} s")
    if status != 0:
        server.fail(f"exited with status {status} on SIGTERM")


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real ``ironbark up`` process for the test module, on the current database backend."""
    with running_server(db_backend, tmp_path_factory) as srv:
        yield srv


@contextmanager
def running_server(db_backend: str, tmp_path_factory: pytest.TempPathFactory,
                   extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """A real server, with extra ``IRONBARK_*`` settings if given: a test module that overrides
    ``server`` with one runs every client fixture against that specially configured server."""
    data_dir = tmp_path_factory.mktemp(f"server-{BACKEND_IDS[db_backend]}")
    sqlite = f"sqlite:///{data_dir / 'ironbark.db'}"  # the server's default database
    with nullcontext(sqlite) if db_backend == "sqlite" else fresh_pg_database() as url:
        srv = _start(data_dir, url, pg=db_backend == "postgresql", extra_env=extra_env or {})
        try:
            creds = json.loads((data_dir / "admin-credentials.json").read_text())
            srv.admin = Credentials(creds["account_id"], "admin", creds["user"],
                                    creds["access_key_id"], creds["secret_access_key"])
            yield srv
        finally:
            if srv._db is not None:
                srv._db[0].dispose()
            _stop(srv)


class AwsCliError(Exception):
    """The AWS CLI exited non-zero; ``stderr`` holds ``An error occurred (CODE) ...``."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"aws {' '.join(args)} exited {returncode}: {stderr.strip()}")
        self.returncode, self.stderr = returncode, stderr
        match = re.search(r"An error occurred \(([^)]+)\)", stderr)
        self.code = match.group(1) if match else None


@functools.cache
def _boto3_session() -> boto3.session.Session:
    """One session for the run: it caches botocore's loaded EC2 model (~0.5 s per new session)."""
    return boto3.session.Session(botocore_session=botocore.session.Session())


class Clients:
    """Builds clients of any account for one test, and closes their connections after it."""

    def __init__(self, server: Server, stack: ExitStack) -> None:
        self.server, self.stack = server, stack

    def ec2(self, creds: Credentials) -> Any:
        client = _boto3_session().client(
            "ec2", region_name=REGION, endpoint_url=self.server.endpoint,
            config=Config(retries={"max_attempts": 1}), aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key)
        self.stack.callback(client.close)
        return client

    def aws(self, creds: Credentials) -> AwsCli:
        env = {k: v for k, v in _hermetic_env().items() if not k.startswith("AWS_")}
        env |= {"AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_MAX_ATTEMPTS": "1",
                "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
        head = ["--endpoint-url", self.server.endpoint, "--region", REGION, "--output", "json"]

        def aws(*args: str, timeout: float = 60) -> Any:
            rc, stdout, stderr = _AWS_CLI.run([*head, *args], env, timeout)
            if rc != 0:
                raise AwsCliError(list(args), rc, stderr)
            return json.loads(stdout) if stdout.strip() else None

        return aws

    def s3(self, creds: Credentials) -> Any:
        """A boto3 S3 client (path-style addressing, retries off)."""
        client = _boto3_session().client(
            "s3", region_name=REGION, endpoint_url=self.server.endpoint,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
            aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key)
        self.stack.callback(client.close)
        return client

    def boto2_s3(self, creds: Credentials) -> S3Connection:
        """A boto 2 S3 connection: path-style (OrdinaryCallingFormat), Signature V2 headers."""
        conn = S3Connection(creds.access_key_id, creds.secret_access_key, host="127.0.0.1",
                            port=self.server.port, is_secure=False,
                            calling_format=OrdinaryCallingFormat())
        conn.num_retries = 0
        pools = conn._pool.host_to_pool
        self.stack.callback(lambda: [c.close() for p in pools.values() for c, _ in p.queue])
        return conn

    def boto2(self, creds: Credentials) -> EC2Connection:
        conn = EC2Connection(creds.access_key_id, creds.secret_access_key, is_secure=False, path="/",
                             port=self.server.port, region=RegionInfo(name=REGION, endpoint="127.0.0.1"))
        conn.num_retries = 0  # one attempt, as for boto3 and the AWS CLI: errors show at once
        pools = conn._pool.host_to_pool  # boto 2's close() leaves its pooled sockets open
        self.stack.callback(lambda: [c.close() for p in pools.values() for c, _ in p.queue])
        return conn


@pytest.fixture
def make_s3(clients: Clients) -> Callable[[Credentials], Any]:
    return clients.s3


@pytest.fixture
def s3(clients: Clients, account: Credentials) -> Any:
    """A boto3 S3 client of the test's own account."""
    return clients.s3(account)


@pytest.fixture
def boto2_s3(clients: Clients, account: Credentials) -> S3Connection:
    """A boto 2 S3 connection of the test's own account."""
    return clients.boto2_s3(account)


class _AwsCliProcess:
    """One long-lived process running the real AWS CLI driver per command (tests/awscli_worker.py):
    the CLI runs out of process, with each command's own environment, without paying Python's
    start-up for every call."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            env = {k: v for k, v in _hermetic_env().items() if not k.startswith("AWS_")}
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.awscli_worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parent.parent)
        return self._process

    def run(self, args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str]:
        process = self._start()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps({"args": args, "env": env}) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        if not ready:
            self.close()
            raise subprocess.TimeoutExpired(["aws", *args], timeout)
        reply = json.loads(process.stdout.readline())
        return int(reply["rc"]), str(reply["stdout"]), str(reply["stderr"])

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for pipe in (self._process.stdin, self._process.stdout):
                if pipe is not None:
                    pipe.close()
            self._process = None


_AWS_CLI = _AwsCliProcess()


@pytest.fixture(scope="session", autouse=True)
def _close_aws_cli() -> Iterator[None]:
    yield
    _AWS_CLI.close()


@pytest.fixture
def clients(server: Server) -> Iterator[Clients]:
    """``clients.ec2(creds)``, ``clients.aws(creds)``, ``clients.boto2(creds)`` for any account."""
    with ExitStack() as stack:
        yield Clients(server, stack)


@pytest.fixture
def account(server: Server) -> Credentials:
    """A fresh account for one test, so that tests never see each other's resources."""
    return server.new_account()


@pytest.fixture
def make_ec2(clients: Clients) -> Callable[[Credentials], Any]:
    """boto3 EC2 clients of other accounts: ``make_ec2(server.new_account())``."""
    return clients.ec2


@pytest.fixture
def make_boto2(clients: Clients) -> Callable[[Credentials], EC2Connection]:
    """boto 2 connections of other accounts: ``make_boto2(server.new_account())``."""
    return clients.boto2


@pytest.fixture
def ec2(clients: Clients, account: Credentials) -> Any:
    """A boto3 EC2 client of the test's own account, retries off."""
    return clients.ec2(account)


@pytest.fixture
def aws(clients: Clients, account: Credentials) -> AwsCli:
    """``aws("ec2", "describe-key-pairs")`` as the test's account: parsed JSON, or None."""
    return clients.aws(account)


@pytest.fixture
def boto2(clients: Clients, account: Credentials) -> EC2Connection:
    """A boto 2 ``EC2Connection`` of the test's own account, retries off."""
    return clients.boto2(account)


@dataclass
class RestartableServer:
    """A server that can be killed with SIGKILL and started again on the same data directory
    and database (each start gets a new port: read ``server.endpoint`` again after it)."""

    data_dir: Path
    database_url: str
    pg: bool
    server: Server | None = None

    def start(self) -> Server:
        assert self.server is None or self.server.process.poll() is not None
        self.server = _start(self.data_dir, self.database_url, self.pg, {})
        creds = json.loads((self.data_dir / "admin-credentials.json").read_text())
        self.server.admin = Credentials(creds["account_id"], "admin", creds["user"],
                                        creds["access_key_id"], creds["secret_access_key"])
        return self.server

    def stop(self) -> None:
        """SIGTERM, and a graceful exit insisted on."""
        assert self.server is not None
        _stop(self.server)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a power cut of the process."""
        assert self.server is not None
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait()

    def admin_command(self, *args: str) -> str:
        """``ironbark admin ARGS`` on this data directory and database; its stdout."""
        command = [sys.executable, "-m", "controller.cli.main", "admin", *args,
                   "--data-dir", str(self.data_dir), "--database-url", self.database_url]
        done = subprocess.run(command, env=_hermetic_env(), capture_output=True, text=True,
                              timeout=120, check=False)
        if done.returncode != 0:
            pytest.fail(f"ironbark admin {' '.join(args)}: {done.stderr}", pytrace=False)
        return done.stdout


@pytest.fixture
def restartable_server(db_backend: str, tmp_path_factory: pytest.TempPathFactory,
                       ) -> Iterator[RestartableServer]:
    """A server of its own for one test, which may SIGKILL and restart it."""
    data_dir = tmp_path_factory.mktemp(f"crash-{BACKEND_IDS[db_backend]}")
    sqlite = f"sqlite:///{data_dir / 'ironbark.db'}"
    with nullcontext(sqlite) if db_backend == "sqlite" else fresh_pg_database() as url:
        handle = RestartableServer(data_dir, url, pg=db_backend == "postgresql")
        handle.start()
        try:
            yield handle
        finally:
            if handle.server is not None and handle.server.process.poll() is None:
                _stop(handle.server)
