"""Entry point: find the authentication material in a request, parse it, verify it later.

Usage by the API layers::

    parsed = parse_signature(req, now)          # cheap; raises AuthError subclasses
    if parsed is None: ...                      # anonymous request
    key = lookup(parsed.access_key_id)          # caller: UnknownAccessKey / InactiveAccessKey
    parsed.verify(key.secret)                   # HMAC; raises SignatureMismatch, ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from controller.auth.errors import IncompleteSignature, UnsupportedSignature
from controller.auth.request import HttpRequest
from controller.auth.sigv2 import (
    QueryV2Request,
    S3V2Request,
    parse_query_v2,
    parse_s3_v2_header,
    parse_s3_v2_presigned,
)
from controller.auth.sigv4 import SigV4Request, parse_authorization, parse_presigned

SignatureVersion = Literal["v2", "v4"]
AuthLocation = Literal["header", "query", "form"]
Verifier = SigV4Request | QueryV2Request | S3V2Request

_V4_PRESIGN_MARKERS = frozenset(("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"))
_V2_QUERY_MARKERS = frozenset(("SignatureVersion", "SignatureMethod"))
_V2_KEY_MARKERS = frozenset(("AWSAccessKeyId", "Signature"))


@dataclass(frozen=True)
class SigningInfo:
    """What a parsed request claims, before anything is verified."""

    access_key_id: str
    version: SignatureVersion
    region: str | None
    service: str | None
    location: AuthLocation
    presigned: bool
    request_time: datetime | None
    expires_at: datetime | None
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ParsedSignature:
    """A request's signature, parsed; :meth:`verify` checks it against a secret key."""

    info: SigningInfo
    verifier: Verifier = field(repr=False)

    @property
    def access_key_id(self) -> str:
        return self.info.access_key_id

    @property
    def version(self) -> SignatureVersion:
        return self.info.version

    @property
    def region(self) -> str | None:
        """The region of the SigV4 credential scope, as the client signed it."""
        return self.info.region

    @property
    def service(self) -> str | None:
        """The service of the SigV4 credential scope, as the client signed it."""
        return self.info.service

    @property
    def sigv4(self) -> SigV4Request | None:
        """The SigV4 details (seed signature, scope, date) for S3 chunked uploads."""
        return self.verifier if isinstance(self.verifier, SigV4Request) else None

    def verify(self, secret_key: str) -> None:
        """Raise :class:`~controller.auth.errors.SignatureMismatch` (or, for SigV4,
        :class:`~controller.auth.errors.PayloadHashMismatch`) unless the request is valid."""
        self.verifier.verify(secret_key)


def parse_signature(req: HttpRequest, now: datetime) -> ParsedSignature | None:
    """Parse the request's authentication material; None if there is none (anonymous).

    Checks the shape, the dates (15-minute skew, presign expiry) and the declared payload
    hash, but computes no HMAC. Raises :class:`~controller.auth.errors.AuthError` subclasses.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    query_names = {name for name, _ in req.query}
    form_names = {name for name, _ in req.form or ()}
    authorization = req.headers.get("authorization", "").strip()
    if authorization:
        if query_names & _V4_PRESIGN_MARKERS or _V2_KEY_MARKERS <= query_names:
            raise IncompleteSignature("Only one auth mechanism allowed.")
        return _parse_header(req, authorization, now)
    if query_names & _V4_PRESIGN_MARKERS:
        return _from_v4(parse_presigned(req, now), "query")
    if (query_names | form_names) & _V2_QUERY_MARKERS or form_names & _V2_KEY_MARKERS:
        location: AuthLocation = "form" if form_names & _V2_KEY_MARKERS else "query"
        return _from_v2(parse_query_v2(req, now), location)
    if query_names & _V2_KEY_MARKERS:
        return _from_v2(parse_s3_v2_presigned(req, now), "query")
    return None


def _parse_header(req: HttpRequest, authorization: str, now: datetime) -> ParsedSignature:
    if authorization.startswith("AWS4-"):
        return _from_v4(parse_authorization(req, now), "header")
    if authorization.startswith("AWS "):
        return _from_v2(parse_s3_v2_header(req, now), "header")
    scheme = authorization.partition(" ")[0]
    raise UnsupportedSignature(f"Unsupported authorization type {scheme[:40]!r}.")


def _from_v4(parsed: SigV4Request, location: AuthLocation) -> ParsedSignature:
    info = SigningInfo(
        access_key_id=parsed.access_key_id,
        version="v4",
        region=parsed.credential.region,
        service=parsed.credential.service,
        location=location,
        presigned=parsed.presigned,
        request_time=parsed.request_time,
        expires_at=parsed.expires_at,
        security_token=parsed.security_token,
    )
    return ParsedSignature(info, parsed)


def _from_v2(parsed: QueryV2Request | S3V2Request, location: AuthLocation) -> ParsedSignature:
    info = SigningInfo(
        access_key_id=parsed.access_key_id,
        version="v2",
        region=None,
        service=None,
        location=location,
        presigned=isinstance(parsed, S3V2Request) and parsed.presigned,
        request_time=parsed.request_time,
        expires_at=parsed.expires_at,
        security_token=parsed.security_token,
    )
    return ParsedSignature(info, parsed)
