"""The CloudWatch endpoint (service ``monitoring``) in the three protocols its clients speak:

* Query (boto 2, older SDKs): form or URL parameters with an ``Action``; XML answers in the
  ``http://monitoring.amazonaws.com/doc/2010-08-01/`` namespace;
* JSON (awsJson1_0): ``X-Amz-Target: GraniteServiceVersion20100801.<Op>``;
* ``smithy-rpc-v2-cbor`` (what the pinned botocore, so boto3 and the AWS CLI, pick first):
  ``POST /service/GraniteServiceVersion20100801/operation/<Op>``, CBOR bodies.

Errors keep one hierarchy (``controller.cloudwatch.errors``); JSON and CBOR errors carry the
modelled shape name in ``__type`` and the Query code in ``x-amzn-query-error`` (the model is
``awsQueryCompatible``), so botocore reports the same codes whatever the protocol.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from controller.auth.errors import AuthError
from controller.auth.request import HttpRequest
from controller.cloudwatch import errors
from controller.cloudwatch.registry import Context, operations
from controller.cloudwatch.translate import from_auth_error, from_protocol_error
from controller.config import Settings
from controller.db.engine import transaction
from controller.db.reader import Reader
from controller.identity.authenticate import Authenticator, Principal
from controller.logs import event
from controller.protocol import cbor
from controller.protocol.document import decode_document, encode_document
from controller.protocol.errors import ParameterError
from controller.protocol.model import OperationModel, service_model
from controller.protocol.query_parser import parse_aws_query, split_envelope
from controller.protocol.query_xml import serialize_query_error, serialize_query_response

log = logging.getLogger("ironbark.cloudwatch")

SERVICE = "cloudwatch"
SIGNING_NAME = "monitoring"
TARGET_PREFIX = "GraniteServiceVersion20100801"
CBOR_PATH = f"/service/{TARGET_PREFIX}/operation/"
NAMESPACE = "http://monitoring.amazonaws.com/doc/2010-08-01/"
JSON_TYPE = "application/x-amz-json-1.0"
CBOR_TYPE = "application/cbor"
XML_TYPE = "text/xml"

Wire = Literal["query", "json", "cbor"]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str]


@functools.cache
def _operation_names() -> frozenset[str]:
    return frozenset(str(n) for n in service_model(SERVICE).operation_names)


@functools.cache
def _error_shapes() -> dict[str, str]:
    """Query error code → modelled exception shape name (``InvalidParameterValueException``)."""
    model = service_model(SERVICE)
    out: dict[str, str] = {}
    for name in model.shape_names:
        shape = model.shape_for(name)
        code = shape.metadata.get("error", {}).get("code") if shape.metadata.get(
            "exception") else None
        if code:
            out[str(code)] = str(name)
    return out


def warm_up() -> None:
    """Load the model and the handler table now rather than on the first request."""
    for name in operations():
        service_model(SERVICE).operation_model(name)
    _error_shapes()


def rpc_operation(method: str, path: str, headers: Mapping[str, str]) -> tuple[Wire, str] | None:
    """``(wire, operation)`` when the request is a CloudWatch JSON or CBOR call."""
    if method != "POST":
        return None
    if path.startswith(CBOR_PATH):
        return "cbor", path[len(CBOR_PATH):]
    target = headers.get("x-amz-target", "")
    if target.startswith(TARGET_PREFIX + "."):
        return "json", target[len(TARGET_PREFIX) + 1:]
    return None


def _scope_service(request: HttpRequest, params: Sequence[tuple[str, str]]) -> str | None:
    """The service named in a SigV4 credential scope (header or presigned), if any."""
    credential = dict(params).get("X-Amz-Credential")
    if credential is None:
        auth = request.headers.get("authorization", "")
        _, found, rest = auth.partition("Credential=")
        if not found:
            return None
        credential = rest.split(",", 1)[0]
    parts = credential.strip().split("/")
    return parts[3] if len(parts) == 5 else None


def is_query_call(request: HttpRequest, params: Sequence[tuple[str, str]]) -> bool:
    """A Query call is CloudWatch's when signed for ``monitoring`` or naming one of its
    actions (no CloudWatch action is also an EC2 action; boto 2 signs with the host name)."""
    if _scope_service(request, params) == SIGNING_NAME:
        return True
    action = next((v for k, v in params if k == "Action"), "")
    return action in _operation_names()


class CloudWatchEndpoint:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session],
                 authenticator: Authenticator) -> None:
        self._settings = settings
        self._sessions = sessions
        self._auth = authenticator

    def handle_query(self, request: HttpRequest, params: Sequence[tuple[str, str]],
                     request_id: str) -> Reply:
        envelope, rest = split_envelope(params)
        return self._handle("query", envelope.get("Action", ""), request, rest, request_id)

    def handle_rpc(self, wire: Wire, name: str, request: HttpRequest, payload: bytes,
                   request_id: str) -> Reply:
        """A JSON or CBOR call; ``payload`` is the body with any gzip encoding undone."""
        return self._handle(wire, name, request, payload, request_id)

    def _handle(self, wire: Wire, name: str, request: HttpRequest, payload: Any,
                request_id: str) -> Reply:
        try:
            with transaction(self._sessions) as session:
                return self._serve(session, wire, name, request, payload, request_id)
        except errors.CloudWatchError as exc:
            return self._error(wire, exc, name, request_id)
        except Exception:  # noqa: BLE001 - the last resort: answer InternalError, log the traceback
            event(log, logging.ERROR, "cloudwatch.unhandled", action=name[:64], exc_info=True)
            return self._error(wire, errors.InternalServiceError(), name, request_id)

    def _serve(self, session: Session, wire: Wire, name: str, request: HttpRequest,
               payload: Any, request_id: str) -> Reply:
        principal = self._authenticate(session, request)
        handler = operations().get(name)
        if not name and wire == "query":
            raise errors.MissingAction()
        if handler is None or name not in _operation_names():
            if wire == "query":
                raise errors.InvalidAction(
                    f"The action {name[:64]} is not valid for this web service.")
            raise errors.UnknownOperation(f"Unknown operation {name[:64]}")
        op = service_model(SERVICE).operation_model(name)
        params = self._parse(wire, op, payload)
        ctx = Context(session=session, settings=self._settings,
                      account_id=principal.account_id, user_id=principal.user_id,
                      request_id=request_id, now=datetime.now(UTC))
        result = handler(ctx, params)
        session.flush()
        return self._render(wire, op, result, request_id)

    def _authenticate(self, session: Session, request: HttpRequest) -> Principal:
        try:
            principal = self._auth.authenticate(Reader.of_session(session), request)
        except AuthError as exc:
            raise from_auth_error(exc) from None
        if principal is None:
            raise errors.MissingAuthenticationToken()
        return principal

    @staticmethod
    def _parse(wire: Wire, op: OperationModel, payload: Any) -> dict[str, Any]:
        try:
            if wire == "query":
                return parse_aws_query(op, payload)
            try:
                document = (cbor.decode(payload) if wire == "cbor"
                            else json.loads(payload or b"{}"))
            except (cbor.CborError, ValueError, UnicodeDecodeError):
                raise errors.SerializationException() from None
            if not isinstance(document, dict):
                raise errors.SerializationException()
            return decode_document(op.input_shape, document, wire)
        except ParameterError as exc:
            raise from_protocol_error(exc) from None

    @staticmethod
    def _render(wire: Wire, op: OperationModel, result: Mapping[str, Any],
                request_id: str) -> Reply:
        headers = {"x-amzn-requestid": request_id}
        if wire == "query":
            body = serialize_query_response(op, result, request_id=request_id,
                                            namespace=NAMESPACE)
            return Reply(200, body, XML_TYPE, headers)
        document = encode_document(op.output_shape, result, wire)
        if wire == "cbor":
            return Reply(200, cbor.encode(document), CBOR_TYPE,
                         {**headers, "smithy-protocol": "rpc-v2-cbor"})
        return Reply(200, json.dumps(document).encode("utf-8"), JSON_TYPE, headers)

    def too_large(self, wire: Wire, request_id: str, limit: int) -> Reply:
        error = errors.RequestEntityTooLarge(f"Request body must not exceed {limit} bytes.")
        return self._error(wire, error, "", request_id)

    @staticmethod
    def _error(wire: Wire, exc: errors.CloudWatchError, name: str, request_id: str) -> Reply:
        level = logging.INFO if exc.sender_fault else logging.ERROR
        event(log, level, "cloudwatch.error", action=name[:64], code=exc.code,
              status=exc.http_status)
        headers = {"x-amzn-requestid": request_id}
        if wire == "query":
            body = serialize_query_error(exc.code, exc.message, exc.sender_fault, request_id,
                                         NAMESPACE)
            return Reply(exc.http_status, body, XML_TYPE, headers)
        fault = "Sender" if exc.sender_fault else "Receiver"
        headers["x-amzn-query-error"] = f"{exc.code};{fault}"
        document = {"__type": "com.amazonaws.cloudwatch#" + _error_shapes().get(exc.code, exc.code),
                    "message": exc.message}
        if wire == "cbor":
            return Reply(exc.http_status, cbor.encode(document), CBOR_TYPE,
                         {**headers, "smithy-protocol": "rpc-v2-cbor"})
        return Reply(exc.http_status, json.dumps(document).encode("utf-8"), JSON_TYPE, headers)
