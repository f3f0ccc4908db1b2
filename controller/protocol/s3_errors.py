"""Protocol-level errors raised while decoding an S3 REST-XML request body.

A plain domain error, not an :class:`~controller.api_error.ApiError`: the S3 layer maps it to
the S3 ``MalformedXML`` error (400) in its one translation table.
"""

from __future__ import annotations

__all__ = ["MalformedXML"]


class MalformedXML(Exception):
    """A request body is not well-formed XML, is refused (DOCTYPE, size), or breaks the shape.

    ``message`` is the AWS wording sent to the client; ``detail`` says what went wrong, for
    the log only (it may quote the client's input).
    """

    MESSAGE = (
        "The XML you provided was not well-formed or did not validate against our "
        "published schema"
    )

    def __init__(self, detail: str = "") -> None:
        self.message = self.MESSAGE
        self.detail = detail
        super().__init__(self.MESSAGE)
