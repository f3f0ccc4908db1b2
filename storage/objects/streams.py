"""Async glue for the ASGI layer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from storage.objects.writer import BlobWriter


async def write_stream(writer: BlobWriter, chunks: AsyncIterator[bytes]) -> int:
    """Write every chunk of an async body into ``writer``; return the bytes written.

    Each ``write`` is a short blocking call (hash + page-cache write of one chunk), fine to run
    on the event loop. The caller commits, or aborts by leaving the writer's ``with`` block.
    """
    written = 0
    async for chunk in chunks:
        writer.write(chunk)
        written += len(chunk)
    return written
