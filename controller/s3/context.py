"""What an S3 handler knows about its request, and what it answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from controller.config import Settings
from controller.identity.authenticate import Authenticator, Principal
from controller.s3 import customer_keys
from controller.s3.access_log import AccessLog
from controller.s3.customer_keys import CustomerKey
from controller.s3.encryption import Keys
from controller.s3.target import Target
from storage.objects import BlobStore


@dataclass
class S3Context:
    request: Request
    target: Target
    query: Mapping[str, str]
    headers: Mapping[str, str]
    principal: Principal | None
    sessions: sessionmaker[Session]
    engine: Engine
    """For read-only lookups on a pooled connection (``controller.db.reader.reading``)."""
    blobs: BlobStore
    settings: Settings
    request_id: str
    payload_sha256: str | None = None
    """The hex SHA-256 the client signed for the body, to be checked while it streams in."""
    authenticator: Authenticator | None = None
    """For credentials inside the body (browser POST forms)."""
    keys: Keys | None = None
    """Object keys for server-side encryption (None: encrypted objects cannot be written)."""
    logs: AccessLog | None = None
    """Server access logging (PutBucketLogging applies a change to it at once)."""

    @property
    def bucket(self) -> str:
        assert self.target.bucket is not None
        return self.target.bucket

    @property
    def key(self) -> str:
        assert self.target.key is not None
        return self.target.key

    def customer_key(self, *, copy_source: bool = False,
                     fields: Mapping[str, str] | None = None) -> CustomerKey | None:
        """The request's SSE-C key (its copy source's; in ``fields``, a POST form's, rather
        than its headers), checked (``customer_keys``)."""
        headers = self.headers if fields is None else fields
        if not customer_keys.sent(headers, copy_source=copy_source):
            return None
        client = self.request.scope.get("client")
        secure = customer_keys.may_carry_keys(self.request.scope.get("scheme", "http"),
                                              client[0] if client else "",
                                              self.settings.s3_sse_c_allow_http)
        return customer_keys.of_request(headers, copy_source=copy_source, secure=secure)

    def body(self) -> AsyncIterator[bytes]:
        return self.request.stream()

    async def read_body(self, limit: int) -> bytes:
        """A small body (XML configuration documents), refused past ``limit`` bytes."""
        from controller.s3 import errors

        chunks: list[bytes] = []
        size = 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > limit:
                raise errors.MalformedXML("The XML you provided was too large")
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass
class S3Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes] | None = None
    batch_deleted: list[tuple[str, str | None]] | None = None
    """DeleteObjects: the (key, version id) it deleted, for server access logs (one
    ``BATCH.DELETE.OBJECT`` record each, as S3 writes)."""
