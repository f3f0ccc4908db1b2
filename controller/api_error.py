"""The base of every API's error hierarchy.

Each API (EC2, S3, ...) subclasses :class:`ApiError` once per AWS error code, in its own
``errors`` module. Domain errors raised by services are translated to these in one table
per API; anything else becomes that API's ``InternalError``.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error that is answered to the client with an AWS error code."""

    code: str = "InternalError"
    http_status: int = 500
    sender_fault: bool = False
    default_message: str = "An internal error has occurred."

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"
