"""The explicit table of CloudWatch operations: ``@operation("PutMetricData")`` registers a
handler. Handlers take a :class:`Context` and the parsed input (botocore member names, typed)
and return plain data shaped like the operation's output shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from controller.config import Settings

Params = dict[str, Any]
Result = Mapping[str, Any]


@dataclass(frozen=True)
class Context:
    session: Session
    """The request's transaction."""
    settings: Settings
    account_id: str
    user_id: str
    request_id: str
    now: datetime


Handler = Callable[[Context, Params], Result]
_OPERATIONS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in _OPERATIONS:
            raise RuntimeError(f"CloudWatch operation {name} registered twice")
        _OPERATIONS[name] = handler
        return handler

    return register


def operations() -> Mapping[str, Handler]:
    """Every registered operation; importing the handler modules fills the table."""
    import controller.cloudwatch.alarms
    import controller.cloudwatch.metric_data
    import controller.cloudwatch.metrics  # noqa: F401

    return _OPERATIONS
