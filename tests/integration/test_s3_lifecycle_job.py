"""The lifecycle pass against a real database and blob store, with a fixed "now" and real days:
tag filters, midnight rounding, batches, blobs freed, a broken configuration survived."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from controller.db.engine import make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.db.models import Bucket, MultipartUpload, S3Object, UploadPart
from controller.identity.secretbox import SecretBox
from controller.identity.service import create_account
from controller.s3 import lifecycle_job
from controller.s3.lifecycle_job import run_pass
from storage.objects import BlobStore

CREATED = datetime(2024, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sessions(fresh_engine: Engine) -> sessionmaker[Session]:
    upgrade(fresh_engine)
    return make_session_factory(fresh_engine)


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "objects")


def _bucket(sessions: sessionmaker[Session], rules: list[dict[str, Any]] | str,
            versioning: str | None = None) -> str:
    name = f"lcj-{time.time_ns()}"
    lifecycle = rules if isinstance(rules, str) else json.dumps({"Rules": rules})
    with transaction(sessions) as session:
        creds = create_account(session, SecretBox(Fernet.generate_key()),
                               f"l{os.getpid()}{time.time_ns()}")
        session.add(Bucket(name=name, account_id=creds.account_id, region="us-east-1",
                           versioning=versioning, lifecycle=lifecycle))
    return name


def _object(sessions: sessionmaker[Session], blobs: BlobStore, bucket: str, key: str,
            tags: dict[str, str] | None = None, when: datetime = CREATED) -> str:
    with blobs.writer() as writer:
        writer.write(b"data")
        blob_id = writer.commit().blob_id
    with transaction(sessions) as session:
        owner = session.get_one(Bucket, bucket).account_id
        session.add(S3Object(bucket=bucket, key=key, version_id="null", is_latest=True,
                             blob_id=blob_id, size=4, etag='"x"', owner_account_id=owner,
                             last_modified=when, tags=json.dumps(tags) if tags else None))
    return blob_id


def _keys(sessions: sessionmaker[Session], bucket: str) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(S3Object.key).where(S3Object.bucket == bucket)
                                    .order_by(S3Object.key)))


def test_tags_and_midnight_rounding(sessions: sessionmaker[Session], blobs: BlobStore) -> None:
    bucket = _bucket(sessions, [{"ID": "t", "Status": "Enabled",
                                 "Filter": {"Tag": {"Key": "temp", "Value": "yes"}},
                                 "Expiration": {"Days": 2}}])
    gone = _object(sessions, blobs, bucket, "a", {"temp": "yes", "x": "y"})
    kept = _object(sessions, blobs, bucket, "b", {"temp": "no"})
    _object(sessions, blobs, bucket, "c")
    # Created the 10th at 15:00: two days later is the 12th at 15:00, rounded up to the 13th.
    run_pass(sessions, blobs, 86400, now=datetime(2024, 3, 12, 23, 59, tzinfo=UTC))
    assert _keys(sessions, bucket) == ["a", "b", "c"]
    report = run_pass(sessions, blobs, 86400, now=datetime(2024, 3, 13, tzinfo=UTC))
    assert report.actions.get("expired") == 1
    assert _keys(sessions, bucket) == ["b", "c"]
    assert not blobs.exists(gone) and blobs.exists(kept)


def test_batches_cover_every_key(sessions: sessionmaker[Session], blobs: BlobStore,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle_job, "BATCH", 3)
    bucket = _bucket(sessions, [{"ID": "all", "Status": "Enabled", "Filter": {},
                                 "Expiration": {"Days": 1}}])
    for n in range(10):
        _object(sessions, blobs, bucket, f"k{n:02}")
    report = run_pass(sessions, blobs, 86400, now=CREATED + timedelta(days=5))
    assert report.actions.get("expired") == 10 and _keys(sessions, bucket) == []


def test_a_broken_configuration_does_not_stop_the_others(
        sessions: sessionmaker[Session], blobs: BlobStore) -> None:
    broken = _bucket(sessions, "{not json")
    bucket = _bucket(sessions, [{"ID": "all", "Status": "Enabled", "Filter": {},
                                 "Expiration": {"Days": 1}}])
    _object(sessions, blobs, bucket, "k")
    report = run_pass(sessions, blobs, 86400, now=CREATED + timedelta(days=5))
    assert broken in report.failed_buckets
    assert _keys(sessions, bucket) == []


def test_uploads_are_aborted_with_their_parts(sessions: sessionmaker[Session],
                                              blobs: BlobStore) -> None:
    bucket = _bucket(sessions, [{"ID": "mpu", "Status": "Enabled", "Filter": {"Prefix": "u"},
                                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}])
    with blobs.writer() as writer:
        writer.write(b"part")
        part = writer.commit().blob_id
    with transaction(sessions) as session:
        owner = session.get_one(Bucket, bucket).account_id
        for upload_id, key in [(f"{bucket}-1", "u/1"), (f"{bucket}-2", "v/2")]:
            session.add(MultipartUpload(upload_id=upload_id, bucket=bucket, key=key,
                                        owner_account_id=owner, initiated=CREATED))
        session.flush()
        session.add(UploadPart(upload_id=f"{bucket}-1", part_number=1, blob_id=part, size=4,
                               etag='"p"'))
    report = run_pass(sessions, blobs, 86400, now=datetime(2024, 3, 12, tzinfo=UTC))
    assert report.actions.get("upload_aborted") == 1
    with sessions() as session:
        left = session.scalars(select(MultipartUpload.key)
                               .where(MultipartUpload.bucket == bucket)).all()
    assert left == ["v/2"] and not blobs.exists(part)
