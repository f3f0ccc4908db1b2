"""The lifecycle job: applies every bucket's Enabled lifecycle rules, in bounded batches.

Per bucket it expires current versions (through :func:`objects_store.remove`, exactly as
DeleteObject: the object goes in an unversioned bucket, a delete marker is added otherwise),
moves current versions to the storage class a due Transition names, deletes noncurrent
versions past NoncurrentDays (keeping NewerNoncurrentVersions) and moves those a due
NoncurrentVersionTransition names, removes expired object delete markers, and aborts old
incomplete multipart uploads (through :func:`multipart.abort_upload`). What expires or moves
is decided by :mod:`lifecycle_rules`.

Each batch is one short transaction; blobs are deleted after it commits. A failure is logged
and the bucket is retried on the next pass; the loop itself never dies of it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session, sessionmaker

from controller.db.models import Bucket, MultipartUpload, S3Object, utcnow
from controller.ids import new_request_id
from controller.logs import event
from controller.s3 import errors, storage_classes
from controller.s3 import objects_store as store
from controller.s3.access_log import AccessLog, lifecycle_entry
from controller.s3.lifecycle_rules import (
    Rule,
    Version,
    current_expired,
    current_transition,
    marker_expired,
    noncurrent_expired,
    noncurrent_transitions,
    rules_from_json,
    tags_of,
    upload_expired,
)
from controller.s3.multipart import abort_upload
from storage.objects import BlobStore

log = logging.getLogger("ironbark.s3.lifecycle")
BATCH = 200


@dataclass
class PassReport:
    """What one pass did, by action (``expired``, ``noncurrent_expired``, ...)."""

    actions: dict[str, int] = field(default_factory=dict)
    failed_buckets: list[str] = field(default_factory=list)


@dataclass
class _Batch:
    """One transaction's work: blobs to free, rows looked at, where to go on, what was done."""

    freed: list[str] = field(default_factory=list)
    scanned: int = 0
    last: str = ""
    done: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Pass:
    sessions: sessionmaker[Session]
    blobs: BlobStore
    day_seconds: int
    now: datetime
    report: PassReport
    stop: threading.Event
    logs: AccessLog | None = None
    """Server access logging: each action is a record in its bucket's log, if it has one."""

    def batches(self, work: Callable[[Session, str], _Batch]) -> None:
        """Run ``work`` batch after batch, each in its own transaction, until a short batch;
        blobs are freed and actions logged only once their batch has committed."""
        after = ""
        while not self.stop.is_set():
            batch = store.with_retry(self.sessions, functools.partial(_swap, work, after))
            for blob in batch.freed:
                self.blobs.delete(blob)
            for action in batch.done:
                self._access_log(action)
                name = action.pop("action")
                self.report.actions[name] = self.report.actions.get(name, 0) + 1
                event(log, logging.INFO, f"lifecycle.{name}", **action)
            if batch.scanned < BATCH:
                return
            after = batch.last

    def _access_log(self, action: dict[str, Any]) -> None:
        if self.logs is None or self.logs.config(str(action["bucket"])) is None:
            return
        entry = lifecycle_entry(action, new_request_id())
        if entry is not None:
            self.logs.add(entry)


def _swap(work: Callable[[Session, str], _Batch], after: str, session: Session) -> _Batch:
    return work(session, after)


def run_pass(sessions: sessionmaker[Session], blobs: BlobStore, day_seconds: int,
             now: datetime | None = None, stop: threading.Event | None = None,
             logs: AccessLog | None = None) -> PassReport:
    """One pass over every bucket with a lifecycle configuration (``logs``: server access
    logging, which records the actions in logged buckets)."""
    job = _Pass(sessions, blobs, day_seconds, now or utcnow(), PassReport(),
                stop or threading.Event(), logs)
    with sessions() as session:
        configured = session.execute(
            select(Bucket.name, Bucket.lifecycle).where(Bucket.lifecycle.is_not(None))
            .order_by(Bucket.name)).all()
    for name, text in configured:
        if job.stop.is_set():
            break
        try:
            rules = [rule for rule in rules_from_json(text) if rule.enabled]
            if rules:
                _bucket_pass(job, name, rules)
        except Exception:  # noqa: BLE001 - one bucket's failure must not stop the others
            job.report.failed_buckets.append(name)
            event(log, logging.ERROR, "lifecycle.bucket_failed", bucket=name, exc_info=True)
    return job.report


def _bucket_pass(job: _Pass, name: str, rules: list[Rule]) -> None:
    expiring = [r for r in rules if r.expiration_days is not None or r.expiration_date]
    moving = [r for r in rules if r.transitions]
    versions = [r for r in rules if r.noncurrent_days is not None or r.noncurrent_transitions
                or r.expired_object_delete_marker or r in expiring]
    aborting = [r for r in rules if r.abort_days is not None and not r.tags]
    if expiring:
        _expire_current(job, name, expiring)
    if moving:
        _transition_current(job, name, moving)
    if versions:
        job.batches(lambda session, after: _versions_batch(job, session, name, versions, after))
    if aborting:
        _abort_uploads(job, name, aborting)


def _prefixes(rules: Sequence[Rule], column: Any) -> ColumnElement[bool]:
    """SQL narrowing to the keys under some rule's prefix (everything when one has none)."""
    prefixes = {rule.prefix for rule in rules}
    if "" in prefixes:
        return true()
    return or_(*(column.startswith(prefix, autoescape=True) for prefix in sorted(prefixes)))


def _cutoff(job: _Pass, days: Sequence[int | None], dates: Sequence[datetime | None]
            ) -> datetime | None:
    """The latest start (last-modified, initiation) that could have expired by now; None when
    nothing can have (an ``after_days`` result is never earlier than ``start + days``)."""
    candidates = [job.now - timedelta(seconds=d * job.day_seconds) for d in days
                  if d is not None]
    candidates += [job.now for d in dates if d is not None and d <= job.now]
    return max(candidates) if candidates else None


def _version(row: S3Object) -> Version:
    return Version(row.version_id, row.last_modified, row.size, tags_of(row.tags),
                   row.delete_marker, row.storage_class)


def _move(row: S3Object, storage_class: str) -> None:
    """A lifecycle transition: the version's class changes, and a restored copy of it (it was
    archived) is gone, as the copy S3 made stays in the class the version leaves."""
    row.storage_class, row.restored_until = storage_class, None


def _current_batch(session: Session, name: str, rules: list[Rule], after: str,
                   cutoff: datetime) -> Sequence[S3Object]:
    """The next batch of current versions (no delete markers) after key ``after`` under some
    rule's prefix, written at ``cutoff`` or before."""
    return session.scalars(
        select(S3Object).where(
            S3Object.bucket == name, S3Object.is_latest.is_(True),
            S3Object.delete_marker.is_(False), S3Object.key > after,
            S3Object.last_modified <= cutoff, _prefixes(rules, S3Object.key))
        .order_by(S3Object.key).limit(BATCH)).all()


def _expire_current(job: _Pass, name: str, rules: list[Rule]) -> None:
    cutoff = _cutoff(job, [r.expiration_days for r in rules], [r.expiration_date for r in rules])
    if cutoff is None:
        return

    def work(session: Session, after: str) -> _Batch:
        batch = _Batch(last=after)
        bucket = session.get(Bucket, name)
        if bucket is None:
            return batch
        rows = _current_batch(session, name, rules, after, cutoff)
        for row in rows:
            rule_id = current_expired(rules, row.key, _version(row), job.now, job.day_seconds)
            if rule_id is None:
                continue
            removal = store.remove(session, bucket, row.key, None, bucket.account_id)
            batch.freed += removal.freed
            batch.done.append({
                "action": "expired", "bucket": name, "key": row.key, "rule": rule_id,
                "version": row.version_id,
                "delete_marker": removal.version_id if removal.delete_marker else None})
        batch.scanned, batch.last = len(rows), rows[-1].key if rows else after
        return batch

    job.batches(work)


def _transition_current(job: _Pass, name: str, rules: list[Rule]) -> None:
    moves = [move for rule in rules for move in rule.transitions]
    cutoff = _cutoff(job, [m.days for m in moves], [m.date for m in moves])
    if cutoff is None:
        return

    def work(session: Session, after: str) -> _Batch:
        batch = _Batch(last=after)
        rows = _current_batch(session, name, rules, after, cutoff)
        for row in rows:
            move = current_transition(rules, row.key, _version(row), job.now, job.day_seconds)
            if move is None:
                continue
            batch.done.append({"action": "transitioned", "bucket": name, "key": row.key,
                               "rule": move[1], "version": row.version_id,
                               "was": storage_classes.name(row.storage_class), "now": move[0]})
            _move(row, move[0])
        batch.scanned, batch.last = len(rows), rows[-1].key if rows else after
        return batch

    job.batches(work)


def _versions_batch(job: _Pass, session: Session, name: str, rules: list[Rule],
                    after: str) -> _Batch:
    """Keys with noncurrent versions or a delete marker: their expired versions go."""
    batch = _Batch(last=after)
    bucket = session.get(Bucket, name)
    if bucket is None:
        return batch
    keys = session.scalars(
        select(S3Object.key).distinct().where(
            S3Object.bucket == name, S3Object.key > after, _prefixes(rules, S3Object.key),
            or_(S3Object.is_latest.is_(False), S3Object.delete_marker.is_(True)))
        .order_by(S3Object.key).limit(BATCH)).all()
    for key in keys:
        _expire_key(job, session, bucket, key, rules, batch)
    batch.scanned, batch.last = len(keys), keys[-1] if keys else after
    return batch


def _expire_key(job: _Pass, session: Session, bucket: Bucket, key: str, rules: list[Rule],
                batch: _Batch) -> None:
    rows = session.scalars(
        select(S3Object).where(S3Object.bucket == bucket.name, S3Object.key == key)
        .order_by(S3Object.is_latest.desc(), S3Object.id.desc())).all()
    versions = [_version(row) for row in rows]
    doomed = noncurrent_expired(rules, key, versions, job.now, job.day_seconds)
    kept: set[str] = set()
    for version_id, rule_id in doomed.items():
        try:
            removal = store.remove(session, bucket, key, version_id, bucket.account_id)
        except errors.AccessDenied:  # Object Lock holds it: expired later, or never
            kept.add(version_id)
            continue
        batch.freed += removal.freed
        batch.done.append({"action": "noncurrent_expired", "bucket": bucket.name, "key": key,
                           "rule": rule_id, "version": version_id})
    left = [version for version in versions
            if version.version_id not in doomed or version.version_id in kept]
    moving = noncurrent_transitions(rules, key, left, job.now, job.day_seconds)
    for row in rows:
        if row.version_id in moving:
            target, rule_id = moving[row.version_id]
            batch.done.append({"action": "noncurrent_transitioned", "bucket": bucket.name,
                               "key": key, "rule": rule_id, "version": row.version_id,
                               "was": storage_classes.name(row.storage_class), "now": target})
            _move(row, target)
    marker_rule = marker_expired(rules, key, left, job.now, job.day_seconds)
    if marker_rule is not None:
        store.remove(session, bucket, key, left[0].version_id, bucket.account_id)
        batch.done.append({"action": "delete_marker_expired", "bucket": bucket.name,
                           "key": key, "rule": marker_rule, "version": left[0].version_id})


def _abort_uploads(job: _Pass, name: str, rules: list[Rule]) -> None:
    cutoff = _cutoff(job, [r.abort_days for r in rules], [])
    if cutoff is None:
        return

    def work(session: Session, after: str) -> _Batch:
        batch = _Batch(last=after)
        uploads = session.scalars(
            select(MultipartUpload).where(
                MultipartUpload.bucket == name, MultipartUpload.upload_id > after,
                MultipartUpload.initiated <= cutoff, _prefixes(rules, MultipartUpload.key))
            .order_by(MultipartUpload.upload_id).limit(BATCH)).all()
        for upload in uploads:
            rule_id = upload_expired(rules, upload.key, upload.initiated, job.now,
                                     job.day_seconds)
            if rule_id is None:
                continue
            batch.done.append({"action": "upload_aborted", "bucket": name, "key": upload.key,
                               "upload_id": upload.upload_id, "rule": rule_id})
            batch.freed += abort_upload(session, upload)
        batch.scanned = len(uploads)
        batch.last = uploads[-1].upload_id if uploads else after
        return batch

    job.batches(work)


async def lifecycle_loop(sessions: sessionmaker[Session], blobs: BlobStore, day_seconds: int,
                         every: float, logs: AccessLog | None = None) -> None:
    """A pass at start and then every ``every`` seconds, off the event loop, until cancelled
    (a pass in progress stops after its current batch)."""
    stop = threading.Event()
    try:
        while True:
            try:
                await asyncio.to_thread(run_pass, sessions, blobs, day_seconds, None, stop, logs)
            except Exception:  # noqa: BLE001 - a failed pass is logged and retried next time
                event(log, logging.ERROR, "lifecycle.failed", exc_info=True)
            await asyncio.sleep(every)
    finally:
        stop.set()
