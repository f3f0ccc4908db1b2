"""AWS Signature Version 4 (``AWS4-HMAC-SHA256``), header and presigned-query forms.

Parsing is cheap (no HMAC): it checks the shape, the dates and the declared payload hash.
:meth:`SigV4Request.verify` rebuilds the canonical request and compares signatures.
The canonical forms follow the AWS specification as botocore implements it: for every
service but S3 the path is normalized and encoded a second time; S3 signs the raw path.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote

from controller.auth.errors import (
    IncompleteSignature,
    InvalidDate,
    PayloadHashMismatch,
    RequestExpired,
    RequestTimeTooSkewed,
    SignatureMismatch,
    UnsupportedSignature,
)
from controller.auth.request import HttpRequest, signed_text

ALGORITHM = "AWS4-HMAC-SHA256"
SCOPE_TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PREFIX = "STREAMING-"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_EXPIRES = 604800
PRESIGN_REQUIRED = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
PRESIGN_PARAMS = frozenset((*PRESIGN_REQUIRED, "X-Amz-Security-Token"))
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


# --- canonical forms -------------------------------------------------------------------


def uri_encode(value: str, safe: str = "") -> str:
    """RFC 3986 percent-encoding: only ``A-Za-z0-9-_.~`` (and ``safe``) stay as they are."""
    return quote(value.encode("utf-8", "surrogateescape"), safe=safe)


def remove_dot_segments(path: str) -> str:
    """Resolve ``.`` and ``..`` and collapse repeated slashes, keeping a trailing slash."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    if not segments:
        return "/"
    leading = "/" if path.startswith("/") else ""
    trailing = "/" if path.endswith("/") else ""
    return leading + "/".join(segments) + trailing


def canonical_uri(raw_path: str, service: str) -> str:
    """S3 signs the path as sent; other services sign it normalized and encoded again."""
    path = raw_path or "/"
    if service == "s3":
        return path
    return uri_encode(remove_dot_segments(path), safe="/")


def canonical_query(pairs: Sequence[tuple[str, str]], *, presigned: bool) -> str:
    """Encoded pairs sorted by key then value; presigned requests leave out the signature."""
    encoded = sorted(
        (uri_encode(key), uri_encode(value))
        for key, value in pairs
        if not (presigned and key == "X-Amz-Signature")
    )
    return "&".join(f"{key}={value}" for key, value in encoded)


def canonical_headers(headers: Mapping[str, str], names: Sequence[str]) -> str:
    """``name:value\\n`` per signed header, values trimmed with inner whitespace collapsed."""
    return "".join(f"{name}:{' '.join(signed_text(headers[name]).split())}\n" for name in names)


@lru_cache(maxsize=512)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The derived SigV4 signing key (cached: one per key, day, region and service)."""
    key = _hmac_sha256(f"AWS4{secret_key}".encode(), date)
    key = _hmac_sha256(key, region)
    key = _hmac_sha256(key, service)
    return _hmac_sha256(key, SCOPE_TERMINATOR)


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode("utf-8"), "sha256")


# --- dates -----------------------------------------------------------------------------


def parse_amz_date(value: str) -> datetime:
    """Parse the ISO 8601 basic format SigV4 uses, e.g. ``20150830T123600Z``."""
    digits = value[:8] + value[9:15]
    if len(value) != 16 or value[8] != "T" or value[15] != "Z" or not _is_ascii_digits(digits):
        raise InvalidDate(f"Invalid date {value[:40]!r}: expected the format YYYYMMDD'T'HHMMSS'Z'.")
    try:
        return datetime(
            int(value[0:4]), int(value[4:6]), int(value[6:8]),
            int(value[9:11]), int(value[11:13]), int(value[13:15]),
            tzinfo=UTC,
        )  # fmt: skip
    except ValueError as exc:
        raise InvalidDate(f"Invalid date {value!r}.") from exc


def parse_http_date(value: str) -> datetime:
    """Parse an HTTP date (RFC 1123, RFC 850 or asctime); no zone means UTC."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise InvalidDate(f"Invalid date {value[:64]!r}.") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_any_date(value: str) -> datetime:
    """An ISO 8601 basic date if it looks like one, else an HTTP date."""
    if len(value) == 16 and value[8:9] == "T":
        return parse_amz_date(value)
    return parse_http_date(value)


def check_skew(request_time: datetime, now: datetime) -> None:
    """Raise :class:`RequestTimeTooSkewed` when the two times are over 15 minutes apart."""
    if abs(now - request_time) > MAX_SKEW:
        raise RequestTimeTooSkewed(
            f"The difference between the request time ({request_time.isoformat()}) and the "
            f"current time ({now.isoformat()}) is too large."
        )


def _is_ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


# --- parsed request --------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialScope:
    """``AKID/20150830/us-east-1/iam/aws4_request``, split."""

    access_key_id: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{SCOPE_TERMINATOR}"


def parse_credential(value: str) -> CredentialScope:
    """Split a credential; the access key id may itself contain slashes."""
    parts = value.rsplit("/", 4)
    if len(parts) != 5 or parts[4] != SCOPE_TERMINATOR:
        raise IncompleteSignature(
            "Credential should be of the form "
            "'<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request'."
        )
    access_key_id, date, region, service, _ = parts
    if not access_key_id or not region or not service:
        raise IncompleteSignature("Credential has an empty access key id, region or service.")
    if len(date) != 8 or not _is_ascii_digits(date):
        raise IncompleteSignature("Credential date must be of the form YYYYMMDD.")
    return CredentialScope(access_key_id, date, region, service)


@dataclass(frozen=True)
class SigV4Request:
    """A parsed SigV4 request; :meth:`verify` checks it against a secret key."""

    request: HttpRequest = field(repr=False)
    credential: CredentialScope
    amz_date: str
    request_time: datetime
    signed_headers: str
    header_names: tuple[str, ...]
    signature: str = field(repr=False)
    presigned: bool
    expires_at: datetime | None = None
    security_token: str | None = field(default=None, repr=False)

    @property
    def access_key_id(self) -> str:
        return self.credential.access_key_id

    def payload_hash(self) -> str:
        """The payload line of the canonical request.

        ``x-amz-content-sha256`` when sent; else ``UNSIGNED-PAYLOAD`` for S3 presigned URLs
        (other services' presigned URLs, like botocore's ``SigV4QueryAuth``, sign the body
        hash); else the SHA-256 of the body.
        """
        declared = self.request.headers.get("x-amz-content-sha256")
        if declared is not None:
            return declared
        if self.presigned and self.credential.service == "s3":
            return UNSIGNED_PAYLOAD
        return self.request.payload_sha256()

    def canonical_request(self) -> str:
        req = self.request
        return "\n".join(
            (
                req.method.upper(),
                canonical_uri(req.raw_path, self.credential.service),
                canonical_query(req.query, presigned=self.presigned),
                canonical_headers(req.headers, self.header_names),
                self.signed_headers,
                self.payload_hash(),
            )
        )

    def string_to_sign(self) -> str:
        canonical = self.canonical_request().encode("utf-8", "surrogateescape")
        digest = hashlib.sha256(canonical).hexdigest()
        return f"{ALGORITHM}\n{self.amz_date}\n{self.credential.scope}\n{digest}"

    def expected_signature(self, secret_key: str) -> str:
        c = self.credential
        key = signing_key(secret_key, c.date, c.region, c.service)
        message = self.string_to_sign().encode("utf-8")
        return hmac.digest(key, message, "sha256").hex()

    def verify(self, secret_key: str) -> None:
        """Raise :class:`SignatureMismatch` or :class:`PayloadHashMismatch` unless valid."""
        expected = self.expected_signature(secret_key).encode("ascii")
        if not hmac.compare_digest(expected, self.signature.encode("utf-8", "surrogateescape")):
            raise SignatureMismatch()
        declared = self.request.headers.get("x-amz-content-sha256")
        if (
            declared is not None
            and _is_sha256_hex(declared)
            and declared.lower() != self.request.payload_sha256()
        ):
            raise PayloadHashMismatch()


# --- parsing ---------------------------------------------------------------------------


def parse_authorization(req: HttpRequest, now: datetime) -> SigV4Request:
    """Parse ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``."""
    fields = _authorization_fields(req.headers["authorization"])
    credential = parse_credential(fields["Credential"])
    header_names = _signed_header_names(fields["SignedHeaders"], req.headers)
    amz_date, request_time = _header_date(req.headers)
    _check_scope_date(credential, amz_date)
    check_skew(request_time, now)
    _check_declared_payload(req.headers)
    return SigV4Request(
        request=req,
        credential=credential,
        amz_date=amz_date,
        request_time=request_time,
        signed_headers=fields["SignedHeaders"],
        header_names=header_names,
        signature=fields["Signature"],
        presigned=False,
        security_token=req.headers.get("x-amz-security-token"),
    )


def parse_presigned(req: HttpRequest, now: datetime) -> SigV4Request:
    """Parse a presigned URL (``X-Amz-Algorithm=...&X-Amz-Signature=...`` in the query)."""
    params = _first_values(req.query, PRESIGN_PARAMS)
    missing = [name for name in PRESIGN_REQUIRED if not params.get(name)]
    if missing:
        raise IncompleteSignature(f"Presigned request is missing {', '.join(missing)}.")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise UnsupportedSignature(f"X-Amz-Algorithm only supports {ALGORITHM!r}.")
    credential = parse_credential(params["X-Amz-Credential"])
    amz_date = params["X-Amz-Date"]
    request_time = parse_amz_date(amz_date)
    _check_scope_date(credential, amz_date)
    expires_at = request_time + timedelta(seconds=_presign_expires(params["X-Amz-Expires"]))
    header_names = _signed_header_names(params["X-Amz-SignedHeaders"], req.headers)
    if request_time - now > MAX_SKEW:
        raise RequestTimeTooSkewed("The presigned request is not valid yet (X-Amz-Date is ahead).")
    if now > expires_at:
        raise RequestExpired(f"The presigned request expired at {expires_at.isoformat()}.")
    _check_declared_payload(req.headers)
    return SigV4Request(
        request=req,
        credential=credential,
        amz_date=amz_date,
        request_time=request_time,
        signed_headers=params["X-Amz-SignedHeaders"],
        header_names=header_names,
        signature=params["X-Amz-Signature"],
        presigned=True,
        expires_at=expires_at,
        security_token=params.get("X-Amz-Security-Token"),
    )


def _authorization_fields(value: str) -> dict[str, str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise UnsupportedSignature(f"Unsupported authorization algorithm {algorithm[:40]!r}.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name] = field_value
    missing = [n for n in ("Credential", "SignedHeaders", "Signature") if not fields.get(n)]
    if missing:
        raise IncompleteSignature(f"Authorization header requires {', '.join(missing)}.")
    return fields


def _signed_header_names(signed_headers: str, headers: Mapping[str, str]) -> tuple[str, ...]:
    names = tuple(name.strip().lower() for name in signed_headers.split(";"))
    if "host" not in names:
        raise IncompleteSignature("The host header must be signed.")
    for name in names:
        if name not in headers:
            raise IncompleteSignature(f"Signed header {name[:64]!r} is not in the request.")
    return names


def _header_date(headers: Mapping[str, str]) -> tuple[str, datetime]:
    amz_date = headers.get("x-amz-date")
    if amz_date is not None:
        return amz_date, parse_amz_date(amz_date)
    http_date = headers.get("date")
    if http_date is None:
        raise IncompleteSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    when = parse_http_date(http_date)
    return when.strftime(AMZ_DATE_FORMAT), when


def _check_scope_date(credential: CredentialScope, amz_date: str) -> None:
    if credential.date != amz_date[:8]:
        raise IncompleteSignature(
            "Date in Credential scope does not match YYYYMMDD from the request date."
        )


def _presign_expires(value: str) -> int:
    """Seconds a presigned URL lives. A URL that never lived (0 or less) is expired; one that
    would outlive a week is refused; both are authorization failures (403), as S3 answers."""
    if not _is_ascii_digits(value.removeprefix("-")):
        raise IncompleteSignature("X-Amz-Expires should be a number of seconds.")
    seconds = int(value)
    if seconds <= 0:
        raise RequestExpired("Request has expired (X-Amz-Expires is not positive).")
    if seconds > MAX_PRESIGN_EXPIRES:
        raise InvalidDate(
            f"X-Amz-Expires must be less than a week (in seconds) that is; {MAX_PRESIGN_EXPIRES}"
        )
    return seconds


def _check_declared_payload(headers: Mapping[str, str]) -> None:
    declared = headers.get("x-amz-content-sha256")
    if declared is None or declared == UNSIGNED_PAYLOAD or declared.startswith(STREAMING_PREFIX):
        return
    if not _is_sha256_hex(declared):
        raise PayloadHashMismatch(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value "
            "or the hex SHA-256 of the body."
        )


def _is_sha256_hex(value: str) -> bool:
    return _SHA256_HEX.fullmatch(value) is not None


def _first_values(pairs: Sequence[tuple[str, str]], names: frozenset[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in names and name not in found:
            found[name] = value
    return found
