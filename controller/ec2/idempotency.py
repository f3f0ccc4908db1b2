"""ClientToken idempotency, shared by the actions that take one (RunInstances, CreateVolume).

A call with a token the account used before answers what the first call made, if its other
parameters are the same (their digest is stored with what was made), and
``IdempotentParameterMismatch`` otherwise."""

from __future__ import annotations

import hashlib
import json

from controller.ec2 import errors
from controller.ec2.registry import Params


def client_token(params: Params) -> str | None:
    """The call's ClientToken (None when absent or empty); 1 to 64 characters, as EC2 allows."""
    token = params.get("ClientToken")
    if token is not None and not 1 <= len(token) <= 64:
        raise errors.InvalidParameterValue("ClientToken must be 1 to 64 characters")
    return str(token) if token else None


def request_digest(params: Params) -> str:
    """SHA-256 of the call's parameters other than ClientToken and DryRun."""
    relevant = {k: v for k, v in params.items() if k not in ("ClientToken", "DryRun")}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def check_same_request(stored_digest: str | None, digest: str) -> None:
    """Refuse a token reused for a different call."""
    if stored_digest != digest:
        raise errors.IdempotentParameterMismatch(
            "Arguments on this idempotent request are inconsistent with arguments used in "
            "previous request(s).")
