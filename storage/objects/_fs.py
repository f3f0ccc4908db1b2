"""Small POSIX helpers for durable writes."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path, stop: Path) -> None:
    """Create ``path`` and any missing parents below ``stop``, fsyncing each new entry's parent."""
    if path == stop or path.is_dir():
        return
    ensure_dir(path.parent, stop)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass  # a concurrent writer made it; it may not have fsynced the parent yet
    fsync_dir(path.parent)


def pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    """Write all of ``data`` (a byte view) at ``offset``, however many calls that takes."""
    while data:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written
