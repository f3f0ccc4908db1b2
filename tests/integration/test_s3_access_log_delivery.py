"""The access log delivery job on both backends: log objects land in the target bucket with
the target owner's ownership and S3's record lines; a full log is delivered before its
interval; entries of a bucket whose logging was turned off are dropped; a cancelled job
delivers what it holds."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from controller.db.engine import make_session_factory
from controller.db.models import Bucket, S3Object
from controller.s3.access_log import AccessLog, Entry
from controller.s3.access_log_delivery import access_log_loop, deliver_once
from storage.objects import BlobStore
from tests.integration.conftest import seeded

OWNER = "555566667777"
CONFIG = {"TargetBucket": "dl-target", "TargetPrefix": "logs/"}


@pytest.fixture(scope="module")
def engine(fresh_engine: Engine) -> Engine:
    return seeded(fresh_engine, OWNER, "delivery", "e" * 64,
                  Bucket(name="dl-target", account_id=OWNER, region="us-east-1"),
                  Bucket(name="dl-source", account_id=OWNER, region="us-east-1",
                         logging=json.dumps(CONFIG)),
                  Bucket(name="dl-off", account_id=OWNER, region="us-east-1"))


@pytest.fixture(scope="module")
def blobs(tmp_path_factory: pytest.TempPathFactory) -> BlobStore:
    return BlobStore(tmp_path_factory.mktemp("objects"))


def _entry(bucket: str, n: int) -> Entry:
    return Entry(bucket=bucket, time=datetime.now(UTC), remote_ip="127.0.0.1",
                 requester_account=OWNER, request_id=f"R{n}", operation="REST.PUT.OBJECT",
                 key=f"k{n}", request_uri=f"PUT /{bucket}/k{n} HTTP/1.1", status=200,
                 error_code=None, bytes_sent=None, object_size=3, total_ms=1, turnaround_ms=1,
                 referer=None, user_agent="test", version_id=None, signature_version="SigV4",
                 auth_type="AuthHeader", host="h", secure=False)


def _log_lines(engine: Engine, blobs: BlobStore) -> list[str]:
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(S3Object).where(S3Object.bucket == "dl-target")).all()
        assert all(r.owner_account_id == OWNER and r.key.startswith("logs/") for r in rows)
        blob_ids = [r.blob_id for r in rows]
    lines: list[str] = []
    for blob_id in blob_ids:
        assert blob_id is not None
        with blobs.open(blob_id) as source:
            lines += source.read().decode().splitlines()
    return lines


def test_delivery_drops_unlogged_buckets_and_writes_records(engine: Engine,
                                                            blobs: BlobStore) -> None:
    logs = AccessLog()
    logs.add(_entry("dl-source", 1))
    logs.add(_entry("dl-off", 2))  # its logging is off (e.g. turned off since): dropped
    sessions = make_session_factory(engine)
    assert deliver_once(sessions, blobs, None, logs) == 1
    assert logs.config("dl-source") == CONFIG and logs.config("dl-off") is None
    lines = _log_lines(engine, blobs)
    assert len(lines) == 1 and lines[0].startswith("e" * 64 + " dl-source [")
    assert " R1 REST.PUT.OBJECT k1 " in lines[0]
    assert logs.pending() == 0


def test_a_full_log_is_delivered_early_and_the_rest_at_cancel(engine: Engine,
                                                              blobs: BlobStore) -> None:
    logs = AccessLog()
    sessions = make_session_factory(engine)

    async def scenario() -> None:
        job = asyncio.create_task(access_log_loop(sessions, blobs, None, logs, every=3600,
                                                  deliver_at=5))
        await asyncio.sleep(0.5)  # the first pass (configurations) is done
        for n in range(5):
            logs.add(_entry("dl-source", 100 + n))
        for _ in range(100):
            await asyncio.sleep(0.1)
            if logs.pending() == 0:
                break
        assert logs.pending() == 0, "five entries were not delivered before the interval"
        logs.add(_entry("dl-source", 200))
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job

    asyncio.run(scenario())
    with make_session_factory(engine)() as session:
        keys = session.scalars(select(S3Object.key).where(S3Object.bucket == "dl-target")).all()
    assert len(keys) >= 3  # the first test's, the early delivery's, the cancel's
    ids = {line.split(" ")[6] for line in _log_lines(engine, blobs)}  # the time holds a space
    assert {f"R{100 + n}" for n in range(5)} | {"R200"} <= ids
