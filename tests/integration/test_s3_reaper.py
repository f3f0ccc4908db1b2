"""The object-store reaper against a real database: orphans go, referenced blobs stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controller.db.engine import make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.db.models import Bucket, S3Object
from controller.identity.secretbox import SecretBox
from controller.identity.service import create_account
from controller.s3.housekeeping import reap_once, referenced_blobs
from storage.objects import BlobStore


@pytest.fixture(scope="module")
def engine(fresh_engine: Engine) -> Engine:
    upgrade(fresh_engine)
    return fresh_engine


def _blob(store: BlobStore, data: bytes, age: float) -> str:
    with store.writer() as writer:
        writer.write(data)
        info = writer.commit()
    old = time.time() - age
    os.utime(store.path(info.blob_id), (old, old))
    return info.blob_id


def test_reaper_frees_orphans_and_keeps_what_sql_references(engine: Engine, tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    sessions = make_session_factory(engine)
    store = BlobStore(tmp_path / "objects")
    kept = _blob(store, b"k" * 1000, age=7200)
    orphan = _blob(store, b"o" * 3000, age=7200)
    young = _blob(store, b"y" * 10, age=0)
    with transaction(sessions) as session:
        creds = create_account(session, SecretBox(Fernet.generate_key()), f"r{os.getpid()}{time.time_ns()}")
        name = f"reap-{time.time_ns()}"
        session.add(Bucket(name=name, account_id=creds.account_id, region="us-east-1"))
        session.flush()
        session.add(S3Object(bucket=name, key="k", version_id="null", is_latest=True,
                             blob_id=kept, size=1000, etag='"x"',
                             owner_account_id=creds.account_id))
    assert referenced_blobs(sessions, [kept, orphan, young]) == {kept}
    report = reap_once(sessions, store)
    assert (report.blobs_removed, report.bytes_freed) == (1, 3000)
    assert store.exists(kept) and store.exists(young) and not store.exists(orphan)
