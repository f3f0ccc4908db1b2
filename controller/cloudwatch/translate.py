"""The one table that turns domain errors (auth, protocol) into CloudWatch API errors."""

from __future__ import annotations

from controller.auth import errors as auth
from controller.cloudwatch import errors as cw
from controller.protocol import errors as proto

_AUTH: dict[type[auth.AuthError], type[cw.CloudWatchError]] = {
    auth.MissingAuthentication: cw.MissingAuthenticationToken,
    auth.IncompleteSignature: cw.IncompleteSignature,
    auth.UnsupportedSignature: cw.IncompleteSignature,
    auth.UnknownAccessKey: cw.InvalidClientTokenId,
    auth.InactiveAccessKey: cw.InvalidClientTokenId,
    auth.SignatureMismatch: cw.SignatureDoesNotMatch,
    auth.RequestExpired: cw.RequestExpired,
    auth.RequestTimeTooSkewed: cw.SignatureDoesNotMatch,
    auth.PayloadHashMismatch: cw.SignatureDoesNotMatch,
    auth.InvalidDate: cw.IncompleteSignature,
}

_AUTH_MESSAGES: dict[type[auth.AuthError], str] = {
    auth.UnknownAccessKey: "The security token included in the request is invalid.",
    auth.InactiveAccessKey: "The security token included in the request is invalid.",
    auth.SignatureMismatch: cw.SignatureDoesNotMatch.default_message,
}

_PROTOCOL: dict[type[proto.ParameterError], type[cw.CloudWatchError]] = {
    proto.MissingParameter: cw.MissingParameter,
    proto.InvalidParameterValue: cw.InvalidParameterValue,
    proto.UnknownParameter: cw.InvalidParameterValue,
}


def from_auth_error(error: auth.AuthError) -> cw.CloudWatchError:
    for kind in type(error).__mro__:
        target = _AUTH.get(kind)
        if target is not None:
            return target(_AUTH_MESSAGES.get(kind, error.message))
    return cw.InvalidClientTokenId()


def from_protocol_error(error: proto.ParameterError) -> cw.CloudWatchError:
    if isinstance(error, proto.MissingParameter):
        return cw.MissingParameter(
            f"The parameter {error.wire_name} is required.")
    for kind in type(error).__mro__:
        target = _PROTOCOL.get(kind)
        if target is not None:
            return target(str(error))
    return cw.InvalidParameterValue(str(error))
