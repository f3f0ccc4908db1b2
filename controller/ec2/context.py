"""What an EC2 handler knows about the request it serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.orm import Session

from controller.config import Settings
from controller.db.reader import Reader
from controller.s3.encryption import Keys
from storage.objects import BlobStore


@dataclass(frozen=True)
class RequestContext:
    reader: Reader
    """Runs prepared SELECTs on the request's connection (see ``controller.db.reader``)."""
    open_session: Callable[[], Session]
    settings: Settings
    account_id: str
    user_id: str
    request_id: str
    api_version: str
    host: str = ""
    """The Host header the client used (without port), for endpoints in responses."""
    blobs: BlobStore | None = None
    """The object store's blobs, for actions that read objects (RegisterImage's manifest)."""
    keys: Keys | None = None
    """Object keys of server-side encrypted objects (reading them)."""

    @cached_property
    def session(self) -> Session:
        """The request's ORM session. A mutating action's session is its transaction; a read-only
        action's is opened on first use and never committed."""
        return self.open_session()
