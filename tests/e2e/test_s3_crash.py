"""Crash safety of S3 writes: the server is killed with SIGKILL mid-write and started again on
the same data directory and database. No partial object may ever show, and after the reaper
(``ironbark admin s3 reap``) the blob store holds exactly the blobs SQL references."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import select

from controller.db.engine import make_engine
from controller.db.models import S3Object, UploadPart
from tests.conftest import REGION, RestartableServer, Server

MIB = 1024 * 1024


def _s3(server: Server) -> Any:
    return boto3.client(
        "s3", region_name=REGION, endpoint_url=server.endpoint,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                      read_timeout=300),
        aws_access_key_id=server.admin.access_key_id,
        aws_secret_access_key=server.admin.secret_access_key)


def _tmp_dir(handle: RestartableServer) -> Path:
    return handle.data_dir / "objects" / "tmp"


def _tmp_bytes(handle: RestartableServer) -> int:
    return sum(p.stat().st_size for p in _tmp_dir(handle).iterdir() if p.is_file())


def _blob_files(handle: RestartableServer) -> dict[str, int]:
    root = handle.data_dir / "objects" / "blobs"
    return {p.name: p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _referenced(handle: RestartableServer) -> set[str]:
    engine = make_engine(handle.database_url)
    try:
        with engine.connect() as conn:
            objects = conn.scalars(select(S3Object.blob_id).where(S3Object.blob_id.is_not(None)))
            found = {str(b) for b in objects}
            found |= {str(b) for b in conn.scalars(select(UploadPart.blob_id))}
    finally:
        engine.dispose()
    return found


def _slow_body(total: int, fast: int, started: threading.Event,
               stop: threading.Event) -> Iterator[bytes]:
    """``fast`` bytes at once, then 1 MiB every 50 ms until ``stop``."""
    block = b"\xa5" * MIB
    sent = 0
    while sent < total and not stop.is_set():
        yield block
        sent += MIB
        if sent >= fast:
            started.set()
            time.sleep(0.05)


def _put_in_background(url: str, total: int, started: threading.Event,
                       stop: threading.Event) -> threading.Thread:
    def run() -> None:
        try:
            httpx.put(url, content=_slow_body(total, 32 * MIB, started, stop),
                      headers={"content-length": str(total)}, timeout=120, trust_env=False)
        except Exception:  # noqa: BLE001, S110 - the server died under us: the point
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def _reap_and_check_store(handle: RestartableServer) -> None:
    """After the reaper: no temp file, and the blob files are exactly what SQL references."""
    report = json.loads(handle.admin_command("s3", "reap", "--older-than", "0"))
    assert _list(_tmp_dir(handle)) == []
    assert set(_blob_files(handle)) == _referenced(handle)
    assert report["bytes_freed"] >= 0


def _list(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def test_kill_during_put(restartable_server: RestartableServer) -> None:
    handle = restartable_server
    assert handle.server is not None
    s3 = _s3(handle.server)
    bucket = f"crash-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="replaced", Body=b"the previous complete version")
    total = 200 * MIB
    started, stop = threading.Event(), threading.Event()
    threads = [
        _put_in_background(s3.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key}), total, started, stop)
        for key in ("fresh", "replaced")]
    _wait_for(lambda: started.is_set() and _tmp_bytes(handle) >= 48 * MIB, 60,
              "the uploads to reach the server's temp files")
    handle.kill()
    stop.set()
    for thread in threads:
        thread.join(30)
    assert _tmp_bytes(handle) > 0  # the kill did land mid-write

    s3 = _s3(handle.start())
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key="fresh")
    assert err.value.response["Error"]["Code"] == "404"
    got = s3.get_object(Bucket=bucket, Key="replaced")
    assert got["Body"].read() == b"the previous complete version"
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("replaced", 29)]
    _reap_and_check_store(handle)
    assert s3.get_object(Bucket=bucket, Key="replaced")["Body"].read() == \
        b"the previous complete version"


def _upload_parts(s3: Any, bucket: str, key: str, count: int, size: int) -> tuple[str, Any]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts, digests, whole = [], [], hashlib.md5()
    for number in range(1, count + 1):
        data = bytes([number]) * size
        whole.update(data)
        digests.append(hashlib.md5(data).digest())
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                              Body=data)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    etag = f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{count}"'
    return upload_id, (parts, etag, whole.hexdigest(), count * size)


def _check_complete(s3: Any, bucket: str, key: str, etag: str, md5: str, size: int) -> None:
    head = s3.head_object(Bucket=bucket, Key=key)
    assert (head["ETag"], head["ContentLength"]) == (etag, size)
    digest = hashlib.md5()
    for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(MIB):
        digest.update(chunk)
    assert digest.hexdigest() == md5


def test_kill_during_complete_multipart(restartable_server: RestartableServer) -> None:
    handle = restartable_server
    assert handle.server is not None
    s3 = _s3(handle.server)
    bucket = f"crash-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    upload_id, (parts, etag, md5, size) = _upload_parts(s3, bucket, "big", 8, 20 * MIB)
    assert _list(_tmp_dir(handle)) == []

    def complete() -> None:
        try:
            s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload_id,
                                         MultipartUpload={"Parts": parts})
        except Exception:  # noqa: BLE001, S110 - the server died under us
            pass

    thread = threading.Thread(target=complete, daemon=True)
    thread.start()
    _wait_for(lambda: _tmp_bytes(handle) > 0 or not thread.is_alive(), 60,
              "the concatenation to start")
    assert thread.is_alive(), "CompleteMultipartUpload finished before the kill could land"
    handle.kill()
    thread.join(30)

    s3 = _s3(handle.start())
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    if uploads:  # not committed: no object, and the upload completes again
        assert [u["UploadId"] for u in uploads] == [upload_id]
        assert listed == []
        done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload_id,
                                            MultipartUpload={"Parts": parts})
        assert done["ETag"] == etag
    else:  # committed just before the kill: the whole object
        assert [(o["Key"], o["Size"]) for o in listed] == [("big", size)]
    _check_complete(s3, bucket, "big", etag, md5, size)
    _reap_and_check_store(handle)
    _check_complete(s3, bucket, "big", etag, md5, size)


def test_reaper_keeps_live_data(restartable_server: RestartableServer) -> None:
    """An interrupted upload's parts, an overwritten object and a kill leave the store exact."""
    handle = restartable_server
    assert handle.server is not None
    s3 = _s3(handle.server)
    bucket = f"crash-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"1" * 1000)
    s3.put_object(Bucket=bucket, Key="a", Body=b"2" * 1000)
    upload_id, _ = _upload_parts(s3, bucket, "open", 2, 5 * MIB)
    stray = handle.data_dir / "objects" / "blobs" / "ff" / "ff"
    stray.mkdir(parents=True, exist_ok=True)
    (stray / ("f" * 32)).write_bytes(b"lost between disk and SQL")
    handle.kill()
    s3 = _s3(handle.start())
    _reap_and_check_store(handle)
    assert ("f" * 32) not in _blob_files(handle)
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"2" * 1000
    parts = s3.list_parts(Bucket=bucket, Key="open", UploadId=upload_id)["Parts"]
    assert [p["Size"] for p in parts] == [5 * MIB, 5 * MIB]
