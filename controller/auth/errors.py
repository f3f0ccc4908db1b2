"""Domain errors raised while authenticating a request.

These are plain exceptions, not :class:`~controller.api_error.ApiError`: each API (EC2, S3)
maps them to its own AWS error codes in its own table. Messages never contain secret keys
or signatures, so they are safe to send back to the client and to log.
"""

from __future__ import annotations


class AuthError(Exception):
    """Base class: the request could not be authenticated."""

    default_message = "The request could not be authenticated."

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class MissingAuthentication(AuthError):
    """The request carries no credentials at all, and the operation needs them."""

    default_message = "The request must contain authentication information."


class IncompleteSignature(AuthError):
    """Authentication material is present but malformed or incomplete."""

    default_message = "The request signature does not conform to AWS standards."


class UnsupportedSignature(AuthError):
    """An algorithm, SignatureVersion or SignatureMethod this server does not support."""

    default_message = "The signature algorithm is not supported."


class UnknownAccessKey(AuthError):
    """No access key with this id exists (raised by the caller after the lookup)."""

    default_message = "The access key ID provided does not exist in our records."


class InactiveAccessKey(AuthError):
    """The access key exists but is disabled (raised by the caller after the lookup)."""

    default_message = "The access key ID provided is not active."


class SignatureMismatch(AuthError):
    """The signature computed with the stored secret differs from the one sent."""

    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your secret access key and signing method."
    )


class RequestExpired(AuthError):
    """A presigned request (or a V2 request with ``Expires``) is past its expiry time."""

    default_message = "The request has expired."


class RequestTimeTooSkewed(AuthError):
    """The request time is too far from the server's time."""

    default_message = "The difference between the request time and the current time is too large."


class PayloadHashMismatch(AuthError):
    """``x-amz-content-sha256`` does not match the body (or is not a valid value)."""

    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class InvalidDate(AuthError):
    """A date or timestamp could not be parsed."""

    default_message = "The date in the request could not be parsed."
