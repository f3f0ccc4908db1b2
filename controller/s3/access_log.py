"""S3 server access logging: what one request to a logged bucket leaves behind, and the log
records S3 writes for it.

:class:`AccessLog` holds the logged buckets' configurations (as the last
PutBucketLogging of this controller, or the delivery job's periodic read of the database, left
them) and the entries of requests to those buckets until the delivery job
(``controller.s3.access_log_delivery``) writes them to their target buckets. Entries are
formatted there, in S3's record format, because the record names the bucket owner and the
requester by canonical user id, which the request path does not read.

As in S3, delivery is best effort: entries not yet delivered when the controller stops
abruptly are lost, and a configuration change may take until the job's next pass to apply on
another controller."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import Response

# The operation names of S3's log records for sub-resources whose name differs from the
# upper-cased sub-resource (REST.GET.VERSIONING, REST.PUT.ACL, ... follow that rule).
_SUBRESOURCE_NAMES = {
    "logging": "LOGGING_STATUS", "policy": "BUCKETPOLICY", "versions": "BUCKETVERSIONS",
    "uploads": "UPLOADS", "object-lock": "OBJECT_LOCK_CONFIGURATION",
    "ownershipControls": "OWNERSHIP_CONTROLS", "publicAccessBlock": "PUBLIC_ACCESS_BLOCK",
    "policyStatus": "POLICY_STATUS", "requestPayment": "REQUEST_PAYMENT",
    "legal-hold": "LEGAL_HOLD", "intelligent-tiering": "INTELLIGENT_TIERING",
    "attributes": "OBJECT_ATTRIBUTES", "notification": "NOTIFICATION",
}


def operation(method: str, level: str, subresource: str, copy: bool = False) -> str:
    """The record's operation: ``REST.<METHOD>.<RESOURCE>`` as S3 names it (REST.GET.BUCKET
    for a listing, REST.PUT.OBJECT, REST.POST.MULTI_OBJECT_DELETE, REST.PUT.PART, ...)."""
    if copy:
        return "REST.COPY.PART" if subresource == "uploadId" else "REST.COPY.OBJECT"
    if level == "service":
        return f"REST.{method}.SERVICE"
    if subresource == "uploadId":
        resource = {"PUT": "PART", "GET": "UPLOAD", "POST": "UPLOAD", "DELETE": "UPLOAD"}
        return f"REST.{method}.{resource.get(method, 'UPLOAD')}"
    if subresource == "delete" and method == "POST":
        return "REST.POST.MULTI_OBJECT_DELETE"
    if subresource == "tagging" and level == "object":
        return f"REST.{method}.OBJECT_TAGGING"
    if subresource:
        return f"REST.{method}.{_SUBRESOURCE_NAMES.get(subresource, subresource.upper())}"
    if level == "bucket" and method == "POST":
        return "REST.POST.OBJECT"  # a browser form upload
    return f"REST.{method}.{'BUCKET' if level == 'bucket' else 'OBJECT'}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One request to a logged bucket, as the request path saw it."""

    bucket: str
    time: datetime
    remote_ip: str
    requester_account: str | None
    """The caller's account id; None for an anonymous request."""
    request_id: str
    operation: str
    key: str | None
    request_uri: str
    """``METHOD /path?query HTTP/1.1`` as sent."""
    status: int | None
    """None for what no request asked (lifecycle actions)."""
    error_code: str | None
    bytes_sent: int | None
    object_size: int | None
    total_ms: int | None
    turnaround_ms: int | None
    referer: str | None
    user_agent: str | None
    version_id: str | None
    signature_version: str | None
    """``SigV4`` or ``SigV2``; None when unsigned."""
    auth_type: str | None
    """``AuthHeader``, ``QueryString`` (presigned) or None."""
    host: str | None
    secure: bool
    requester: str | None = None
    """The requester as the record names it when no account asked: ``AmazonS3`` for the
    lifecycle job's actions, as S3 writes them."""


def _field(value: object) -> str:
    """A space-separated field: ``-`` when absent."""
    if value is None or value == "":
        return "-"
    return str(value)


def _quoted(value: str | None) -> str:
    """A field that may hold spaces: in double quotes (``-`` when absent), inner quotes
    escaped."""
    if not value:
        return "-"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def record(entry: Entry, owner_canonical: str, requester_canonical: str | None) -> str:
    """One line of S3's server access log format (without the newline)."""
    key = None if entry.key is None else quote(entry.key, safe="/")
    stamp = entry.time.astimezone(UTC).strftime("[%d/%b/%Y:%H:%M:%S +0000]")
    fields = [
        _field(owner_canonical), _field(entry.bucket), stamp, _field(entry.remote_ip),
        _field(requester_canonical or entry.requester), _field(entry.request_id),
        entry.operation, _field(key), _quoted(entry.request_uri), _field(entry.status),
        _field(entry.error_code), _field(entry.bytes_sent or None), _field(entry.object_size),
        _field(entry.total_ms), _field(entry.turnaround_ms), _quoted(entry.referer),
        _quoted(entry.user_agent),
        _field(entry.version_id), _field(entry.request_id), _field(entry.signature_version),
        "-",  # cipher suite: TLS ends in front of the controller, if at all
        _field(entry.auth_type), _field(entry.host), "-" if not entry.secure else "TLSv1.2",
        "-",  # access point ARN
        "-",  # aclRequired: no request here needed an ACL to be allowed (as far as is recorded)
    ]
    return " ".join(fields)


class AccessLog:
    """The logged buckets' configurations and their undelivered entries (thread-safe: the
    request path and the delivery job's thread share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._configs: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, list[Entry]] = {}
        self._count = 0

    def config(self, bucket: str) -> dict[str, Any] | None:
        """The bucket's LoggingEnabled when its requests are logged (one dict lookup: this runs
        on every request)."""
        return self._configs.get(bucket)

    def configure(self, bucket: str, config: dict[str, Any] | None) -> None:
        """PutBucketLogging (None: off) or DeleteBucket on this controller: applies at once."""
        with self._lock:
            configs = dict(self._configs)
            if config is None:
                configs.pop(bucket, None)
            else:
                configs[bucket] = config
            self._configs = configs

    def replace(self, configs: dict[str, dict[str, Any]]) -> None:
        """Every logged bucket's configuration, as the database holds them."""
        with self._lock:
            self._configs = dict(configs)

    def add(self, entry: Entry) -> None:
        with self._lock:
            self._pending.setdefault(entry.bucket, []).append(entry)
            self._count += 1

    def pending(self) -> int:
        """How many entries wait for delivery (all buckets)."""
        return self._count

    def take(self) -> dict[str, list[Entry]]:
        """Everything not yet delivered; the log is empty afterwards."""
        with self._lock:
            pending, self._pending, self._count = self._pending, {}, 0
        return pending

    def give_back(self, bucket: str, entries: list[Entry]) -> None:
        """Entries whose delivery failed, to be tried again on the next pass (before newer)."""
        with self._lock:
            self._pending[bucket] = entries + self._pending.get(bucket, [])
            self._count += len(entries)


def signature_of(headers: Any, query: Any) -> tuple[str | None, str | None]:
    """(signature version, authentication type) of a request, as its record names them."""
    authorization = headers.get("authorization", "")
    if authorization.startswith("AWS4-"):
        return "SigV4", "AuthHeader"
    if authorization.startswith("AWS "):
        return "SigV2", "AuthHeader"
    if "X-Amz-Algorithm" in query:
        return "SigV4", "QueryString"
    if "Signature" in query and "AWSAccessKeyId" in query:
        return "SigV2", "QueryString"
    return None, None


def object_size(method: str, request_headers: Any, response_headers: Any) -> int | None:
    """The object's whole size where the request moved or read one: the body a PUT or POST
    sent (decoded from aws-chunked), the size a GET or HEAD answered for (a range's
    ``Content-Range`` total)."""
    if method in ("PUT", "POST"):
        text = (request_headers.get("x-amz-decoded-content-length")
                or request_headers.get("content-length"))
    else:
        ranged = response_headers.get("content-range", "")
        text = ranged.rpartition("/")[2] if ranged else response_headers.get("content-length")
    return int(text) if text and text.isdigit() else None


def request_entry(request: Request, headers: Mapping[str, str], query: Mapping[str, str],
                  bucket: str, key: str | None, operation_name: str,
                  requester_account: str | None, request_id: str, response: Response,
                  error_code: str | None, started: float) -> Entry:
    """The entry of one request, from what the endpoint knows once its response is ready
    (``started``: ``time.monotonic()`` when it arrived)."""
    method = request.method
    elapsed = int((time.monotonic() - started) * 1000)
    version, auth_type = signature_of(headers, query)
    sent = response.headers.get("content-length")
    scope = request.scope
    raw_query = scope.get("query_string", b"").decode("latin-1")
    uri = scope.get("raw_path", b"").decode("latin-1") + (f"?{raw_query}" if raw_query else "")
    client = scope.get("client")
    return Entry(
        bucket=bucket, time=datetime.now(UTC), remote_ip=client[0] if client else "",
        requester_account=requester_account, request_id=request_id, operation=operation_name,
        key=key, request_uri=f"{method} {uri} HTTP/{scope.get('http_version', '1.1')}",
        status=response.status_code, error_code=error_code,
        bytes_sent=int(sent) if sent and sent.isdigit() and method != "HEAD" else None,
        object_size=object_size(method, headers, response.headers),
        total_ms=elapsed, turnaround_ms=elapsed, referer=headers.get("referer"),
        user_agent=headers.get("user-agent"), version_id=query.get("versionId"),
        signature_version=version, auth_type=auth_type, host=headers.get("host"),
        secure=scope.get("scheme") == "https")


def copy_source(header: str) -> tuple[str, str, str | None] | None:
    """(bucket, key, version id) of an ``x-amz-copy-source`` header, None when it names none."""
    path, _, query = header.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        return None
    version = query[len("versionId="):] if query.startswith("versionId=") else None
    return bucket, key, version


_TRANSITIONS = {"STANDARD_IA": "S3.TRANSITION_SIA.OBJECT", "ONEZONE_IA": "S3.TRANSITION_ZIA.OBJECT",
                "INTELLIGENT_TIERING": "S3.TRANSITION_INT.OBJECT",
                "GLACIER_IR": "S3.TRANSITION_GIR.OBJECT", "GLACIER": "S3.TRANSITION.OBJECT",
                "DEEP_ARCHIVE": "S3.TRANSITION_GDA.OBJECT"}


def lifecycle_operation(action: Mapping[str, Any]) -> str | None:
    """The record's operation for one of the lifecycle job's actions (its log event's fields:
    ``action``, ``now``, ``delete_marker``), as S3 names them; None for an unknown action."""
    name = action.get("action")
    if name == "expired":
        return "S3.CREATE.DELETEMARKER" if action.get("delete_marker") else "S3.EXPIRE.OBJECT"
    if name in ("noncurrent_expired", "delete_marker_expired"):
        return "S3.EXPIRE.OBJECT"
    if name in ("transitioned", "noncurrent_transitioned"):
        return _TRANSITIONS.get(str(action.get("now")))
    if name == "upload_aborted":
        return "S3.DELETE.UPLOAD"
    return None


def lifecycle_entry(action: Mapping[str, Any], request_id: str) -> Entry | None:
    """The entry of a lifecycle action in its bucket's log: requester ``AmazonS3``, no remote
    address, status or timing (no request asked for it)."""
    operation_name = lifecycle_operation(action)
    if operation_name is None:
        return None
    version = action.get("version")
    return Entry(
        bucket=str(action["bucket"]), time=datetime.now(UTC), remote_ip="",
        requester_account=None, request_id=request_id, operation=operation_name,
        key=action.get("key"), request_uri="", status=None, error_code=None, bytes_sent=None,
        object_size=None, total_ms=None, turnaround_ms=None, referer=None, user_agent=None,
        version_id=None if version in (None, "null") else str(version),
        signature_version=None, auth_type=None, host=None, secure=False, requester="AmazonS3")
