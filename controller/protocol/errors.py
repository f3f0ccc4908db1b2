"""Protocol-level errors raised while decoding an EC2 Query request.

These are plain domain errors, not :class:`~controller.api_error.ApiError` subclasses: the
EC2 layer maps them to AWS error codes in its one translation table. Each carries the
wire name of the offending parameter and the AWS-worded message in ``message``.
"""

from __future__ import annotations

_MAX_ECHO = 256  # longest parameter value repeated back in a message


class ParameterError(Exception):
    """Base of every request-parameter error; ``message`` is the text sent to the client."""

    def __init__(self, wire_name: str, message: str) -> None:
        self.wire_name = wire_name
        self.message = message
        super().__init__(message)


class MissingParameter(ParameterError):
    """A required parameter is absent."""

    def __init__(self, wire_name: str) -> None:
        super().__init__(wire_name, f"The request must contain the parameter {wire_name}")


class UnknownParameter(ParameterError):
    """The operation has no parameter of this name."""

    def __init__(self, wire_name: str) -> None:
        super().__init__(wire_name, f"The parameter {wire_name} is not recognized")


class InvalidParameterValue(ParameterError):
    """A parameter is present but its value is malformed or out of range.

    ``value`` is ``None`` when it must not be echoed (sensitive or binary members).
    """

    def __init__(self, wire_name: str, value: str | None, reason: str) -> None:
        self.value = value
        self.reason = reason
        if value is None:
            message = f"Value for parameter {wire_name} is invalid. {reason}"
        else:
            shown = value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "..."
            message = f"Value ({shown}) for parameter {wire_name} is invalid. {reason}"
        ParameterError.__init__(self, wire_name, message)


class ParameterTooLarge(InvalidParameterValue):
    """A value, a list or the whole request exceeds a size cap (an InvalidParameterValue).

    ``wire_name`` is empty when the request as a whole is too large.
    """

    def __init__(self, wire_name: str, reason: str) -> None:
        super().__init__(wire_name, None, reason)
        if not wire_name:
            self.message = f"The request is invalid. {reason}"
            self.args = (self.message,)
