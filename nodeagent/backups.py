"""Point-in-time copies of attached volumes, for snapshots taken while an instance runs.

The controller asks ``POST /v1/instances/{id}/volumes/{vol}/backups/{name}``; the node makes
``STATE/backups/<instance>/<vol>-<name>.qcow2`` with libvirt's backup API (the guest keeps
running), answers with its path once complete, and removes it on ``DELETE``. Asking again for
the same name makes the copy anew (a controller that died mid-way simply asks again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nodeagent.spec import InvalidSpec

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
FORMAT = "qcow2"


class BackupRefused(ValueError):
    """The volume is not attached to a running instance here: read its file directly."""


@dataclass(frozen=True)
class BackupStatus:
    instance_id: str
    volume_id: str
    name: str
    path: str
    format: str = FORMAT


def backup_path(state_dir: Path, instance_id: str, volume_id: str, name: str) -> Path:
    if not NAME.match(name):
        raise InvalidSpec(f"backup name {name!r} must be 1-64 letters, digits, - or _")
    if not NAME.match(volume_id) or not NAME.match(instance_id):
        raise InvalidSpec("bad instance or volume id")
    return state_dir / "backups" / instance_id / f"{volume_id}-{name}.{FORMAT}"
