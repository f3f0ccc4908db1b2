"""Creating accounts with everything a new account starts with (its default security group)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy.orm import Session

from controller.ec2.security_groups_store import create_default_group
from controller.identity import service
from controller.identity.secretbox import SecretBox
from controller.identity.service import Credentials

ADMIN_CREDENTIALS_FILE = "admin-credentials.json"


def provision_account(session: Session, box: SecretBox, name: str, *, is_admin: bool = False) -> Credentials:
    creds = service.create_account(session, box, name, is_admin=is_admin)
    create_default_group(session, creds.account_id)
    return creds


def bootstrap_admin(session: Session, box: SecretBox, data_dir: Path) -> Credentials | None:
    """On first start, create the admin account and write its credentials (mode 0600)."""
    if service.admin_account(session) is not None:
        return None
    creds = provision_account(session, box, service.ADMIN_ACCOUNT_NAME, is_admin=True)
    path = data_dir / ADMIN_CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(
            {
                "account_id": creds.account_id,
                "user": creds.user_name,
                "access_key_id": creds.access_key_id,
                "secret_access_key": creds.secret_access_key,
            },
            handle,
            indent=2,
        )
    return creds
