"""Structured logging: ``event key=value ...`` lines (or JSON) carrying the request id.

Never pass secrets, signatures, key material or user-data as fields.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from typing import Any

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self._json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        base = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
            **fields,
        }
        if record.exc_info:
            base["exc"] = self.formatException(record.exc_info)
        if self._json:
            return json.dumps(base, default=str)
        text = " ".join(f"{k}={_quote(v)}" for k, v in base.items() if k != "exc")
        return text + ("\n" + base["exc"] if "exc" in base else "")


def _quote(value: object) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or "=" in text or not text) else text


def configure(level: str = "INFO", as_json: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(as_json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx"):  # httpx: a line per heartbeat otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields}, exc_info=fields.pop("exc_info", None))
