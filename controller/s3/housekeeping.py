"""Background jobs of the object store: the reaper that frees what crashes leave behind."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from sqlalchemy import CompoundSelect, select, union
from sqlalchemy.orm import Session, sessionmaker

from controller.db.models import S3Object, UploadPart
from controller.logs import event
from storage.objects import BlobStore, ReapReport, reap

log = logging.getLogger("ironbark.s3.housekeeping")

REAP_EVERY = 600.0
TMP_OLDER_THAN = 3600.0  # a write in progress touches its temp file; an hour idle is a crash
BLOB_OLDER_THAN = 3600.0  # a blob committed to disk gets its SQL row within seconds


def referenced_blobs(sessions: sessionmaker[Session], blob_ids: Iterable[str]) -> set[str]:
    """The subset of ``blob_ids`` that an object version or an upload part still uses."""
    wanted = list(blob_ids)
    with sessions() as session:
        query: CompoundSelect[str] = union(
            select(S3Object.blob_id).where(S3Object.blob_id.in_(wanted)),
            select(UploadPart.blob_id).where(UploadPart.blob_id.in_(wanted)),
        )
        return {row[0] for row in session.execute(query)}


def reap_once(sessions: sessionmaker[Session], blobs: BlobStore,
              tmp_older_than: float = TMP_OLDER_THAN,
              blob_older_than: float = BLOB_OLDER_THAN) -> ReapReport:
    return reap(blobs, lambda ids: referenced_blobs(sessions, ids),
                tmp_older_than=tmp_older_than, blob_older_than=blob_older_than)


async def reaper_loop(sessions: sessionmaker[Session], blobs: BlobStore,
                      every: float = REAP_EVERY) -> None:
    """Reap at start and then every ``every`` seconds, off the event loop, until cancelled."""
    while True:
        try:
            await asyncio.to_thread(reap_once, sessions, blobs)
        except Exception:  # noqa: BLE001 - a failed sweep is logged and retried next time
            event(log, logging.ERROR, "reaper.failed", exc_info=True)
        await asyncio.sleep(every)
