"""The EC2 Query endpoint: authenticate, parse, dispatch, serialize, and answer errors as EC2 does."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from controller.auth.errors import AuthError
from controller.auth.request import HttpRequest
from controller.config import Settings
from controller.db.engine import LazySession, transaction
from controller.db.reader import Reader, reading
from controller.ec2 import errors
from controller.ec2.context import RequestContext
from controller.ec2.registry import ActionSpec, actions
from controller.ec2.translate import from_auth_error, from_protocol_error
from controller.identity.authenticate import Authenticator, Principal
from controller.logs import event
from controller.protocol.errors import ParameterError
from controller.protocol.model import operation_model
from controller.protocol.query_parser import parse_ec2_query, split_envelope
from controller.protocol.xml_serializer import serialize_ec2_error, serialize_ec2_response
from controller.s3.encryption import Keys
from storage.objects import BlobStore

log = logging.getLogger("ironbark.ec2")

LATEST_VERSION = "2016-11-15"
OLDEST_VERSION = "2006-06-26"
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
XML = "text/xml;charset=UTF-8"


@dataclass(frozen=True)
class _Call:
    action: str
    params: Sequence[tuple[str, str]]
    principal: Principal
    version: str
    request_id: str
    host: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = XML


def _version(value: str | None) -> str:
    if value is None:
        return LATEST_VERSION
    if not _VERSION.fullmatch(value) or not OLDEST_VERSION <= value <= LATEST_VERSION:
        raise errors.NoSuchVersion(
            f"The requested version ({value[:32]}) of service AmazonEC2 does not exist"
        )
    return value


class Ec2Endpoint:
    def __init__(
        self, settings: Settings, engine: Engine, sessions: sessionmaker[Session],
        authenticator: Authenticator, blobs: BlobStore | None = None,
        keys: Keys | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._sessions = sessions
        self._auth = authenticator
        self._blobs = blobs
        self._keys = keys
        self._actions = actions()

    def handle(self, request: HttpRequest, params: Sequence[tuple[str, str]], request_id: str) -> Reply:
        """Serve one Query request; every failure becomes an EC2 error envelope, never a raw 500.

        A mutating action runs in one transaction that covers authentication, the handler and
        serialisation, and commits only once a response has been rendered. A read-only action
        (``mutating=False``) runs on a connection of its own and never commits anything: its
        handler reads through ``ctx.reader`` and, only if it asks, an ORM session."""
        envelope, rest = split_envelope(params)
        name = envelope.get("Action", "")
        spec = self._actions.get(name)
        try:
            if spec is not None and not spec.mutating:
                lazy = LazySession(self._sessions)
                try:
                    with reading(self._engine) as reader:
                        return self._serve(reader, lazy, request, envelope, rest, request_id)
                finally:
                    lazy.close()
            with transaction(self._sessions) as session:
                return self._serve(Reader.of_session(session), lambda: session, request,
                                   envelope, rest, request_id)
        except errors.Ec2Error as exc:
            return self._error(exc, name, request_id)
        except Exception:  # noqa: BLE001 - the last resort: answer InternalError, log the traceback
            event(log, logging.ERROR, "ec2.unhandled", action=name[:64], exc_info=True)
            return self._error(errors.InternalError(), name, request_id)

    def _serve(self, reader: Reader, open_session: Callable[[], Session], request: HttpRequest,
               envelope: Mapping[str, str], rest: Sequence[tuple[str, str]],
               request_id: str) -> Reply:
        principal = self._authenticate(reader, request)
        version = _version(envelope.get("Version"))
        host = request.headers.get("host", self._settings.host).rsplit(":", 1)[0]
        call = _Call(envelope.get("Action", ""), rest, principal, version, request_id, host)
        return self._dispatch(reader, open_session, call)

    def _authenticate(self, reader: Reader, request: HttpRequest) -> Principal:
        try:
            principal = self._auth.authenticate(reader, request)
        except AuthError as exc:
            raise from_auth_error(exc) from None
        if principal is None:
            raise errors.MissingAuthenticationToken()
        return principal

    def _dispatch(self, reader: Reader, open_session: Callable[[], Session], call: _Call) -> Reply:
        if not call.action:
            raise errors.MissingAction()
        spec: ActionSpec | None = self._actions.get(call.action)
        op = operation_model(call.action) if spec is not None else None
        if spec is None or op is None:
            raise errors.InvalidAction(
                f"The action {call.action[:64]} is not valid for this web service."
            )
        try:
            parsed = parse_ec2_query(op, call.params)
        except ParameterError as exc:
            raise from_protocol_error(exc) from None
        if parsed.pop("DryRun", False):
            raise errors.DryRunOperation()
        ctx = RequestContext(
            reader=reader,
            open_session=open_session,
            settings=self._settings,
            account_id=call.principal.account_id,
            user_id=call.principal.user_id,
            request_id=call.request_id,
            api_version=call.version,
            host=call.host,
            blobs=self._blobs,
            keys=self._keys,
        )
        result = spec.handler(ctx, parsed)
        body = serialize_ec2_response(
            op, result, request_id=call.request_id, api_version=call.version
        )
        if spec.mutating:
            ctx.session.flush()
        return Reply(200, body)

    def _error(self, exc: errors.Ec2Error, name: str, request_id: str) -> Reply:
        level = logging.INFO if exc.sender_fault else logging.ERROR
        event(log, level, "ec2.error", action=name[:64], code=exc.code, status=exc.http_status)
        return Reply(exc.http_status, serialize_ec2_error(exc.code, exc.message, request_id))
