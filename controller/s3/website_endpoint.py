"""The S3 static website endpoint: ``http://BUCKET.<website domain>/path``.

A website request is an anonymous GET or HEAD of an object: the path becomes a key (the index
document appended in every folder), and the object is read through the ordinary GetObject path,
so access control, conditional requests and ranges behave exactly as for the REST API. Errors
answer as HTML pages, or as the bucket's error document; routing rules and
``RedirectAllRequestsTo`` redirect as S3 does.
"""

from __future__ import annotations

import html
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from controller.auth.request import join_headers
from controller.config import Settings
from controller.db.models import Bucket
from controller.logs import event
from controller.s3 import access_log, errors
from controller.s3.context import S3Context
from controller.s3.encryption import Keys
from controller.s3.endpoint import response_of
from controller.s3.objects import read_object
from controller.s3.target import Target
from storage.objects import BlobStore

log = logging.getLogger("ironbark.s3.website")

_TITLES = {301: "301 Moved Permanently", 302: "302 Found", 307: "307 Temporary Redirect",
           400: "400 Bad Request", 403: "403 Forbidden", 404: "404 Not Found",
           405: "405 Method Not Allowed", 412: "412 Precondition Failed",
           416: "416 Requested Range Not Satisfiable", 500: "500 Internal Server Error"}


@dataclass(frozen=True)
class _Site:
    bucket: str
    config: dict[str, Any]


class WebsiteEndpoint:
    def __init__(self, settings: Settings, engine: Engine, sessions: sessionmaker[Session],
                 blobs: BlobStore, keys: Keys | None = None,
                 logs: access_log.AccessLog | None = None) -> None:
        self._settings = settings
        self.logs = logs if logs is not None else access_log.AccessLog()
        self._keys = keys
        self._engine = engine
        self._sessions = sessions
        self._blobs = blobs
        domains = [settings.website_domain.lower().strip(".")]
        if settings.dns_domain:
            domains.append(f"s3-website.{settings.dns_domain.lower().strip('.')}")
        self._suffixes = tuple(f".{d}" for d in domains if d)

    def bucket_of(self, host: str) -> str | None:
        """The bucket a website host name names (``BUCKET.<website domain>``), else None."""
        hostname = host.rsplit(":", 1)[0].lower() if host else ""
        for suffix in self._suffixes:
            if hostname.endswith(suffix) and len(hostname) > len(suffix):
                return hostname[: -len(suffix)]
        return None

    async def handle(self, request: Request, bucket: str, request_id: str) -> Response:
        started = time.monotonic()
        error: errors.S3Error | None = None
        try:
            response = await self._serve(request, bucket, request_id)
        except errors.S3Error as exc:
            error = exc
            response = _error_page(exc, request.method, request_id)
        except Exception:  # noqa: BLE001 - the last resort: an HTML 500, traceback logged
            event(log, logging.ERROR, "website.unhandled", exc_info=True)
            error = errors.S3Error()
            response = _error_page(error, request.method, request_id)
        if self.logs.config(bucket) is not None:
            try:
                headers = join_headers(request.scope["headers"])
                key = unquote(request.url.path).lstrip("/") or None
                self.logs.add(access_log.request_entry(
                    request, headers, {}, bucket, key, f"WEBSITE.{request.method}.OBJECT", None,
                    request_id, response, error.code if error is not None else None, started))
            except Exception:  # noqa: BLE001 - best effort: never fails the request
                event(log, logging.ERROR, "website.access_log_failed", exc_info=True)
        return response

    async def _serve(self, request: Request, bucket: str, request_id: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise errors.MethodNotAllowed(Method=request.method, ResourceType="OBJECT")
        site = self._site(bucket)
        raw = request.scope.get("raw_path") or request.url.path.encode()
        key = unquote(raw.decode("latin-1").split("?", 1)[0], errors="strict").removeprefix("/")
        redirect_all = site.config.get("RedirectAllRequestsTo")
        if redirect_all is not None:
            scheme = redirect_all.get("Protocol") or request.url.scheme
            return _redirect(f"{scheme}://{redirect_all['HostName']}/{quote(key)}", 301,
                             request_id)
        rules: list[dict[str, Any]] = site.config.get("RoutingRules") or []
        rule = _matching_rule(rules, key, None)
        if rule is not None:
            return self._follow(request, rule, key, request_id)
        suffix = site.config["IndexDocument"]["Suffix"]
        object_key = key + suffix if key == "" or key.endswith("/") else key
        try:
            reply = await read_object(self._context(request, bucket, object_key, request_id),
                                      with_body=request.method == "GET")
        except errors.S3Error as exc:
            if isinstance(exc, errors.NotModified) or exc.http_status in (412, 416):
                raise
            return await self._failed(request, site, key, object_key, exc, request_id)
        location = dict(reply.headers).get("x-amz-website-redirect-location")
        if location:
            return _redirect(location, 301, request_id)
        return response_of(request.method, reply, request_id)

    def _site(self, bucket: str) -> _Site:
        with self._sessions() as session:
            row = session.get(Bucket, bucket)
        if row is None:
            raise errors.NoSuchBucket(BucketName=bucket)
        if row.website is None:
            raise errors.NoSuchWebsiteConfiguration(BucketName=bucket)
        return _Site(bucket, json.loads(row.website))

    def _context(self, request: Request, bucket: str, key: str, request_id: str) -> S3Context:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in request.scope.get("headers", ())}
        return S3Context(request=request, target=Target(bucket, key), query={}, headers=headers,
                         principal=None, sessions=self._sessions, engine=self._engine,
                         blobs=self._blobs,
                         settings=self._settings, request_id=request_id, keys=self._keys)

    async def _failed(self, request: Request, site: _Site, key: str, object_key: str,
                      exc: errors.S3Error, request_id: str) -> Response:
        """A missing or forbidden object: a folder redirect, a routing rule, the error document,
        or S3's HTML error page, in that order."""
        # Without s3:ListBucket a missing object is a 403: look for the folder either way.
        if (isinstance(exc, (errors.NoSuchKey, errors.AccessDenied))
                and key and not key.endswith("/")):
            suffix = site.config["IndexDocument"]["Suffix"]
            try:
                await read_object(self._context(request, site.bucket, f"{key}/{suffix}",
                                                 request_id), with_body=False)
            except errors.S3Error:
                pass
            else:
                return _redirect(f"/{quote(key)}/", 302, request_id)
        rule = _matching_rule(site.config.get("RoutingRules") or [], key, exc.http_status)
        if rule is not None:
            return self._follow(request, rule, key, request_id)
        error_doc = (site.config.get("ErrorDocument") or {}).get("Key")
        if error_doc and exc.http_status in (403, 404):
            try:
                page = await read_object(self._context(request, site.bucket, error_doc,
                                                       request_id), with_body=True)
            except errors.S3Error as doc_error:
                return _error_page(exc, request.method, request_id, doc_error)
            page.status = exc.http_status
            page.headers = [(n, v) for n, v in page.headers
                            if n.lower() not in ("content-range", "accept-ranges")]
            return response_of(request.method, page, request_id)
        if isinstance(exc, errors.NoSuchKey):
            exc.extra["Key"] = object_key
        raise exc

    def _follow(self, request: Request, rule: dict[str, Any], key: str,
                request_id: str) -> Response:
        redirect = rule["Redirect"]
        prefix = (rule.get("Condition") or {}).get("KeyPrefixEquals") or ""
        if "ReplaceKeyWith" in redirect:
            new_key = redirect["ReplaceKeyWith"]
        elif "ReplaceKeyPrefixWith" in redirect:
            new_key = redirect["ReplaceKeyPrefixWith"] + key[len(prefix):]
        else:
            new_key = key
        scheme = redirect.get("Protocol") or request.url.scheme
        host = redirect.get("HostName") or request.headers.get("host", "")
        code = int(redirect.get("HttpRedirectCode") or 301)
        return _redirect(f"{scheme}://{host}/{quote(new_key)}", code, request_id)


def _matching_rule(rules: list[dict[str, Any]], key: str,
                   status: int | None) -> dict[str, Any] | None:
    """The first rule whose condition holds; rules with an error-code condition only apply
    once the object was looked up (``status`` given), the others only before."""
    for rule in rules:
        condition = rule.get("Condition") or {}
        prefix = condition.get("KeyPrefixEquals")
        code = condition.get("HttpErrorCodeReturnedEquals")
        if prefix is not None and not key.startswith(prefix):
            continue
        if code is None:
            if status is None:
                return rule
            continue
        if status is not None and int(code) == status:
            return rule
    return None


def _redirect(location: str, status: int, request_id: str) -> Response:
    return Response(b"", status, headers={"Location": location, "x-amz-request-id": request_id})


def _error_page(exc: errors.S3Error, method: str, request_id: str,
                doc_error: errors.S3Error | None = None) -> Response:
    status = exc.http_status
    headers = {"x-amz-request-id": request_id, **exc.headers}
    if isinstance(exc, errors.NotModified) or method == "HEAD":
        return Response(None, status, headers=headers)
    title = _TITLES.get(status, f"{status} Error")
    items = [("Code", exc.code), ("Message", exc.message), *exc.extra.items(),
             ("RequestId", request_id)]
    lines = [f"<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>"]
    lines += [f"<li>{html.escape(name)}: {html.escape(str(value))}</li>" for name, value in items]
    lines.append("</ul>")
    if doc_error is not None:
        lines.append("<h3>An Error Occurred While Attempting to Retrieve a Custom Error "
                     "Document</h3>\n<ul>")
        lines += [f"<li>Code: {html.escape(doc_error.code)}</li>",
                  f"<li>Message: {html.escape(doc_error.message)}</li>", "</ul>"]
    lines.append("<hr/>\n</body>\n</html>\n")
    return Response("\n".join(lines).encode(), status, headers=headers,
                    media_type="text/html; charset=utf-8")

