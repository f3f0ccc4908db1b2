"""AWS Signature Version 2: the Query-protocol form (EC2) and the S3 form (HMAC-SHA1).

Query protocol: ``AWSAccessKeyId``, ``SignatureVersion=2``, ``SignatureMethod``,
``Timestamp`` or ``Expires`` and ``Signature`` in the query string or the form body; the
string to sign is ``METHOD\\nhost\\npath\\nsorted-encoded-params``.

S3: ``Authorization: AWS AKID:signature`` or a presigned URL with ``AWSAccessKeyId``,
``Expires`` (epoch seconds) and ``Signature``; the string to sign is the method, Content-MD5,
Content-Type, date, the ``x-amz-*`` headers and the canonicalized resource.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from controller.auth.errors import (
    IncompleteSignature,
    InvalidDate,
    RequestExpired,
    SignatureMismatch,
    UnsupportedSignature,
)
from controller.auth.request import HttpRequest, signed_text
from controller.auth.sigv4 import check_skew, parse_any_date, uri_encode

# SignatureMethod → hashlib digest name.
SIGNATURE_METHODS: Mapping[str, str] = {"HmacSHA256": "sha256", "HmacSHA1": "sha1"}
QUERY_AUTH_PARAMS = frozenset(
    ("AWSAccessKeyId", "Signature", "SignatureVersion", "SignatureMethod", "Timestamp", "Expires",
     "SecurityToken")
)  # fmt: skip
S3_PRESIGN_PARAMS = frozenset(("AWSAccessKeyId", "Signature", "Expires"))

MAX_PRESIGN_LIFETIME = timedelta(days=7)  # as for Signature V4 (X-Amz-Expires <= 604800)

# Query parameters that are part of the S3 V2 canonicalized resource: the sub-resources
# AWS documents, the ones botocore and boto 2 sign, and the response-* overrides.
S3_SUBRESOURCES = frozenset(
    (
        "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
        "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
        "partNumber", "policy", "replication", "requestPayment", "restore", "select",
        "select-type", "storageClass", "tagging", "torrent", "uploadId", "uploads",
        "versionId", "versioning", "versions", "website",
        "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires",
    )
)  # fmt: skip


def parse_iso8601(value: str) -> datetime:
    """Parse a V2 ``Timestamp``/``Expires`` (ISO 8601; no zone means UTC)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidDate(f"Invalid ISO 8601 date {value[:40]!r}.") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


def _signature_matches(secret_key: str, message: str, digest: str, provided: str) -> bool:
    """Compare the base64 HMAC of ``message`` with ``provided`` in constant time."""
    try:
        # A '+' sent unescaped in a query string arrives decoded as a space.
        provided_bytes = base64.b64decode(provided.replace(" ", "+"), validate=True)
    except (binascii.Error, ValueError):
        return False
    mac = hmac.new(secret_key.encode("utf-8"), message.encode("utf-8", "surrogateescape"), digest)
    return hmac.compare_digest(mac.digest(), provided_bytes)


def _first_values(pairs: Sequence[tuple[str, str]], names: frozenset[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in names and name not in found:
            found[name] = value
    return found


# --- Query protocol --------------------------------------------------------------------


@dataclass(frozen=True)
class QueryV2Request:
    """A parsed Query-protocol Signature V2 request."""

    request: HttpRequest = field(repr=False)
    access_key_id: str
    signature_method: str
    signature: str = field(repr=False)
    request_time: datetime | None
    expires_at: datetime | None
    security_token: str | None = field(default=None, repr=False)

    def params(self) -> list[tuple[str, str]]:
        """Every signed parameter, from the URL and the form body."""
        return [*self.request.query, *(self.request.form or ())]

    def string_to_sign(self, host: str) -> str:
        pairs = sorted((key, value) for key, value in self.params() if key != "Signature")
        query = "&".join(f"{uri_encode(key)}={uri_encode(value)}" for key, value in pairs)
        path = self.request.raw_path or "/"
        return f"{self.request.method.upper()}\n{host}\n{path}\n{query}"

    def host_candidates(self) -> list[str]:
        """The Host header as sent; then without its port, which boto 2 leaves out."""
        host = self.request.headers.get("host", "").strip().lower()
        candidates = [host]
        bare = _without_port(host)
        if bare is not None:
            candidates.append(bare)
        return candidates

    def verify(self, secret_key: str) -> None:
        digest = SIGNATURE_METHODS[self.signature_method]
        for host in self.host_candidates():
            if _signature_matches(secret_key, self.string_to_sign(host), digest, self.signature):
                return
        raise SignatureMismatch()


def _without_port(host: str) -> str | None:
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if 0 < end < len(host) - 1 else None
    name, sep, port = host.rpartition(":")
    return name if sep and name and port.isdigit() else None


def parse_query_v2(req: HttpRequest, now: datetime) -> QueryV2Request:
    """Parse Query-protocol V2 auth parameters from the URL query and the form body."""
    params = _first_values([*req.query, *(req.form or ())], QUERY_AUTH_PARAMS)
    version = params.get("SignatureVersion")
    if version is None:
        raise IncompleteSignature("SignatureVersion is required.")
    if version != "2":
        raise UnsupportedSignature(f"SignatureVersion {version[:8]!r} is not supported.")
    missing = [n for n in ("AWSAccessKeyId", "SignatureMethod", "Signature") if not params.get(n)]
    if missing:
        raise IncompleteSignature(f"Request is missing {', '.join(missing)}.")
    method = params["SignatureMethod"]
    if method not in SIGNATURE_METHODS:
        raise UnsupportedSignature("SignatureMethod must be HmacSHA256 or HmacSHA1.")
    if "host" not in req.headers:
        raise IncompleteSignature("Signature Version 2 requires a Host header.")
    request_time, expires_at = _query_v2_times(params, now)
    return QueryV2Request(
        request=req,
        access_key_id=params["AWSAccessKeyId"],
        signature_method=method,
        signature=params["Signature"],
        request_time=request_time,
        expires_at=expires_at,
        security_token=params.get("SecurityToken"),
    )


def _query_v2_times(
    params: Mapping[str, str], now: datetime
) -> tuple[datetime | None, datetime | None]:
    timestamp, expires = params.get("Timestamp"), params.get("Expires")
    if timestamp is not None and expires is not None:
        raise IncompleteSignature("Request must not contain both Timestamp and Expires.")
    if timestamp is not None:
        request_time = parse_iso8601(timestamp)
        check_skew(request_time, now)
        return request_time, None
    if expires is not None:
        expires_at = parse_iso8601(expires)
        if now > expires_at:
            raise RequestExpired(f"Request has expired (Expires {expires_at.isoformat()}).")
        return None, expires_at
    raise IncompleteSignature("Request must contain either a Timestamp or an Expires parameter.")


# --- S3 --------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3V2Request:
    """A parsed S3 Signature V2 request (header or presigned URL)."""

    request: HttpRequest = field(repr=False)
    access_key_id: str
    signature: str = field(repr=False)
    presigned: bool
    date_line: str
    request_time: datetime | None
    expires_at: datetime | None
    security_token: str | None = field(default=None, repr=False)

    def string_to_sign(self, resource: str | None = None) -> str:
        lines = [
            self.request.method.upper(),
            self._standard_header("content-md5"),
            self._standard_header("content-type"),
            self.date_line,
        ]
        lines.extend(f"{name}:{value}" for name, value in self._amz_headers())
        lines.append(resource if resource is not None else canonical_resource(self.request))
        return "\n".join(lines)

    def verify(self, secret_key: str) -> None:
        resource = canonical_resource(self.request)
        if _signature_matches(secret_key, self.string_to_sign(resource), "sha1", self.signature):
            return
        # botocore's V2 signer signs a path-style bucket request (``/bucket``) as ``/bucket/``,
        # the form of the virtual-hosted request: accept both spellings of the bucket root.
        path, sep, rest = resource.partition("?")
        if path.count("/") == 1 and len(path) > 1:
            alternative = f"{path}/{sep}{rest}"
            if _signature_matches(secret_key, self.string_to_sign(alternative), "sha1",
                                  self.signature):
                return
        raise SignatureMismatch()

    def _standard_header(self, name: str) -> str:
        value = self.request.headers.get(name)
        if value is None and self.presigned:
            value = _first_values(self.request.query, frozenset((name,))).get(name)
        return "" if value is None else value.strip()

    def _amz_headers(self) -> list[tuple[str, str]]:
        found = {
            name: signed_text(value).strip()
            for name, value in self.request.headers.items()
            if name.startswith("x-amz-")
        }
        if self.presigned:
            # botocore moves x-amz-* headers (e.g. the security token) into the query.
            for key, value in self.request.query:
                name = key.lower()
                if name.startswith("x-amz-") and name not in found:
                    found[name] = value.strip()
        return sorted(found.items())


def canonical_resource(req: HttpRequest) -> str:
    """``/bucket/key`` plus the sorted S3 sub-resources (``?acl``, ``?uploadId=...``)."""
    resource = req.raw_path or "/"
    if req.virtual_host_bucket:
        resource = f"/{req.virtual_host_bucket}{resource}"
    subresources = sorted(
        ((key, value) for key, value in req.query if key in S3_SUBRESOURCES),
        key=lambda pair: pair[0],
    )
    if subresources:
        resource += "?" + "&".join(
            key if value == "" else f"{key}={value}" for key, value in subresources
        )
    return resource


def parse_s3_v2_header(req: HttpRequest, now: datetime) -> S3V2Request:
    """Parse ``Authorization: AWS AKID:signature`` and check the request date."""
    _, _, credentials = req.headers["authorization"].strip().partition(" ")
    access_key_id, sep, signature = credentials.strip().rpartition(":")
    if not sep or not access_key_id or not signature:
        raise IncompleteSignature("Authorization header should be 'AWS <AccessKeyId>:<Signature>'.")
    amz_date = req.headers.get("x-amz-date")
    date_value = amz_date if amz_date is not None else req.headers.get("date")
    if date_value is None:
        raise IncompleteSignature("Requests must carry a valid Date or x-amz-date header.")
    request_time = parse_any_date(date_value.strip())
    if request_time.year < 1970:  # S3 answers AccessDenied, not RequestTimeTooSkewed
        raise InvalidDate("The request date is before the epoch.")
    check_skew(request_time, now)
    return S3V2Request(
        request=req,
        access_key_id=access_key_id,
        signature=signature,
        presigned=False,
        date_line="" if amz_date is not None else date_value.strip(),
        request_time=request_time,
        expires_at=None,
        security_token=req.headers.get("x-amz-security-token"),
    )


def parse_s3_v2_presigned(req: HttpRequest, now: datetime) -> S3V2Request:
    """Parse a V2 presigned URL: ``AWSAccessKeyId``, ``Expires`` (epoch) and ``Signature``."""
    params = _first_values(req.query, S3_PRESIGN_PARAMS)
    missing = [n for n in ("AWSAccessKeyId", "Signature", "Expires") if not params.get(n)]
    if missing:
        raise IncompleteSignature(f"Presigned request is missing {', '.join(missing)}.")
    expires = params["Expires"]
    if not (expires.isascii() and expires.isdigit()):
        raise InvalidDate("Expires should be a number of seconds since the epoch.")
    try:
        expires_at = datetime.fromtimestamp(int(expires), tz=UTC)
    except (OverflowError, ValueError, OSError) as exc:
        raise InvalidDate("Expires is out of range.") from exc
    if now > expires_at:
        raise RequestExpired(f"Request has expired (Expires {expires_at.isoformat()}).")
    if expires_at - now > MAX_PRESIGN_LIFETIME:
        raise InvalidDate("A presigned URL may not be valid for more than a week.")
    return S3V2Request(
        request=req,
        access_key_id=params["AWSAccessKeyId"],
        signature=params["Signature"],
        presigned=True,
        date_line=expires,
        request_time=None,
        expires_at=expires_at,
        security_token=req.headers.get("x-amz-security-token")
        or _first_values(req.query, frozenset(("x-amz-security-token",))).get(
            "x-amz-security-token"
        ),
    )
