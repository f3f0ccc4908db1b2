"""The delivery job of server access logging: every pass, the entries gathered since the last
one become one log object per source bucket in its target bucket (owned by the target
bucket's owner, encrypted when the target's default encryption says so), and the logged
buckets' configurations are read again from the database."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller.db.models import Account, Bucket
from controller.logs import event
from controller.s3 import objects_store, stored_bytes
from controller.s3.access_log import AccessLog, Entry, record
from controller.s3.bucket_logging import log_object_grants
from controller.s3.encryption import Keys, default_of
from controller.s3.errors import S3Error
from storage.objects import BlobStore

log = logging.getLogger("ironbark.s3.access_log")

_HEADERS = json.dumps({"content-type": "text/plain"})

DELIVER_AT = 20_000
"""Entries waiting (all buckets) that start a delivery before the interval is over."""

RETRY_LIMIT = 100_000
"""Entries of one bucket kept for another try when delivery fails; older ones are dropped."""


def by_event_day(config: dict[str, Any]) -> bool:
    """Whether the log objects hold one day's events each (``PartitionDateSource:
    EventTime``) rather than what one delivery found."""
    partitioned = (config.get("TargetObjectKeyFormat") or {}).get("PartitionedPrefix")
    return partitioned is not None and partitioned.get("PartitionDateSource") == "EventTime"


def log_key(config: dict[str, Any], bucket: str, account_id: str, region: str,
            entries: list[Entry], now: datetime) -> str:
    """The log object's key: ``TargetPrefix`` then, by ``TargetObjectKeyFormat``,
    ``YYYY-mm-DD-HH-MM-SS-UNIQUE`` (SimplePrefix, the default) or
    ``ACCOUNT/REGION/BUCKET/YYYY/mm/DD/YYYY-mm-DD-HH-MM-SS-UNIQUE`` (PartitionedPrefix): dated
    by the delivery, or with ``PartitionDateSource: EventTime`` by the day of the events, with
    the time of day 00-00-00, as S3 names them."""
    prefix = config.get("TargetPrefix") or ""
    unique = secrets.token_hex(8).upper()
    partitioned = (config.get("TargetObjectKeyFormat") or {}).get("PartitionedPrefix")
    if partitioned is None:
        return f"{prefix}{now:%Y-%m-%d-%H-%M-%S}-{unique}"
    if by_event_day(config):
        day = entries[0].time.astimezone(UTC)
        name = f"{day:%Y-%m-%d}-00-00-00-{unique}"
    else:
        day, name = now, f"{now:%Y-%m-%d-%H-%M-%S}-{unique}"
    return f"{prefix}{account_id}/{region}/{bucket}/{day:%Y/%m/%d}/{name}"


def deliver_once(sessions: sessionmaker[Session], blobs: BlobStore, keys: Keys | None,
                 logs: AccessLog, now: datetime | None = None) -> int:
    """One pass; returns how many log objects it wrote."""
    pending = logs.take()
    with sessions() as session:
        logged = session.execute(select(Bucket.name, Bucket.logging)
                                 .where(Bucket.logging.is_not(None))).all()
    logs.replace({name: json.loads(config) for name, config in logged if config})
    written = 0
    for bucket, entries in pending.items():
        try:
            written += _deliver(sessions, blobs, keys, bucket, entries, now or datetime.now(UTC))
        except Exception:  # noqa: BLE001 - kept for the next pass, the others go on
            event(log, logging.ERROR, "access_log.delivery_failed", bucket=bucket,
                  entries=len(entries), exc_info=True)
            logs.give_back(bucket, entries[-RETRY_LIMIT:])
    return written


def _deliver(sessions: sessionmaker[Session], blobs: BlobStore, keys: Keys | None,
             bucket_name: str, entries: list[Entry], now: datetime) -> int:
    with sessions() as session:
        source = session.get(Bucket, bucket_name)
        config = json.loads(source.logging) if source is not None and source.logging else None
        target = session.get(Bucket, config["TargetBucket"]) if config is not None else None
        if source is None or config is None or target is None:
            # Logging was turned off, or the bucket or its target deleted, meanwhile: as in S3,
            # nothing is delivered.
            event(log, logging.INFO, "access_log.dropped", bucket=bucket_name,
                  entries=len(entries))
            return 0
        accounts = {source.account_id} | {e.requester_account for e in entries
                                          if e.requester_account is not None}
        canonical = {row.id: row.canonical_user_id for row in session.execute(
            select(Account.id, Account.canonical_user_id).where(Account.id.in_(accounts)))}
        sse = default_of(target.encryption)
        try:
            grants = log_object_grants(session, target, config)
        except S3Error:  # a grantee gone since: the log objects stay the owner's alone
            grants = None
    owner = canonical.get(source.account_id, "")
    daily = by_event_day(config)
    groups: dict[object, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.time.astimezone(UTC).date() if daily else None, []).append(entry)
    for group in groups.values():
        key = log_key(config, source.name, source.account_id, source.region, group, now)
        body = "".join(record(e, owner, canonical.get(e.requester_account or "")) + "\n"
                       for e in group).encode()
        _write(sessions, blobs, keys, target.name, key, body, sse, grants)
        event(log, logging.INFO, "access_log.delivered", bucket=bucket_name,
              target=target.name, key=key, entries=len(group))
    return len(groups)


def _write(sessions: sessionmaker[Session], blobs: BlobStore, keys: Keys | None,
           target: str, key: str, body: bytes, sse: str | None, grants: str | None) -> None:
    """One log object, owned by the target bucket's owner (``grants``: its stored ACL); none
    when the target was deleted since it was read: there is nothing to deliver to."""
    sealed, transform = stored_bytes.sealing(keys, sse)
    objects_store.write_object(sessions, blobs, target, key, body, transform,
                               headers=_HEADERS, acl=grants, **sealed)


async def access_log_loop(sessions: sessionmaker[Session], blobs: BlobStore, keys: Keys | None,
                          logs: AccessLog, every: float, deliver_at: int = DELIVER_AT) -> None:
    """Read the logged buckets at once, then deliver every ``every`` seconds (sooner once
    ``deliver_at`` entries wait: memory stays bounded under load), off the event loop,
    until cancelled; then once more, so that a clean stop delivers what was gathered."""
    tick = min(1.0, every)
    try:
        while True:
            try:
                await asyncio.to_thread(deliver_once, sessions, blobs, keys, logs)
            except Exception:  # noqa: BLE001 - a failed pass is logged and retried next time
                event(log, logging.ERROR, "access_log.pass_failed", exc_info=True)
            waited, kept = 0.0, logs.pending()  # kept: given back by a failed delivery
            while waited < every and logs.pending() - kept < deliver_at:
                await asyncio.sleep(tick)
                waited += tick
    except asyncio.CancelledError:
        try:
            deliver_once(sessions, blobs, keys, logs)
        except Exception:  # noqa: BLE001 - at shutdown: logged, nothing more to do
            event(log, logging.ERROR, "access_log.pass_failed", exc_info=True)
        raise
