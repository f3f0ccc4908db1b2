"""The one table that turns domain errors (auth, protocol, identity) into EC2 API errors."""

from __future__ import annotations

from controller.auth import errors as auth
from controller.ec2 import errors as ec2
from controller.protocol import errors as proto

_AUTH: dict[type[auth.AuthError], type[ec2.Ec2Error]] = {
    auth.MissingAuthentication: ec2.MissingAuthenticationToken,
    auth.IncompleteSignature: ec2.IncompleteSignature,
    auth.UnsupportedSignature: ec2.InvalidParameterValue,
    auth.UnknownAccessKey: ec2.AuthFailure,
    auth.InactiveAccessKey: ec2.AuthFailure,
    auth.SignatureMismatch: ec2.AuthFailure,
    auth.RequestExpired: ec2.RequestExpired,
    auth.RequestTimeTooSkewed: ec2.RequestExpired,
    auth.PayloadHashMismatch: ec2.AuthFailure,
    auth.InvalidDate: ec2.AuthFailure,
}

# Messages AWS uses, where the auth layer's own message would say more than EC2 does.
_AUTH_MESSAGES: dict[type[auth.AuthError], str] = {
    auth.UnknownAccessKey: "AWS was not able to validate the provided access credentials",
    auth.InactiveAccessKey: "AWS was not able to validate the provided access credentials",
    auth.SignatureMismatch: "AWS was not able to validate the provided access credentials",
}

_PROTOCOL: dict[type[proto.ParameterError], type[ec2.Ec2Error]] = {
    proto.MissingParameter: ec2.MissingParameter,
    proto.InvalidParameterValue: ec2.InvalidParameterValue,
    proto.UnknownParameter: ec2.UnknownParameter,
}


def from_auth_error(error: auth.AuthError) -> ec2.Ec2Error:
    for kind in type(error).__mro__:
        target = _AUTH.get(kind)
        if target is not None:
            return target(_AUTH_MESSAGES.get(kind, error.message))
    return ec2.AuthFailure()


def from_protocol_error(error: proto.ParameterError) -> ec2.Ec2Error:
    for kind in type(error).__mro__:
        target = _PROTOCOL.get(kind)
        if target is not None:
            return target(str(error))
    return ec2.InvalidParameterValue(str(error))
