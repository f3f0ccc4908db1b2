"""Accounts, users and access keys against a real database (both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from controller.db.engine import make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.db.models import AccessKey, SecurityGroup
from controller.db.reader import Reader
from controller.identity import service
from controller.identity.errors import EntityAlreadyExists, InvalidName, LimitExceeded, NoSuchEntity
from controller.identity.secretbox import SecretBox, SecretBoxError
from controller.provisioning import provision_account


@pytest.fixture(scope="module")
def engine(fresh_engine: Engine) -> Engine:
    upgrade(fresh_engine)
    return fresh_engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """Each test in a transaction that is rolled back."""
    connection = engine.connect()
    outer = connection.begin()
    sess = Session(bind=connection, join_transaction_mode="create_savepoint")
    yield sess
    sess.close()
    outer.rollback()
    connection.close()


BOX = SecretBox(Fernet.generate_key())


def test_account_gets_user_key_and_default_group(session: Session) -> None:
    creds = provision_account(session, BOX, "alpha")
    assert len(creds.account_id) == 12 and creds.account_id.isdigit()
    assert creds.user_name == "alpha" and len(creds.secret_access_key) == 40
    groups = session.scalars(select(SecurityGroup).where(SecurityGroup.account_id == creds.account_id))
    assert [g.name for g in groups] == ["default"]
    with pytest.raises(EntityAlreadyExists):
        provision_account(session, BOX, "alpha")


def test_secrets_are_encrypted_at_rest(session: Session) -> None:
    creds = service.create_account(session, BOX, "beta")
    stored = session.get_one(AccessKey, creds.access_key_id).secret_encrypted
    assert creds.secret_access_key.encode() not in stored
    record = service.lookup_access_key(Reader.of_session(session), BOX, creds.access_key_id)
    assert record is not None and record.secret_access_key == creds.secret_access_key
    with pytest.raises(SecretBoxError):
        SecretBox(Fernet.generate_key()).open(stored)


def test_two_keys_per_user_rotation(session: Session) -> None:
    first = service.create_account(session, BOX, "gamma")
    second = service.create_access_key(session, BOX, first.account_id, "gamma")
    with pytest.raises(LimitExceeded):
        service.create_access_key(session, BOX, first.account_id, "gamma")
    service.set_access_key_status(session, first.account_id, first.access_key_id, "Inactive")
    record = service.lookup_access_key(Reader.of_session(session), BOX, first.access_key_id)
    assert record is not None and record.status == "Inactive"
    service.delete_access_key(session, first.account_id, first.access_key_id)
    assert service.lookup_access_key(Reader.of_session(session), BOX, first.access_key_id) is None
    keys = service.list_credentials(session, BOX, first.account_id)
    assert [k.access_key_id for k in keys] == [second.access_key_id]


def test_keys_and_users_are_scoped_to_their_account(session: Session) -> None:
    one = service.create_account(session, BOX, "delta")
    two = service.create_account(session, BOX, "epsilon")
    with pytest.raises(NoSuchEntity):
        service.set_access_key_status(session, two.account_id, one.access_key_id, "Inactive")
    with pytest.raises(NoSuchEntity):
        service.delete_access_key(session, two.account_id, one.access_key_id)
    with pytest.raises(NoSuchEntity):
        service.get_user(session, two.account_id, "delta")


def test_users(session: Session) -> None:
    creds = service.create_account(session, BOX, "zeta")
    service.create_user(session, creds.account_id, "deploy")
    key = service.create_access_key(session, BOX, creds.account_id, "deploy")
    assert [u.name for u in service.list_users(session, creds.account_id)] == ["deploy", "zeta"]
    with pytest.raises(EntityAlreadyExists):
        service.create_user(session, creds.account_id, "deploy")
    service.delete_user(session, creds.account_id, "deploy")
    session.expire_all()
    assert service.lookup_access_key(Reader.of_session(session), BOX, key.access_key_id) is None


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "slash/no"])
def test_invalid_names(session: Session, name: str) -> None:
    with pytest.raises(InvalidName):
        service.create_account(session, BOX, name)


def test_admin_bootstrap_happens_once(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> None:
    from controller.provisioning import bootstrap_admin

    directory = tmp_path_factory.mktemp("boot")
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        existing = service.admin_account(session)
        first = bootstrap_admin(session, BOX, directory)
        second = bootstrap_admin(session, BOX, directory)
        assert second is None
        if existing is None:
            assert first is not None
            assert (directory / "admin-credentials.json").stat().st_mode & 0o777 == 0o600
        session.rollback()
