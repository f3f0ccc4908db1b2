"""The S3 REST endpoint. Until the object store lands it authenticates and answers NotImplemented."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from controller.auth import errors as auth
from controller.auth.request import HttpRequest
from controller.identity.authenticate import Authenticator
from controller.logs import event
from controller.s3 import errors
from controller.s3.errors import render_error

log = logging.getLogger("ironbark.s3")

_AUTH: dict[type[auth.AuthError], type[errors.S3Error]] = {
    auth.MissingAuthentication: errors.AccessDenied,
    auth.IncompleteSignature: errors.AuthorizationHeaderMalformed,
    auth.UnsupportedSignature: errors.InvalidRequest,
    auth.UnknownAccessKey: errors.InvalidAccessKeyId,
    auth.InactiveAccessKey: errors.InvalidAccessKeyId,
    auth.SignatureMismatch: errors.SignatureDoesNotMatch,
    auth.RequestExpired: errors.AccessDenied,
    auth.RequestTimeTooSkewed: errors.RequestTimeTooSkewed,
    auth.PayloadHashMismatch: errors.XAmzContentSHA256Mismatch,
    auth.InvalidDate: errors.AccessDenied,
}


def from_auth_error(error: auth.AuthError) -> errors.S3Error:
    target = _AUTH.get(type(error), errors.AccessDenied)
    message = "Request has expired" if isinstance(error, auth.RequestExpired) else None
    return target(message)


class S3Endpoint:
    def __init__(self, sessions: sessionmaker[Session], authenticator: Authenticator) -> None:
        self._sessions = sessions
        self._auth = authenticator

    def handle(self, request: HttpRequest, request_id: str) -> tuple[int, bytes]:
        try:
            try:
                with self._sessions() as session:
                    self._auth.authenticate(session, request)
            except auth.AuthError as exc:
                raise from_auth_error(exc) from None
            raise errors.NotImplementedError_(
                "The S3 API is not available on this endpoint yet."
            )
        except errors.S3Error as exc:
            event(log, logging.INFO, "s3.error", code=exc.code, status=exc.http_status)
            return exc.http_status, render_error(exc, request.raw_path, request_id)
        except Exception:  # noqa: BLE001 - the last resort: answer InternalError, log the traceback
            event(log, logging.ERROR, "s3.unhandled", exc_info=True)
            return 500, render_error(errors.S3Error(), request.raw_path, request_id)
