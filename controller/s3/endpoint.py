"""The S3 REST endpoint: authenticate, route by (method, level, sub-resource), answer S3 errors."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Mapping

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from controller.auth import errors as auth
from controller.auth.request import HttpRequest
from controller.config import Settings
from controller.db.reader import reading
from controller.identity.authenticate import Authenticator, Principal
from controller.logs import event
from controller.s3 import access_log, cors, errors
from controller.s3.access import RequestFacts, action_for, bind
from controller.s3.bucket_cors import cors_configuration
from controller.s3.context import S3Context, S3Reply
from controller.s3.encryption import Keys
from controller.s3.errors import render_error
from controller.s3.routes import resolve, subresource_of
from controller.s3.target import Target, parse_target
from storage.objects import BlobStore

log = logging.getLogger("ironbark.s3")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")

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
    def __init__(self, settings: Settings, engine: Engine, sessions: sessionmaker[Session],
                 authenticator: Authenticator, blobs: BlobStore, keys: Keys | None = None,
                 logs: access_log.AccessLog | None = None) -> None:
        self._settings = settings
        self.logs = logs if logs is not None else access_log.AccessLog()
        self._keys = keys
        self._engine = engine
        self._sessions = sessions
        self._auth = authenticator
        self._blobs = blobs

    async def handle(self, request: Request, request_id: str,
                     headers: dict[str, str]) -> Response:
        """Serve one S3 request; the body is not read here (handlers stream it). ``headers``:
        the request's, already joined (:func:`~controller.auth.request.join_headers`)."""
        declared = headers.get("x-amz-content-sha256", "")
        signed_hash = declared.lower() if _HEX64.fullmatch(declared) else None
        if signed_hash is None and not declared:
            signed_hash = _EMPTY_SHA256  # SigV4 without the header signs the hash of the body
        http = HttpRequest.from_asgi(request.scope, b"", parse_form_body=False,
                                     body_sha256=signed_hash or declared or None,
                                     headers=headers)
        target = Target(None, None)
        principal: Principal | None = None
        started = time.monotonic()
        error: errors.S3Error | None = None
        reply: S3Reply | None = None
        try:
            target = _target(http, self._settings.dns_domain)
            if target.virtual_host and target.bucket is not None:
                # SigV2 signs /bucket/key, whichever way the bucket was addressed.
                http = dataclasses.replace(http, virtual_host_bucket=target.bucket)
            # An OPTIONS request is a CORS preflight, never signed (a presigned URL's query
            # signature was made for another method): it is answered without authentication.
            principal = None if request.method == "OPTIONS" else self._authenticate(http)
            query = _utf8_query(http.query)
            handler = resolve(request.method, target.level, query)
            _bind_access(request, target, http)
            ctx = S3Context(request=request, target=target, query=query,
                            headers=http.headers, principal=principal, sessions=self._sessions,
                            engine=self._engine, blobs=self._blobs, settings=self._settings, request_id=request_id,
                            payload_sha256=signed_hash if declared else None,
                            authenticator=self._auth, keys=self._keys, logs=self.logs)
            reply = await handler(ctx)
        except errors.S3Error as exc:
            error = exc
            response = self._error(request, exc, target, request_id)
        except ClientDisconnect:
            # The client hung up before its body was read (e.g. after asking for 100 Continue):
            # a client's doing, answered (to nobody) as the short body it is, not an error of
            # the server's.
            error = errors.IncompleteBody()
            response = self._error(request, error, target, request_id)
        except Exception:  # noqa: BLE001 - the last resort: answer InternalError, log the traceback
            event(log, logging.ERROR, "s3.unhandled", exc_info=True)
            error = errors.S3Error()
            response = self._error(request, error, target, request_id)
        else:
            response = _response(request.method, reply, request_id)
        copied = access_log.copy_source(http.headers["x-amz-copy-source"]) if (
            request.method == "PUT" and "x-amz-copy-source" in http.headers) else None
        if self._logged(target, copied):
            try:
                self._log_access(request, http, target, principal, request_id, response, error,
                                 started, reply, copied)
            except Exception:  # noqa: BLE001 - best effort, as in S3: never fails the request
                event(log, logging.ERROR, "s3.access_log_failed", exc_info=True)
        return self._cors(request, headers, target, response)

    def _logged(self, target: Target, copied: tuple[str, str, str | None] | None) -> bool:
        """Whether the request has a server access log to go to: its bucket's, or (a copy)
        its source bucket's. One dict lookup for nearly every request."""
        if target.bucket is not None and self.logs.config(target.bucket) is not None:
            return True
        return copied is not None and self.logs.config(copied[0]) is not None

    def _log_access(self, request: Request, http: HttpRequest, target: Target,
                    principal: Principal | None, request_id: str, response: Response,
                    error: errors.S3Error | None, started: float, reply: S3Reply | None,
                    copied: tuple[str, str, str | None] | None) -> None:
        """Entries of server access logs: the request's in its bucket's log, one per object a
        DeleteObjects deleted, and, for a copy, one in the source bucket's log (as S3 writes
        ``REST.COPY.OBJECT_GET``)."""
        query = dict(http.query)
        method = request.method
        entry = access_log.request_entry(
            request, http.headers, query, target.bucket or "", target.key,
            access_log.operation(method, target.level, subresource_of(query), copied is not None),
            principal.account_id if principal is not None else None, request_id, response,
            error.code if error is not None else None, started)
        if target.bucket is not None and self.logs.config(target.bucket) is not None:
            self.logs.add(entry)
            for key, version_id in (reply.batch_deleted or []) if reply is not None else []:
                self.logs.add(dataclasses.replace(
                    entry, operation="BATCH.DELETE.OBJECT", key=key, version_id=version_id,
                    status=204, bytes_sent=None, object_size=None))
        if copied is not None and self.logs.config(copied[0]) is not None:
            self.logs.add(dataclasses.replace(
                entry, bucket=copied[0], key=copied[1], version_id=copied[2],
                operation=entry.operation + "_GET", bytes_sent=None))

    def _cors(self, request: Request, headers: Mapping[str, str], target: Target,
              response: Response) -> Response:
        """A cross-origin request (``Origin``) to a bucket gets the Access-Control-* headers of
        the bucket's first CORS rule allowing its origin and method, success or error. The
        method is ``Access-Control-Request-Method`` when sent, else the request's own."""
        origin = headers.get("origin")
        if origin is None or target.bucket is None or request.method == "OPTIONS":
            return response
        method = headers.get("access-control-request-method", request.method)
        config = cors_configuration(self._sessions, target.bucket)
        for name, value in cors.actual(config, origin, method):
            response.headers[name] = value
        return response

    def _authenticate(self, http: HttpRequest) -> Principal | None:
        try:
            with reading(self._engine) as reader:
                return self._auth.authenticate(reader, http)
        except auth.AuthError as exc:
            raise from_auth_error(exc) from None

    def _error(self, request: Request, exc: errors.S3Error, target: Target,
               request_id: str) -> Response:
        method = request.method
        level = logging.INFO if exc.sender_fault else logging.ERROR
        event(log, level, "s3.error", code=exc.code, status=exc.http_status)
        headers = {"x-amz-request-id": request_id, **exc.headers}
        if _may_hold_unread_body(request):
            headers["Connection"] = "close"  # else the unread body is parsed as the next request
        if exc.http_status == 304 or method == "HEAD":
            return Response(None, exc.http_status, headers=headers)
        body = render_error(exc, target.resource, request_id)
        return Response(body, exc.http_status, headers=headers, media_type="application/xml")


def _bind_access(request: Request, target: Target, http: HttpRequest) -> None:
    """What access checks need to know of this request (source address, scheme, headers)."""
    query = dict(http.query)
    client = request.scope.get("client")
    facts = RequestFacts(source_ip=client[0] if client else "",
                         secure=request.scope.get("scheme") == "https", headers=http.headers,
                         query=query)
    bind(facts, action_for(request.method, target.level, subresource_of(query), query),
         target.key)


def _utf8_query(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The query as handlers see it. Parameters were decoded with ``surrogateescape`` so that
    signatures can be checked byte for byte; one that is not UTF-8 is a client error."""
    query = dict(pairs)
    for name, value in query.items():
        for text in (name, value):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise errors.InvalidArgument(
                    "Query parameters must be valid UTF-8", ArgumentName=name.encode(
                        "utf-8", "replace").decode()) from None
    return query


def _may_hold_unread_body(request: Request) -> bool:
    """A request that announced a body the handler may have left unread (an early error)."""
    length = request.headers.get("content-length", "0")
    return "transfer-encoding" in request.headers or length not in ("", "0")


_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _target(http: HttpRequest, dns_domain: str | None) -> Target:
    try:
        return parse_target(http.raw_path, http.headers.get("host", ""), dns_domain)
    except UnicodeDecodeError:
        raise errors.InvalidRequest("Couldn't parse the specified URI.") from None


def _response(method: str, reply: S3Reply, request_id: str) -> Response:
    headers = {"x-amz-request-id": request_id, **dict(reply.headers)}
    body = reply.body
    if method == "HEAD" or body is None or isinstance(body, bytes):
        # For HEAD the handler's Content-Length stands (the size of what a GET would send).
        return Response(body if method != "HEAD" else None, reply.status, headers=headers)
    return StreamingResponse(iter(body), reply.status, headers=headers)


def response_of(method: str, reply: S3Reply, request_id: str) -> Response:
    """The HTTP response for a handler's reply (also used by the website endpoint)."""
    return _response(method, reply, request_id)
