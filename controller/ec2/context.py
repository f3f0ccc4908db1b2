"""What an EC2 handler knows about the request it serves."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from controller.config import Settings


@dataclass(frozen=True)
class RequestContext:
    session: Session
    settings: Settings
    account_id: str
    user_id: str
    request_id: str
    api_version: str
    host: str = ""
    """The Host header the client used (without port), for endpoints in responses."""
