"""Reading a volume for a snapshot: a raw file as it is, a qcow2 file through ``qemu-img``.

Only the blocks that hold data are read: the file's data extents come from ``SEEK_DATA`` /
``SEEK_HOLE``, so the holes of a sparse 1 GiB volume with 256 MiB written cost nothing.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

FORMATS = ("raw", "qcow2")
QEMU_IMG_TIMEOUT = 3600.0


class SourceError(Exception):
    """The volume cannot be read (missing file, unknown format, ``qemu-img`` failed)."""


def qemu_img(*args: str) -> str:
    try:
        done = subprocess.run(["qemu-img", *args], capture_output=True, text=True,
                              timeout=QEMU_IMG_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceError(f"qemu-img {args[0]}: {exc}") from exc
    if done.returncode != 0:
        raise SourceError(f"qemu-img {args[0]} failed: {done.stderr.strip()[:300]}")
    return done.stdout


def volume_size(path: Path, fmt: str) -> int:
    """The volume's size in bytes (a qcow2 file's virtual size)."""
    if fmt not in FORMATS:
        raise SourceError(f"unknown volume format {fmt!r}")
    try:
        if fmt == "raw":
            return path.stat().st_size
    except FileNotFoundError:
        raise SourceError(f"{path} does not exist") from None
    info = json.loads(qemu_img("info", "--force-share", "--output=json", "-f", fmt, str(path)))
    return int(info["virtual-size"])


@contextlib.contextmanager
def raw_view(path: Path, fmt: str, scratch: Path) -> Iterator[Path]:
    """A raw file with the volume's bytes: ``path`` itself, or a sparse conversion in
    ``scratch`` removed afterwards."""
    if fmt not in FORMATS:
        raise SourceError(f"unknown volume format {fmt!r}")
    if not path.is_file():
        raise SourceError(f"{path} does not exist")
    if fmt == "raw":
        yield path
        return
    scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=scratch, prefix=".snapshot-", suffix=".raw")
    os.close(fd)
    try:
        qemu_img("convert", "-f", fmt, "-O", "raw", "-S", "4k", str(path), name)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def data_blocks(fd: int, size: int, block: int) -> Iterator[int]:
    """Offsets (multiples of ``block``) of the blocks of the file that may hold data."""
    offset = 0
    next_block = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data after offset
                return
            raise
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        first = start - start % block
        for at in range(max(first, next_block), end, block):
            yield at
            next_block = at + block
        offset = end
