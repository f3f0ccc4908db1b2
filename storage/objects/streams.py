"""Async glue for the ASGI layer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from storage.objects.writer import BlobWriter

WRITE_SIZE = 1 << 20


async def write_stream(writer: BlobWriter, chunks: AsyncIterator[bytes]) -> int:
    """Write every chunk of an async body into ``writer``; return the bytes written.

    ASGI bodies arrive in small pieces (often 64 KiB); they are gathered into writes of about
    1 MiB, which hash and write fastest. Each write is a short blocking call (a few ms per MiB),
    fine to run on the event loop. The caller commits, or aborts by leaving the ``with`` block.
    """
    pending: list[bytes] = []
    pending_size = written = 0
    async for chunk in chunks:
        pending.append(chunk)
        pending_size += len(chunk)
        written += len(chunk)
        if pending_size >= WRITE_SIZE:
            writer.write(pending[0] if len(pending) == 1 else b"".join(pending))
            pending.clear()
            pending_size = 0
    if pending:
        writer.write(b"".join(pending))
    return written
