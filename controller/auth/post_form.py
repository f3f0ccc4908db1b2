"""Signatures of browser-based POST uploads: the form signs its base64 policy document.

- V2: ``AWSAccessKeyId`` + ``signature`` = base64 HMAC-SHA1(secret, policy);
- V4: ``x-amz-algorithm`` (``AWS4-HMAC-SHA256``), ``x-amz-credential``, ``x-amz-date`` and
  ``x-amz-signature`` = hex HMAC-SHA256(SigV4 signing key, policy).

Field names are the lower-cased form field names. No date skew applies: the policy's own
``expiration`` bounds the form's life (checked by the S3 layer).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from controller.auth.errors import IncompleteSignature, SignatureMismatch, UnsupportedSignature
from controller.auth.sigv2 import _signature_matches
from controller.auth.sigv4 import (
    ALGORITHM,
    CredentialScope,
    parse_amz_date,
    parse_credential,
    signing_key,
)

V4_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
V2_FIELDS = ("awsaccesskeyid", "signature")


@dataclass(frozen=True)
class PostPolicyV2:
    access_key_id: str
    policy: str = field(repr=False)
    signature: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    def verify(self, secret_key: str) -> None:
        if not _signature_matches(secret_key, self.policy, "sha1", self.signature):
            raise SignatureMismatch()


@dataclass(frozen=True)
class PostPolicyV4:
    credential: CredentialScope
    amz_date: str
    request_time: datetime
    policy: str = field(repr=False)
    signature: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    @property
    def access_key_id(self) -> str:
        return self.credential.access_key_id

    def verify(self, secret_key: str) -> None:
        c = self.credential
        key = signing_key(secret_key, c.date, c.region, c.service)
        expected = hmac.new(key, self.policy.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode("ascii"),
                                   self.signature.lower().encode("utf-8", "surrogateescape")):
            raise SignatureMismatch()


def missing_field(fields: Mapping[str, str]) -> str | None:
    """The first signature field (as AWS spells it) a policy-bearing form lacks, if any."""
    if "x-amz-credential" in fields or "x-amz-algorithm" in fields:
        names = {"x-amz-algorithm": "X-Amz-Algorithm", "x-amz-credential": "X-Amz-Credential",
                 "x-amz-date": "X-Amz-Date", "x-amz-signature": "X-Amz-Signature"}
    else:
        names = {"awsaccesskeyid": "AWSAccessKeyId", "signature": "Signature"}
    return next((spelled for name, spelled in names.items() if name not in fields), None)


def parse_post_form(fields: Mapping[str, str]) -> PostPolicyV2 | PostPolicyV4:
    """The form's signature, parsed (no HMAC yet); call only when :func:`missing_field` is None.

    Raises :class:`UnsupportedSignature` for an algorithm other than SigV4's, and
    :class:`IncompleteSignature` for a malformed credential or date."""
    policy = fields["policy"]
    token = fields.get("x-amz-security-token")
    if "x-amz-credential" not in fields:
        return PostPolicyV2(fields["awsaccesskeyid"], policy, fields["signature"], token)
    if fields["x-amz-algorithm"] != ALGORITHM:
        raise UnsupportedSignature("SigV4 authorization algorithm must be AWS4-HMAC-SHA256.")
    credential = parse_credential(fields["x-amz-credential"])
    amz_date = fields["x-amz-date"]
    when = parse_amz_date(amz_date)
    if credential.date != amz_date[:8]:
        raise IncompleteSignature(
            "Date in Credential scope does not match YYYYMMDD from the request date.")
    return PostPolicyV4(credential, amz_date, when, policy, fields["x-amz-signature"], token)
