"""Real crashes: writer processes are SIGKILLed mid-write and right after commit.

Afterwards no partial blob is visible, the committed blob reads back intact, and the reaper
frees the leftovers — the temp file once its writer is dead and it is old enough, the
committed-but-never-referenced blob only after the blob age threshold.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from storage.objects import BlobStore, reap

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20

# Writes ``total`` MiB in 1 MiB chunks, pausing ``pause`` s after each, reporting progress;
# with commit=1, commits and reports the blob id and MD5, then waits to be killed.
WRITER = """
import sys, time
from storage.objects import BlobStore
root, total, pause, commit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
store = BlobStore(root)
writer = store.writer()
for n in range(total):
    writer.write(bytes([n % 251]) * (1 << 20))
    print("wrote", n + 1, flush=True)
    time.sleep(pause)
if commit:
    info = writer.commit()
    print("committed", info.blob_id, info.md5_hex, flush=True)
time.sleep(600)
"""


def expected_md5(total_mib: int) -> str:
    md5 = hashlib.md5()
    for n in range(total_mib):
        md5.update(bytes([n % 251]) * MIB)
    return md5.hexdigest()


def disk_usage(path: Path) -> int:
    """Like ``du -s --block-size=1``: bytes allocated to files under ``path``."""
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def no_references(ids: Iterable[str]) -> set[str]:
    return set()  # the writers died before any SQL transaction named their blobs


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def start_writer(
    procs: list[subprocess.Popen[str]], root: Path, total: int, pause: float, commit: bool
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-c", WRITER, str(root), str(total), str(pause), "1" if commit else "0"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    procs.append(proc)
    return proc


def wait_for(proc: subprocess.Popen[str], prefix: str) -> list[str]:
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"writer exited with {proc.wait()} before {prefix!r}")
        if line.startswith(prefix):
            return line.split()
    raise AssertionError(f"timed out waiting for {prefix!r}")


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def test_sigkill_mid_write_and_after_commit(
    tmp_path: Path, spawn: list[subprocess.Popen[str]]
) -> None:
    root = tmp_path / "objects"
    store = BlobStore(root)
    slow = start_writer(spawn, root, total=64, pause=0.05, commit=False)
    quick = start_writer(spawn, root, total=8, pause=0.0, commit=True)
    _, blob_id, md5 = wait_for(quick, "committed")
    kill(quick)
    wait_for(slow, "wrote 16")

    # While the slow writer lives (stopped, not dead), its temp file is spared however old.
    slow.send_signal(signal.SIGSTOP)
    _, status = os.waitpid(slow.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)
    (temp,) = files_under(store.tmp_dir)
    old = time.time() - 3600
    os.utime(temp, (old, old))
    assert reap(store, no_references, tmp_older_than=60, blob_older_than=60).tmp_removed == 0
    kill(slow)
    partial_size = temp.stat().st_size
    # What reached the file lags what was handed to write() by at most the batches in flight
    # on the writer's thread (4 x 1 MiB) and the batch being gathered (1 MiB).
    assert 11 * MIB <= partial_size < 64 * MIB

    # No partial blob is visible; the committed one is intact.
    assert files_under(store.blobs_dir) == [store.path(blob_id)]
    assert store.size(blob_id) == 8 * MIB
    md5_read = hashlib.md5()
    for chunk in store.iter_range(blob_id, 0, 8 * MIB - 1):
        md5_read.update(chunk)
    assert md5_read.hexdigest() == md5 == expected_md5(8)

    # The dead writer's temp file goes; the young unreferenced blob stays (SQL may be catching up).
    before = disk_usage(root)
    report = reap(store, no_references, tmp_older_than=60, blob_older_than=2.0)
    assert (report.tmp_removed, report.blobs_removed) == (1, 0)
    assert report.bytes_freed == partial_size and not temp.exists()
    assert store.exists(blob_id)
    assert before - disk_usage(root) >= partial_size

    # Once older than the threshold, the orphan goes too and the space is back.
    time.sleep(max(0.0, store.path(blob_id).stat().st_mtime + 2.1 - time.time()))
    report = reap(store, no_references, tmp_older_than=60, blob_older_than=2.0)
    assert (report.tmp_removed, report.blobs_removed, report.bytes_freed) == (0, 1, 8 * MIB)
    assert files_under(root) == [] and disk_usage(root) == 0
