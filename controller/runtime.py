"""The controller's long-lived parts, built once from settings: database, keys, endpoints."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from controller.cloudwatch.endpoint import CloudWatchEndpoint
from controller.config import Settings
from controller.db.engine import make_engine, make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.ec2.endpoint import Ec2Endpoint
from controller.identity.authenticate import Authenticator
from controller.identity.secretbox import SecretBox
from controller.logs import event
from controller.provisioning import bootstrap_admin
from controller.s3.access_log import AccessLog
from controller.s3.encryption import Keys
from controller.s3.endpoint import S3Endpoint
from controller.s3.website_endpoint import WebsiteEndpoint
from storage.objects import BlobStore

log = logging.getLogger("ironbark.runtime")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox
    ec2: Ec2Endpoint
    s3: S3Endpoint
    website: WebsiteEndpoint
    blobs: BlobStore
    cluster_token: str
    cloudwatch: CloudWatchEndpoint
    keys: Keys | None = None
    """Object keys for SSE-S3 (the endpoints hold them too; background jobs take them here)."""

    def close(self) -> None:
        self.engine.dispose()


def secret_box(settings: Settings) -> SecretBox:
    if settings.secret_key:
        return SecretBox(settings.secret_key.encode())
    return SecretBox.from_file(settings.secret_key_file)


def cluster_token(settings: Settings) -> str:
    """The configured cluster token, else the one in DATA/cluster-token (made 0600 once)."""
    if settings.cluster_token:
        return settings.cluster_token
    path = settings.cluster_token_file
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def build_runtime(settings: Settings, *, migrate: bool = True) -> Runtime:
    """Create the data directory, apply migrations, bootstrap the admin account."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings.effective_database_url)
    if migrate:
        upgrade(engine)
    sessions = make_session_factory(engine)
    box = secret_box(settings)
    keys = Keys(box.derivation_key(b"s3/sse-s3"))
    with transaction(sessions) as session:
        created = bootstrap_admin(session, box, settings.data_dir)
    if created:
        event(log, logging.INFO, "admin.bootstrapped", account=created.account_id)
    authenticator = Authenticator(box)
    blobs = BlobStore(settings.data_dir / "objects")
    logs = AccessLog()  # server access logs: the S3 and website endpoints feed one
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        box=box,
        ec2=Ec2Endpoint(settings, engine, sessions, authenticator, blobs, keys),
        s3=S3Endpoint(settings, engine, sessions, authenticator, blobs, keys, logs),
        website=WebsiteEndpoint(settings, engine, sessions, blobs, keys, logs),
        blobs=blobs,
        cluster_token=cluster_token(settings),
        cloudwatch=CloudWatchEndpoint(settings, sessions, authenticator),
        keys=keys,
    )
