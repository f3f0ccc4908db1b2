"""The object byte store: writes, digests, reads, ranges, multipart helpers and the reaper."""

from __future__ import annotations

import array
import asyncio
import base64
import hashlib
import os
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from storage.objects import (
    BlobInfo,
    BlobNotFound,
    BlobRangeError,
    BlobStore,
    BlobStoreError,
    BlobTooLarge,
    BlobWriter,
    InlineWriter,
    ReapReport,
    is_blob_id,
    reap,
    write_stream,
)
from storage.objects import reaper as reaper_module
from storage.objects.checksums import crc32c, crc32c_pure, crc64nvme

DATA = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: crosses a chunk boundary
BAD_IDS = ["", "0" * 31, "0" * 33, "A" * 32, "../" + "0" * 29, "0" * 31 + "\n", "g" * 32, "a/b"]


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "objects")


def put(
    store: BlobStore,
    data: bytes,
    *,
    want_sha256: bool = False,
    checksum: str | None = None,
    max_size: int | None = None,
) -> BlobInfo:
    with store.writer(want_sha256=want_sha256, checksum=checksum, max_size=max_size) as writer:
        for start in range(0, len(data), 65536):
            writer.write(data[start : start + 65536])
        return writer.commit()


def read(store: BlobStore, blob_id: str) -> bytes:
    with store.open(blob_id) as file:
        return file.read()


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


# --- writing and digests ---------------------------------------------------------------------


def test_round_trip(store: BlobStore) -> None:
    info = put(store, DATA)
    assert is_blob_id(info.blob_id) and info.size == len(DATA)
    with store.open(info.blob_id) as file:
        assert file.read() == DATA
    path = store.path(info.blob_id)
    assert path == store.root / "blobs" / info.blob_id[:2] / info.blob_id[2:4] / info.blob_id
    assert path.stat().st_mode & 0o777 == 0o600
    assert store.size(info.blob_id) == len(DATA)
    assert store.exists(info.blob_id)
    assert files_under(store.tmp_dir) == []


def test_md5_always_sha256_only_when_asked(store: BlobStore) -> None:
    plain = put(store, DATA)
    assert plain.md5_hex == hashlib.md5(DATA).hexdigest()
    assert plain.sha256_hex is None and plain.checksum_b64 is None
    both = put(store, DATA, want_sha256=True)
    assert both.sha256_hex == hashlib.sha256(DATA).hexdigest()


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("CRC32", zlib.crc32(DATA).to_bytes(4, "big")),
        ("CRC32C", crc32c_pure(DATA).to_bytes(4, "big")),
        ("CRC64NVME", crc64nvme(DATA).to_bytes(8, "big")),
        ("SHA1", hashlib.sha1(DATA).digest()),
        ("SHA256", hashlib.sha256(DATA).digest()),
    ],
    ids=["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"],
)
def test_checksums(store: BlobStore, algorithm: str, expected: bytes) -> None:
    info = put(store, DATA, checksum=algorithm)
    assert info.checksum_b64 == b64(expected)
    assert info.md5_hex == hashlib.md5(DATA).hexdigest()
    assert info.sha256_hex == (hashlib.sha256(DATA).hexdigest() if algorithm == "SHA256" else None)


def test_unknown_checksum_is_refused(store: BlobStore) -> None:
    with pytest.raises(ValueError):
        store.writer(checksum="XXHASH64")
    assert files_under(store.root) == []


@pytest.mark.parametrize("function", [crc32c, crc32c_pure])
def test_crc32c_known_vectors(function: object) -> None:
    assert callable(function)
    assert function(b"123456789") == 0xE3069283
    assert function(b"") == 0
    assert function(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4
    assert function(b"\xff" * 32) == 0x62A8AB43
    assert function(bytes(range(32))) == 0x46DD794E
    assert function(b"56789", function(b"1234")) == 0xE3069283  # incremental


def test_crc64nvme_known_vectors() -> None:
    """CRC-64/NVME's check value, and the S3 checksum of 1 KiB of "A" (as S3 reports it)."""
    assert crc64nvme(b"123456789") == 0xAE8B14860A799888
    assert crc64nvme(b"") == 0
    assert crc64nvme(b"56789", crc64nvme(b"1234")) == 0xAE8B14860A799888  # incremental
    assert b64(crc64nvme(b"A" * 1024).to_bytes(8, "big")) == "Qeh8oXvGiSo="


def test_empty_blob(store: BlobStore) -> None:
    with store.writer(checksum="CRC32C") as writer:
        info = writer.commit()
    assert info.size == 0 and info.md5_hex == hashlib.md5(b"").hexdigest()
    assert info.checksum_b64 == "AAAAAA=="
    assert list(store.iter_range(info.blob_id, 0, -1)) == []


def test_writer_accepts_any_buffer(store: BlobStore) -> None:
    with store.writer() as writer:
        writer.write(bytearray(b"ab"))
        writer.write(memoryview(b"cd"))
        writer.write(memoryview(array.array("I", [1, 2])))
        info = writer.commit()
    assert read(store, info.blob_id) == b"abcd" + array.array("I", [1, 2]).tobytes()
    assert info.size == 12


def test_writer_lets_go_of_reused_buffers(store: BlobStore) -> None:
    buffer = bytearray()
    with store.writer() as writer:
        for size in (10, 3 << 20, 700 << 10):  # small and large (large writes use a helper thread)
            buffer[:] = DATA[:size]
            writer.write(buffer)
            buffer.clear()  # would raise BufferError if the writer still held a view
        info = writer.commit()
    assert info.size == 10 + len(DATA[: 3 << 20]) + (700 << 10)
    expected = DATA[:10] + DATA[: 3 << 20] + DATA[: 700 << 10]
    assert read(store, info.blob_id) == expected
    assert info.md5_hex == hashlib.md5(expected).hexdigest()


def test_writes_coming_from_async_body(store: BlobStore) -> None:
    body = [DATA[i : i + 100_000] for i in range(0, len(DATA), 100_000)] + [b"", DATA * 2, b"z"]

    sizes: list[int] = []

    class Recording(BlobWriter):
        def write(self, chunk: bytes | bytearray | memoryview) -> None:
            sizes.append(len(chunk))
            super().write(chunk)

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in body:
            yield chunk

    async def main() -> BlobInfo:
        with Recording(store.tmp_dir, store.blobs_dir) as writer:
            assert await write_stream(writer, chunks()) == 3 * len(DATA) + 1
            return writer.commit()

    info = asyncio.run(main())
    assert info.md5_hex == hashlib.md5(b"".join(body)).hexdigest()
    assert sizes == [len(DATA), 2 * len(DATA), 1]  # small pieces gathered to >= 1 MiB


# --- nothing visible before commit -----------------------------------------------------------


def test_temp_file_is_private_and_invisible_until_commit(store: BlobStore) -> None:
    with store.writer() as writer:
        writer.write(b"partial")
        (temp,) = files_under(store.tmp_dir)
        assert temp.name == writer.blob_id and temp.stat().st_mode & 0o777 == 0o600
        with pytest.raises(BlobNotFound):
            store.open(writer.blob_id)
        assert files_under(store.blobs_dir) == []
        writer.commit()
    assert files_under(store.tmp_dir) == []


def test_leaving_without_commit_aborts(store: BlobStore) -> None:
    with store.writer() as writer:
        writer.write(DATA)
    assert files_under(store.root) == []
    with pytest.raises(BlobStoreError):
        writer.commit()


def test_exception_aborts(store: BlobStore) -> None:
    with pytest.raises(RuntimeError), store.writer() as writer:
        writer.write(DATA)
        raise RuntimeError("client went away")
    assert files_under(store.root) == []


def test_abort_is_idempotent_and_noop_after_commit(store: BlobStore) -> None:
    writer = store.writer()
    writer.write(b"x")
    info = writer.commit()
    writer.abort()
    writer.abort()
    assert read(store, info.blob_id) == b"x"
    with pytest.raises(BlobStoreError):
        writer.write(b"more")


def test_max_size(store: BlobStore) -> None:
    info = put(store, b"12345", max_size=5)
    assert info.size == 5
    with store.writer(max_size=5) as writer:
        writer.write(b"123")
        with pytest.raises(BlobTooLarge):
            writer.write(b"456")
        with pytest.raises(BlobStoreError):
            writer.write(b"4")  # aborted: no way to go on
    assert files_under(store.tmp_dir) == []
    assert files_under(store.blobs_dir) == [store.path(info.blob_id)]


def test_concurrent_writers_get_distinct_blobs(store: BlobStore) -> None:
    with store.writer() as first, store.writer() as second:
        first.write(b"one")
        second.write(b"two")
        a, b = second.commit(), first.commit()
    assert a.blob_id != b.blob_id
    assert read(store, a.blob_id) == b"two" and read(store, b.blob_id) == b"one"


# --- reading, ids, delete --------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_ids_never_reach_the_filesystem(store: BlobStore, bad: str) -> None:
    for call in (store.open, store.path, store.size, store.delete):
        with pytest.raises(BlobNotFound):
            call(bad)
    with pytest.raises(BlobNotFound):
        store.iter_range(bad, 0, 0)
    with pytest.raises(BlobNotFound):
        store.concatenate([bad])
    assert not store.exists(bad)


def test_missing_blob(store: BlobStore) -> None:
    missing = "0123456789abcdef0123456789abcdef"
    for call in (store.open, store.path, store.size):
        with pytest.raises(BlobNotFound):
            call(missing)
    assert not store.exists(missing)


def test_delete_is_idempotent(store: BlobStore) -> None:
    info = put(store, b"bye")
    store.delete(info.blob_id)
    store.delete(info.blob_id)
    with pytest.raises(BlobNotFound):
        store.open(info.blob_id)


def test_keys_never_become_paths(store: BlobStore) -> None:
    # The store never sees keys; whatever a key contains, only <hex id> names appear on disk.
    info = put(store, b"x")
    names = {p.name for p in store.root.rglob("*")}
    assert names == {"tmp", "blobs", info.blob_id[:2], info.blob_id[2:4], info.blob_id}


# --- ranges, concatenate, copy_range ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "chunk"),
    [
        (0, len(DATA) - 1, 1 << 20),
        (0, 0, 7),
        (5, 5, 1),
        (1, 1000, 100),
        (1000, 1099, 100),
        (len(DATA) - 1, len(DATA) - 1, 3),
        ((1 << 20) - 2, (1 << 20) + 1, 1 << 20),
        (10, 9, 4),
    ],
)
def test_iter_range(store: BlobStore, start: int, end: int, chunk: int) -> None:
    info = put(store, DATA)
    chunks = list(store.iter_range(info.blob_id, start, end, chunk=chunk))
    assert b"".join(chunks) == DATA[start : end + 1]
    assert all(0 < len(c) <= chunk for c in chunks)


@pytest.mark.parametrize(
    ("start", "end"), [(-1, 3), (0, len(DATA)), (5, 3), (len(DATA), len(DATA))]
)
def test_iter_range_outside_blob(store: BlobStore, start: int, end: int) -> None:
    info = put(store, DATA)
    with pytest.raises(BlobRangeError):
        store.iter_range(info.blob_id, start, end)


def test_concatenate(store: BlobStore) -> None:
    parts = [DATA, b"", b"middle", DATA[::-1]]
    infos = [put(store, part) for part in parts]
    whole = store.concatenate([i.blob_id for i in infos], checksum="CRC32")
    joined = b"".join(parts)
    assert whole.size == len(joined) and read(store, whole.blob_id) == joined
    assert whole.md5_hex == hashlib.md5(joined).hexdigest()
    assert whole.checksum_b64 == b64(zlib.crc32(joined).to_bytes(4, "big"))
    assert all(store.exists(i.blob_id) for i in infos)  # the caller deletes the parts


def test_concatenate_missing_part_leaves_nothing(store: BlobStore) -> None:
    info = put(store, b"a")
    with pytest.raises(BlobNotFound):
        store.concatenate([info.blob_id, "f" * 32])
    assert files_under(store.blobs_dir) == [store.path(info.blob_id)]
    assert files_under(store.tmp_dir) == []


def test_a_transform_changes_what_is_kept_not_the_digests(store: BlobStore) -> None:
    def flip(data: bytes) -> bytes:
        return bytes(b ^ 0xFF for b in data)

    with store.writer(want_sha256=True, transform=flip) as writer:
        for offset in range(0, len(DATA), 300_000):  # batches and a partial one
            writer.write(DATA[offset:offset + 300_000])
        info = writer.commit()
    assert read(store, info.blob_id) == flip(DATA)
    assert info.md5_hex == hashlib.md5(DATA).hexdigest()
    assert info.sha256_hex == hashlib.sha256(DATA).hexdigest()
    inline = InlineWriter(max_size=10, transform=flip)
    inline.write(b"abc")
    kept = inline.commit()
    assert (kept.data, kept.md5_hex) == (flip(b"abc"), hashlib.md5(b"abc").hexdigest())


# --- reaper ----------------------------------------------------------------------------------


class Lookup:
    """Stands in for the SQL query: which of these ids are referenced?"""

    def __init__(self, referenced: Iterable[str]) -> None:
        self.referenced = set(referenced)
        self.batches: list[list[str]] = []

    def __call__(self, ids: Iterable[str]) -> set[str]:
        batch = list(ids)
        self.batches.append(batch)
        return self.referenced.intersection(batch)


def test_reaper(store: BlobStore) -> None:
    kept_old = put(store, b"referenced" * 10)
    orphan_old = put(store, b"orphan" * 100)
    orphan_young = put(store, b"young")
    for info in (kept_old, orphan_old):
        age(store.path(info.blob_id), 7200)
    stale = store.tmp_dir / ("e" * 32)
    stale.write_bytes(b"crashed write" * 3)
    age(stale, 7200)
    fresh = store.tmp_dir / ("d" * 32)
    fresh.write_bytes(b"in flight")
    lookup = Lookup({kept_old.blob_id})

    report = reap(store, lookup, tmp_older_than=3600, blob_older_than=3600)

    assert (report.tmp_removed, report.blobs_removed) == (1, 1)
    assert report.bytes_freed == len(b"crashed write" * 3) + orphan_old.size
    assert not stale.exists() and fresh.exists()
    assert store.exists(kept_old.blob_id) and store.exists(orphan_young.blob_id)
    assert not store.exists(orphan_old.blob_id)
    assert [sorted(b) for b in lookup.batches] == [sorted([kept_old.blob_id, orphan_old.blob_id])]
    assert reap(store, lookup, tmp_older_than=3600, blob_older_than=3600) == ReapReport()


def test_reaper_batches(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reaper_module, "BATCH_SIZE", 3)
    infos = [put(store, b"%d" % n) for n in range(7)]
    for info in infos:
        age(store.path(info.blob_id), 100)
    lookup = Lookup(i.blob_id for i in infos[:2])
    report = reap(store, lookup, tmp_older_than=50, blob_older_than=50)
    assert [len(b) for b in lookup.batches] == [3, 3, 1]
    assert report.blobs_removed == 5 and report.bytes_freed == 5
    assert sorted(i.blob_id for i in infos if store.exists(i.blob_id)) == sorted(lookup.referenced)


def test_reaper_spares_a_live_writer(store: BlobStore) -> None:
    with store.writer() as writer:
        writer.write(b"slow client")
        (temp,) = files_under(store.tmp_dir)
        age(temp, 7200)
        report = reap(store, Lookup(()), tmp_older_than=3600, blob_older_than=3600)
        assert report.tmp_removed == 0 and temp.exists()
        info = writer.commit()
    assert read(store, info.blob_id) == b"slow client"


def test_commit_makes_blob_young(store: BlobStore) -> None:
    with store.writer() as writer:
        writer.write(b"stalled before commit")
        age(store.tmp_dir / writer.blob_id, 7200)
        info = writer.commit()
    reap(store, Lookup(()), tmp_older_than=3600, blob_older_than=3600)
    assert store.exists(info.blob_id)  # committed to disk, maybe not yet to SQL


def test_reaper_ignores_strangers(store: BlobStore) -> None:
    stranger = store.blobs_dir / "ab" / "cd" / "not-a-blob"
    stranger.parent.mkdir(parents=True)
    stranger.write_bytes(b"?")
    age(stranger, 7200)
    assert reap(store, Lookup(()), tmp_older_than=1, blob_older_than=1).blobs_removed == 0
    assert stranger.exists()


def test_batches_in_flight_keep_order_and_digests(store: BlobStore) -> None:
    """Many odd-sized chunks cross batch boundaries; the writer's thread hashes them in order."""
    chunks = [os.urandom(n) for n in (1, 65_536, 1 << 20, 999_999, 3, (1 << 20) + 7, 123_457)] * 3
    expected = b"".join(chunks)
    with store.writer(want_sha256=True, checksum="CRC32") as writer:
        for chunk in chunks:
            writer.write(chunk)
        info = writer.commit()
    assert read(store, info.blob_id) == expected
    assert info.md5_hex == hashlib.md5(expected).hexdigest()
    assert info.sha256_hex == hashlib.sha256(expected).hexdigest()
    assert info.checksum_b64 == base64.b64encode(
        zlib.crc32(expected).to_bytes(4, "big")).decode()


def test_abort_with_batches_in_flight_leaves_nothing(store: BlobStore) -> None:
    with store.writer(max_size=6 << 20) as writer:
        for _ in range(5):
            writer.write(os.urandom(1 << 20))
        with pytest.raises(BlobTooLarge):
            writer.write(os.urandom(2 << 20))
    assert files_under(store.tmp_dir) == []
    assert files_under(store.blobs_dir) == []
