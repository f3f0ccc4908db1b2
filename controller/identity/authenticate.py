"""Who is calling: signature parsing (controller.auth) + the access key from the database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from controller.auth.authenticator import parse_signature
from controller.auth.errors import InactiveAccessKey, UnknownAccessKey
from controller.auth.post_form import PostPolicyV2, PostPolicyV4
from controller.auth.request import HttpRequest
from controller.auth.sigv4 import STREAMING_PREFIX, SigV4Request, signing_key
from controller.db.reader import Reader
from controller.identity.secretbox import SecretBox
from controller.identity.service import KeyRecord, lookup_access_key


@dataclass(frozen=True)
class StreamingSeed:
    """What S3 aws-chunked chunk signatures chain from: the seed signature and its key."""

    signature: str = field(repr=False)
    amz_date: str
    scope: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class Principal:
    account_id: str
    user_id: str
    access_key_id: str
    region: str | None
    service: str | None
    streaming: StreamingSeed | None = field(default=None, repr=False)
    """Set only for SigV4 header-signed ``x-amz-content-sha256: STREAMING-*`` requests."""


class Authenticator:
    def __init__(self, box: SecretBox) -> None:
        self._box = box

    def authenticate(
        self, reader: Reader, request: HttpRequest, now: datetime | None = None
    ) -> Principal | None:
        """The verified caller, or None for an anonymous request. Raises ``auth.errors``."""
        parsed = parse_signature(request, now or datetime.now(UTC))
        if parsed is None:
            return None
        record = self._verified_key(reader, parsed.access_key_id, parsed.verify)
        return Principal(
            account_id=record.account_id,
            user_id=record.user_id,
            access_key_id=record.access_key_id,
            region=parsed.region,
            service=parsed.service,
            streaming=_streaming_seed(parsed.sigv4, request, record.secret_access_key),
        )

    def authenticate_form(self, reader: Reader, signed: PostPolicyV2 | PostPolicyV4) -> Principal:
        """The caller of a browser POST upload whose form signs its policy document."""
        record = self._verified_key(reader, signed.access_key_id, signed.verify)
        v4 = signed.credential if isinstance(signed, PostPolicyV4) else None
        return Principal(
            account_id=record.account_id,
            user_id=record.user_id,
            access_key_id=record.access_key_id,
            region=v4.region if v4 else None,
            service=v4.service if v4 else None,
        )

    def _verified_key(
        self, reader: Reader, access_key_id: str, verify: Callable[[str], None]
    ) -> KeyRecord:
        record = lookup_access_key(reader, self._box, access_key_id)
        if record is None:
            raise UnknownAccessKey(
                "The AWS Access Key Id you provided does not exist in our records."
            )
        if record.status != "Active":
            raise InactiveAccessKey("The AWS Access Key Id you provided is not active.")
        verify(record.secret_access_key)
        return record


def _streaming_seed(
    sigv4: SigV4Request | None, request: HttpRequest, secret: str
) -> StreamingSeed | None:
    declared = request.headers.get("x-amz-content-sha256", "")
    if sigv4 is None or sigv4.presigned or not declared.startswith(STREAMING_PREFIX):
        return None
    c = sigv4.credential
    key = signing_key(secret, c.date, c.region, c.service)
    return StreamingSeed(sigv4.signature, sigv4.amz_date, c.scope, key)
