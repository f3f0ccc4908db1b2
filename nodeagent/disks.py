"""Instance disks on the node: qcow2 overlays on cached (read-only) base images, and blank
instance-store (ephemeral) disks."""

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
    await _qemu_img_create(overlay, "-b", str(backing), "-F", backing_format)


async def create_blank(path: Path, size_gib: int) -> None:
    """A new, empty (sparse) qcow2 disk of ``size_gib`` GiB at ``path``; an existing one is
    kept (the instance's ephemeral data across stop/start and agent restarts)."""
    if path.exists():
        return
    await _qemu_img_create(path, size=f"{size_gib}G")


async def _qemu_img_create(target: Path, *options: str, size: str | None = None) -> None:
    """``qemu-img create -f qcow2 OPTIONS`` into a temporary name, renamed to ``target`` when
    complete, so a crash never leaves a half-made disk in place."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        proc = await asyncio.create_subprocess_exec(
            "qemu-img", "create", "-q", "-f", "qcow2", *options, str(tmp),
            *([size] if size else []),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise DiskError("qemu-img not found (install qemu-utils)") from exc
    _, err = await proc.communicate()
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise DiskError(f"qemu-img create failed: {err.decode(errors='replace').strip()}")
    tmp.rename(target)
