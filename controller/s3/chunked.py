"""``Content-Encoding: aws-chunked`` request bodies: framing, chunk signatures, trailers.

The body is ``hex-size[;chunk-signature=<sig>]\\r\\n<data>\\r\\n`` repeated, a zero-size chunk,
then trailing headers (``x-amz-checksum-crc32:...``, ``x-amz-trailer-signature:...``) and an
empty line. Each chunk signature chains on the previous one, the first on the seed signature
of the ``Authorization`` header. The decoder streams: it holds at most one chunk header (or
trailer line) and one network read, and yields data as it arrives; a chunk whose signature
does not match raises before the stream ends, so the caller never commits it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping

from controller.identity.authenticate import Principal, StreamingSeed
from controller.s3 import errors
from controller.s3.headers import CHECKSUMS

ChunkSigning = StreamingSeed
"""The seed signature, timestamp, scope and signing key chunk signatures chain from."""

SIGNED_PREFIX = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
MAX_CHUNK = 16 * 1024**2
MAX_LINE = 4096
MAX_TRAILERS = 16 * 1024
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_HEX = frozenset(b"0123456789abcdefABCDEF")


def is_aws_chunked(headers: Mapping[str, str]) -> bool:
    """Whether the body is aws-chunked framed: a ``STREAMING-*`` payload hash says so; a
    ``Content-Encoding`` naming aws-chunked only with the decoded length that such a body needs
    (a client may store the coding as plain object metadata, as S3 lets it)."""
    if headers.get("x-amz-content-sha256", "").startswith("STREAMING-"):
        return True
    coding = headers.get("content-encoding")
    if coding is None:
        return False
    encodings = [part.strip().lower() for part in coding.split(",")]
    return "aws-chunked" in encodings and "x-amz-decoded-content-length" in headers


def announced_checksum(headers: Mapping[str, str]) -> str | None:
    """The checksum algorithm ``x-amz-trailer`` announces (``x-amz-checksum-crc32`` → CRC32)."""
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if not trailer:
        return None
    algorithm = trailer.removeprefix("x-amz-checksum-").upper()
    if not trailer.startswith("x-amz-checksum-") or algorithm not in CHECKSUMS:
        raise errors.InvalidRequest(f"Unsupported trailer {trailer[:64]!r}.")
    return algorithm


def chunk_signing(headers: Mapping[str, str], principal: Principal | None) -> ChunkSigning | None:
    """The signing material when the body carries chunk signatures, else None."""
    if not headers.get("x-amz-content-sha256", "").startswith(SIGNED_PREFIX):
        return None
    if principal is None or principal.streaming is None:
        raise errors.InvalidRequest(
            "Signed aws-chunked bodies need an Authorization header signed with SigV4.")
    return principal.streaming


def _sign(signing: ChunkSigning, kind: str, previous: str, digest: str) -> str:
    middle = f"{_EMPTY_SHA256}\n" if kind == "AWS4-HMAC-SHA256-PAYLOAD" else ""
    message = (f"{kind}\n{signing.amz_date}\n{signing.scope}\n{previous}\n"
               f"{middle}{digest}")
    return hmac.new(signing.key, message.encode(), hashlib.sha256).hexdigest()


def chunk_signature(signing: ChunkSigning, previous: str, data_sha256: str) -> str:
    """The signature of one chunk whose data hashes to ``data_sha256`` (hex)."""
    return _sign(signing, "AWS4-HMAC-SHA256-PAYLOAD", previous, data_sha256)


def trailer_signature(signing: ChunkSigning, previous: str, trailers: Mapping[str, str]) -> str:
    canonical = "".join(f"{name}:{value}\n" for name, value in trailers.items())
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return _sign(signing, "AWS4-HMAC-SHA256-TRAILER", previous, digest)


class _Reader:
    """Pulls network reads into a small buffer on demand."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self.buf = bytearray()

    async def fill(self) -> None:
        async for piece in self._chunks:
            if piece:
                self.buf += piece
                return
        raise errors.IncompleteBody("The aws-chunked body ended before its final chunk.")

    async def line(self) -> bytes:
        start = 0
        while (end := self.buf.find(b"\r\n", start)) < 0:
            if len(self.buf) > MAX_LINE:
                raise errors.InvalidRequest("An aws-chunked header line is too long.")
            start = max(0, len(self.buf) - 1)
            await self.fill()
        if end > MAX_LINE:
            raise errors.InvalidRequest("An aws-chunked header line is too long.")
        found = bytes(self.buf[:end])
        del self.buf[:end + 2]
        return found

    async def take(self, limit: int) -> bytes:
        """Up to ``limit`` buffered bytes (reading when the buffer is empty)."""
        if not self.buf:
            await self.fill()
        piece = bytes(self.buf[:limit])
        del self.buf[:limit]
        return piece

    async def at_end(self) -> bool:
        if self.buf:
            return False
        async for piece in self._chunks:
            if piece:
                self.buf += piece
                return False
        return True


class DecodedBody:
    """The decoded data of an aws-chunked body; :attr:`trailers` is filled once it ends."""

    def __init__(self, chunks: AsyncIterator[bytes], signing: ChunkSigning | None,
                 expected_length: int | None) -> None:
        self._reader = _Reader(chunks)
        self._signing = signing
        self._previous = signing.signature if signing else ""
        self._expected = expected_length
        self._size = 0
        self.trailers: dict[str, str] = {}
        self._stream = self._decode()

    def __aiter__(self) -> DecodedBody:
        return self

    async def __anext__(self) -> bytes:
        return await self._stream.__anext__()

    async def _decode(self) -> AsyncIterator[bytes]:
        while True:
            size, signature = _chunk_header(await self._reader.line(), self._signing)
            digest = hashlib.sha256()
            remaining = size
            while remaining:
                piece = await self._reader.take(remaining)
                remaining -= len(piece)
                self._count(len(piece))
                digest.update(piece)
                yield piece
            if size and await self._reader.line() != b"":
                raise errors.InvalidRequest("An aws-chunked chunk is longer than its size.")
            self._check(signature, digest.hexdigest())
            if size == 0:
                break
        await self._read_trailers()
        if self._expected is not None and self._size != self._expected:
            raise errors.IncompleteBody()
        if not await self._reader.at_end():
            raise errors.InvalidRequest("Data follows the end of the aws-chunked body.")

    def _count(self, n: int) -> None:
        self._size += n
        if self._expected is not None and self._size > self._expected:
            raise errors.IncompleteBody(
                "The request body is longer than x-amz-decoded-content-length")

    def _check(self, signature: str | None, data_sha256: str) -> None:
        if self._signing is None or signature is None:
            return
        expected = chunk_signature(self._signing, self._previous, data_sha256)
        if not hmac.compare_digest(expected, signature):
            raise errors.SignatureDoesNotMatch()
        self._previous = signature

    async def _read_trailers(self) -> None:
        total = 0
        signature: str | None = None
        while line := await self._reader.line():
            total += len(line)
            name, sep, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if not sep or not name or total > MAX_TRAILERS:
                raise errors.InvalidRequest("Malformed aws-chunked trailer.")
            if name == "x-amz-trailer-signature":
                signature = value.strip()
            else:
                self.trailers[name] = value.strip()
        if self._signing is not None and (self.trailers or signature is not None):
            expected = trailer_signature(self._signing, self._previous, self.trailers)
            if signature is None or not hmac.compare_digest(expected, signature):
                raise errors.SignatureDoesNotMatch()

    def checksum(self, algorithm: str) -> tuple[str, str]:
        """(algorithm, base64 value) of the trailing ``x-amz-checksum-*`` the body carried."""
        value = self.trailers.get(f"x-amz-checksum-{algorithm.lower()}")
        if value is None:
            raise errors.InvalidRequest(
                f"The x-amz-checksum-{algorithm.lower()} trailer announced was not sent.")
        return algorithm, value


def _chunk_header(line: bytes, signing: ChunkSigning | None) -> tuple[int, str | None]:
    size_part, _, extension = line.partition(b";")
    size_part = size_part.strip()
    if not size_part or len(size_part) > 8 or not set(size_part) <= _HEX:
        raise errors.InvalidRequest("Malformed aws-chunked chunk header.")
    size = int(size_part, 16)
    if size > MAX_CHUNK:
        raise errors.InvalidRequest(f"An aws-chunked chunk exceeds {MAX_CHUNK} bytes.")
    name, _, value = extension.decode("latin-1").partition("=")
    signature = value.strip() if name.strip() == "chunk-signature" else None
    if signing is not None and signature is None:
        raise errors.SignatureDoesNotMatch("An aws-chunked chunk has no chunk-signature.")
    return size, signature


def decode_aws_chunked(chunks: AsyncIterator[bytes], *, signing: ChunkSigning | None,
                       expected_length: int | None) -> DecodedBody:
    """Decode an aws-chunked body as it streams; see :class:`DecodedBody`."""
    return DecodedBody(chunks, signing, expected_length)
