"""Removing what crashes and lost races leave behind.

- temp files older than a threshold (writes that crashed), unless a live writer still holds
  the temp file's lock;
- blobs older than a threshold that SQL does not reference (overwritten objects whose delete
  was lost, losers of concurrent PUTs, blobs committed to disk whose SQL transaction failed).

A young blob is never removed: it may be committed to disk but not yet to SQL.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from storage.objects.blobstore import BlobStore
from storage.objects.layout import is_blob_id

log = logging.getLogger("ironbark.storage.reaper")

BATCH_SIZE = 500
ReferencedLookup = Callable[[Iterable[str]], set[str]]


@dataclass(frozen=True, slots=True)
class ReapReport:
    tmp_removed: int = 0
    blobs_removed: int = 0
    bytes_freed: int = 0


def reap(
    store: BlobStore,
    referenced: ReferencedLookup,
    *,
    tmp_older_than: float,
    blob_older_than: float,
) -> ReapReport:
    """Remove stale temp files and old unreferenced blobs; ages are in seconds (by mtime).

    ``referenced(ids)`` returns the subset of ``ids`` that SQL still refers to; it is called
    with batches of at most :data:`BATCH_SIZE` ids.
    """
    now = time.time()
    tmp_removed, tmp_bytes = _reap_tmp(store.tmp_dir, now - tmp_older_than)
    blobs_removed, blob_bytes = _reap_blobs(store, referenced, now - blob_older_than)
    report = ReapReport(tmp_removed, blobs_removed, tmp_bytes + blob_bytes)
    if tmp_removed or blobs_removed:
        log.info("objects.reaped", extra={"fields": asdict(report)})
    return report


def _reap_tmp(tmp_dir: Path, cutoff: float) -> tuple[int, int]:
    removed = freed = 0
    with os.scandir(tmp_dir) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False):
                continue
            size = _remove_stale_tmp(Path(entry.path), cutoff)
            if size is not None:
                removed += 1
                freed += size
    return removed, freed


def _remove_stale_tmp(path: Path, cutoff: float) -> int | None:
    """Unlink ``path`` if it is older than ``cutoff`` and no live writer holds its lock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None  # committed or aborted meanwhile
    try:
        stat = os.fstat(fd)
        if stat.st_mtime >= cutoff:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # a live writer, just slow
        os.unlink(path)
        return stat.st_size
    except FileNotFoundError:
        return None
    finally:
        os.close(fd)


def _reap_blobs(store: BlobStore, referenced: ReferencedLookup, cutoff: float) -> tuple[int, int]:
    removed = freed = 0
    batch: dict[str, Path] = {}
    for blob_id, path in _old_blobs(store.blobs_dir, cutoff):
        batch[blob_id] = path
        if len(batch) >= BATCH_SIZE:
            count, size = _remove_unreferenced(batch, referenced)
            removed, freed, batch = removed + count, freed + size, {}
    if batch:
        count, size = _remove_unreferenced(batch, referenced)
        removed, freed = removed + count, freed + size
    return removed, freed


def _old_blobs(blobs_dir: Path, cutoff: float) -> Iterator[tuple[str, Path]]:
    for first in _subdirs(blobs_dir):
        for second in _subdirs(first):
            with os.scandir(second) as entries:
                for entry in entries:
                    if not is_blob_id(entry.name) or not entry.is_file(follow_symlinks=False):
                        continue
                    if _mtime(entry) < cutoff:
                        yield entry.name, Path(entry.path)


def _subdirs(path: Path) -> list[Path]:
    with os.scandir(path) as entries:
        return sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return float("inf")


def _remove_unreferenced(batch: dict[str, Path], referenced: ReferencedLookup) -> tuple[int, int]:
    keep = referenced(list(batch))
    removed = freed = 0
    for blob_id, path in batch.items():
        if blob_id in keep:
            continue
        try:
            size = os.stat(path).st_size
            os.unlink(path)
        except FileNotFoundError:
            continue  # deleted meanwhile by the S3 layer
        removed += 1
        freed += size
    return removed, freed
