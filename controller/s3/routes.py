"""The table of S3 operations: (method, level, sub-resource) → handler.

Levels are ``service`` (``/``), ``bucket`` (``/b``) and ``object`` (``/b/k``); the sub-resource is
the first query parameter of :data:`SUBRESOURCES` present (``?versioning``, ``?uploadId=...``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from controller.s3 import errors
from controller.s3.context import S3Context, S3Reply

Handler = Callable[[S3Context], Awaitable[S3Reply]]

SUBRESOURCES = (
    "uploadId", "uploads", "versioning", "versions", "location", "tagging", "acl", "policy",
    "cors", "lifecycle", "website", "delete", "logging", "notification", "replication",
    "encryption", "requestPayment", "accelerate", "analytics", "inventory", "metrics",
    "object-lock", "ownershipControls", "publicAccessBlock", "policyStatus",
    "intelligent-tiering", "legal-hold", "retention", "torrent", "restore", "select",
    "attributes",
)

_ROUTES: dict[tuple[str, str, str], Handler] = {}


def route(method: str, level: str, subresource: str = "") -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        key = (method, level, subresource)
        if key in _ROUTES:
            raise RuntimeError(f"S3 route {key} registered twice")
        _ROUTES[key] = handler
        return handler

    return register


def routes() -> Mapping[tuple[str, str, str], Handler]:
    import controller.s3.operations  # noqa: F401  (handler modules register themselves)

    return _ROUTES


def subresource_of(query: Mapping[str, str]) -> str:
    if not query:
        return ""
    return next((name for name in SUBRESOURCES if name in query), "")


def resolve(method: str, level: str, query: Mapping[str, str]) -> Handler:
    """The handler, or the S3 error for a method or sub-resource nothing serves."""
    table = routes()
    sub = subresource_of(query)
    handler = table.get((method, level, sub))
    if handler is not None:
        return handler
    if any(key[1] == level and key[2] == sub for key in table):
        raise errors.MethodNotAllowed()
    raise errors.NotImplementedError_()
