"""NBD exports of volume files with ``qemu-nbd``, one server process per exported volume.

Each export is recorded in ``<state>/<volume id>.json`` (pid, port, address, export name), so a
restarted controller finds the exports it started (they outlive it: ``qemu-nbd --fork``) and
does not start a second server for the same volume. ``--fork`` returns once the server listens,
so a node told about the export can connect at once.

NBD has no authentication: bind the exports to the storage network only (``address``), as
with iSCSI; TLS-PSK (``qemu-nbd --tls-creds``) is the planned hardening (docs/ebs.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from storage.volumes.backend import Format, NbdExport, VolumeStorageError

START_DEADLINE = 30.0


@dataclass(frozen=True)
class _Record:
    pid: int
    port: int
    address: str
    name: str
    path: str


def _alive(record: _Record) -> bool:
    """The recorded qemu-nbd still runs and serves this file (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{record.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].endswith(b"qemu-nbd") and record.path.encode() in cmdline


def _port_free(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


class NbdExports:
    def __init__(self, state_dir: Path, address: str, *, advertise: str | None = None,
                 ports: tuple[int, int] = (10809, 10999)) -> None:
        self.state_dir = state_dir
        self.address = address
        """Where the servers listen."""
        self.advertise = advertise or address
        """The address nodes are told to connect to."""
        self.ports = ports

    def _file(self, volume_id: str) -> Path:
        return self.state_dir / f"{volume_id}.json"

    def _load(self, volume_id: str) -> _Record | None:
        try:
            data = json.loads(self._file(volume_id).read_text())
            return _Record(**data)
        except (OSError, ValueError, TypeError):
            return None

    def _taken(self) -> set[int]:
        taken = set()
        for path in self.state_dir.glob("vol-*.json"):
            record = self._load(path.stem)
            if record is not None and _alive(record):
                taken.add(record.port)
        return taken

    def running(self, volume_id: str) -> NbdExport | None:
        record = self._load(volume_id)
        if record is None or not _alive(record):
            return None
        return NbdExport(self.advertise, record.port, record.name)

    def start(self, volume_id: str, path: Path, fmt: Format) -> NbdExport:
        """Serve ``path`` as export ``volume_id``; an export already running is reused."""
        found = self.running(volume_id)
        if found is not None:
            return found
        self.state_dir.mkdir(parents=True, exist_ok=True)
        taken = self._taken()
        for port in range(self.ports[0], self.ports[1] + 1):
            if port in taken or not _port_free(self.address, port):
                continue
            pid = self._serve(volume_id, path, fmt, port)
            if pid is None:
                continue  # another process took the port meanwhile
            record = _Record(pid, port, self.address, volume_id, str(path))
            tmp = self._file(volume_id).with_suffix(".tmp")
            tmp.write_text(json.dumps(record.__dict__))
            os.replace(tmp, self._file(volume_id))
            return NbdExport(self.advertise, port, volume_id)
        raise VolumeStorageError(f"no free NBD port in {self.ports[0]}-{self.ports[1]}")

    def _serve(self, volume_id: str, path: Path, fmt: Format, port: int) -> int | None:
        pid_file = self.state_dir / f"{volume_id}.pid"
        pid_file.unlink(missing_ok=True)
        command = ["qemu-nbd", "--fork", "--persistent", "--shared=8", f"--format={fmt}",
                   "--cache=none", "--aio=threads", f"--export-name={volume_id}",
                   f"--bind={self.address}", f"--port={port}", f"--pid-file={pid_file}",
                   str(path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=START_DEADLINE,
                                  check=False)
        except FileNotFoundError as exc:
            raise VolumeStorageError("qemu-nbd is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise VolumeStorageError(f"qemu-nbd did not start within {START_DEADLINE} s") from exc
        if done.returncode != 0:
            if "Address already in use" in done.stderr:
                return None
            raise VolumeStorageError(f"qemu-nbd failed: {done.stderr.strip()[:300]}")
        for _ in range(50):  # --fork returns once it listens; the pid file follows at once
            with contextlib.suppress(OSError, ValueError):
                return int(pid_file.read_text().strip())
            time.sleep(0.02)
        raise VolumeStorageError("qemu-nbd started without writing its pid file")

    def stop(self, volume_id: str) -> None:
        """Stop the volume's server (clients are cut off); nothing running is fine."""
        record = self._load(volume_id)
        if record is not None and _alive(record):
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGTERM)
            for _ in range(100):
                if not _alive(record):
                    break
                time.sleep(0.02)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(record.pid, signal.SIGKILL)
        self._file(volume_id).unlink(missing_ok=True)
        (self.state_dir / f"{volume_id}.pid").unlink(missing_ok=True)
