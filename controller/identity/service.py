"""Accounts, users and access keys. Helpers flush but never commit: the caller owns the unit of work."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controller import ids
from controller.db.models import AccessKey, Account, User
from controller.db.reader import Prepared, Reader
from controller.identity.errors import EntityAlreadyExists, InvalidName, LimitExceeded, NoSuchEntity
from controller.identity.secretbox import SecretBox

MAX_KEYS_PER_USER = 2
ADMIN_ACCOUNT_NAME = "admin"
_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")


@dataclass(frozen=True)
class Credentials:
    account_id: str
    account_name: str
    user_name: str
    access_key_id: str
    secret_access_key: str
    status: str = "Active"


@dataclass(frozen=True)
class KeyRecord:
    """What authentication needs to know about an access key."""

    access_key_id: str
    account_id: str
    user_id: str
    status: str
    secret_access_key: str


def _check_name(kind: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidName(f"{kind} name must be 1-64 characters of A-Z a-z 0-9 +=,.@_-: {name!r}")


def create_account(
    session: Session, box: SecretBox, name: str, *, is_admin: bool = False
) -> Credentials:
    """A new account with a user of the same name holding one active access key."""
    _check_name("account", name)
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise EntityAlreadyExists(f"account {name!r} already exists")
    account = Account(
        id=free_account_id(session),
        name=name,
        canonical_user_id=ids.new_canonical_user_id(),
        is_admin=is_admin,
    )
    session.add(account)
    try:
        session.flush()
    except IntegrityError as exc:
        raise EntityAlreadyExists(f"account {name!r} already exists") from exc
    create_user(session, account.id, name)
    return create_access_key(session, box, account.id, name)


def free_account_id(session: Session) -> str:
    while True:
        candidate = ids.new_account_id()
        if session.get(Account, candidate) is None:
            return candidate


def get_account(session: Session, name_or_id: str) -> Account:
    account = session.scalar(
        select(Account).where((Account.name == name_or_id) | (Account.id == name_or_id))
    )
    if account is None:
        raise NoSuchEntity(f"no account {name_or_id!r}")
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.created_at, Account.name)))


def admin_account(session: Session) -> Account | None:
    return session.scalar(select(Account).where(Account.is_admin.is_(True)).limit(1))


def create_user(session: Session, account_id: str, name: str) -> User:
    _check_name("user", name)
    if _find_user(session, account_id, name) is not None:
        raise EntityAlreadyExists(f"user {name!r} already exists")
    user = User(id=ids.new_user_id(), account_id=account_id, name=name)
    session.add(user)
    session.flush()
    return user


def _find_user(session: Session, account_id: str, name: str) -> User | None:
    return session.scalar(select(User).where(User.account_id == account_id, User.name == name))


def get_user(session: Session, account_id: str, name: str) -> User:
    user = _find_user(session, account_id, name)
    if user is None:
        raise NoSuchEntity(f"no user {name!r} in account {account_id}")
    return user


def list_users(session: Session, account_id: str) -> list[User]:
    return list(session.scalars(select(User).where(User.account_id == account_id).order_by(User.name)))


def delete_user(session: Session, account_id: str, name: str) -> None:
    session.delete(get_user(session, account_id, name))
    session.flush()


def create_access_key(session: Session, box: SecretBox, account_id: str, user_name: str) -> Credentials:
    user = get_user(session, account_id, user_name)
    count = session.scalar(select(func.count()).where(AccessKey.user_id == user.id)) or 0
    if count >= MAX_KEYS_PER_USER:
        raise LimitExceeded(f"user {user_name!r} already has {MAX_KEYS_PER_USER} access keys")
    secret = ids.new_secret_access_key()
    key = AccessKey(
        id=ids.new_access_key_id(),
        user_id=user.id,
        account_id=account_id,
        secret_encrypted=box.seal(secret),
        status="Active",
    )
    session.add(key)
    session.flush()
    account = session.get_one(Account, account_id)
    return Credentials(account_id, account.name, user_name, key.id, secret)


def _get_key(session: Session, account_id: str, access_key_id: str) -> AccessKey:
    key = session.get(AccessKey, access_key_id)
    if key is None or key.account_id != account_id:
        raise NoSuchEntity(f"no access key {access_key_id!r} in account {account_id}")
    return key


def set_access_key_status(session: Session, account_id: str, access_key_id: str, status: str) -> None:
    if status not in ("Active", "Inactive"):
        raise InvalidName(f"status must be Active or Inactive, not {status!r}")
    _get_key(session, account_id, access_key_id).status = status
    session.flush()


def delete_access_key(session: Session, account_id: str, access_key_id: str) -> None:
    session.delete(_get_key(session, account_id, access_key_id))
    session.flush()


def list_credentials(session: Session, box: SecretBox, account_id: str) -> list[Credentials]:
    """Every key of an account with its secret (for the operator's CLI only)."""
    rows = session.execute(
        select(AccessKey, User.name, Account.name)
        .join(User, AccessKey.user_id == User.id)
        .join(Account, AccessKey.account_id == Account.id)
        .where(AccessKey.account_id == account_id)
        .order_by(AccessKey.created_at)
    ).all()
    return [
        Credentials(account_id, acct, user, key.id, box.open(key.secret_encrypted), key.status)
        for key, user, acct in rows
    ]


_KEYS = AccessKey.__table__.c
_KEY_LOOKUP = Prepared(
    select(_KEYS.account_id, _KEYS.user_id, _KEYS.status, _KEYS.secret_encrypted).where(
        _KEYS.id == bindparam("key_id"))
)


def lookup_access_key(reader: Reader, box: SecretBox, access_key_id: str) -> KeyRecord | None:
    """The key, its owner and its secret; one indexed query, on every request."""
    row = reader.first(_KEY_LOOKUP, {"key_id": access_key_id})
    if row is None:
        return None
    account_id, user_id, status, sealed = row
    return KeyRecord(access_key_id, account_id, user_id, status, box.open(sealed))
