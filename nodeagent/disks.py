"""Instance disks on the node: qcow2 overlays on cached (read-only) base images."""

from __future__ import annotations

import asyncio
from pathlib import Path


class DiskError(Exception):
    """qemu-img failed or is missing."""


async def create_overlay(overlay: Path, backing: Path, backing_format: str) -> None:
    """A new qcow2 file at ``overlay`` whose reads fall through to ``backing``.

    An existing overlay is kept (it holds the instance's data across stop/start and agent
    restarts); the overlay is written to a temporary name and renamed, so a crash never
    leaves a half-made one in place.
    """
    if overlay.exists():
        return
    if not backing.is_file():
        raise DiskError(f"base image {backing} does not exist")
    tmp = overlay.with_name(f".{overlay.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        proc = await asyncio.create_subprocess_exec(
            "qemu-img",
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            str(backing),
            "-F",
            backing_format,
            str(tmp),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise DiskError("qemu-img not found (install qemu-utils)") from exc
    _, err = await proc.communicate()
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise DiskError(f"qemu-img create failed: {err.decode(errors='replace').strip()}")
    tmp.rename(overlay)
