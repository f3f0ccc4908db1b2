"""What the write and delete paths ask of Object Lock: the bucket's configuration, the lock a
new version's headers ask for, a version's lock, and whether a request may bypass GOVERNANCE
retention."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from controller.db.models import Bucket, S3Object
from controller.s3 import errors
from controller.s3 import object_lock_rules as rules
from controller.s3.access import authorize, current_facts
from controller.s3.context import S3Context

ENABLED = json.dumps({"ObjectLockEnabled": "Enabled"})
"""What a bucket created with ``x-amz-bucket-object-lock-enabled: true`` stores."""


def is_requested_at_creation(headers: Mapping[str, str]) -> bool:
    return headers.get("x-amz-bucket-object-lock-enabled", "").strip().lower() == "true"


def configuration(bucket: Bucket) -> dict[str, Any] | None:
    config: dict[str, Any] | None = json.loads(bucket.object_lock) if bucket.object_lock else None
    return config


def new_version_lock(bucket: Bucket, headers: Mapping[str, str]) -> dict[str, Any]:
    """The lock columns a write's ``x-amz-object-lock-*`` headers ask for (the bucket's default
    retention is applied when the version is installed, see ``objects_store.install``)."""
    lock = rules.requested_lock(headers, bucket.object_lock is not None, datetime.now(UTC))
    return {"lock_mode": lock.mode, "lock_until": lock.until, "legal_hold": lock.legal_hold}


def lock_of(row: S3Object) -> rules.Lock:
    return rules.Lock(row.lock_mode, row.lock_until, row.legal_hold)


def may_bypass(session: Session, ctx: S3Context, bucket: Bucket, key: str) -> bool:
    """Whether the request asks to bypass GOVERNANCE retention and may
    (``s3:BypassGovernanceRetention``)."""
    if not rules.is_bypass_requested(ctx.headers):
        return False
    try:
        authorize(session, ctx.principal, bucket, "s3:BypassGovernanceRetention",
                  current_facts(), key=key)
    except errors.AccessDenied:
        return False
    return True
