"""``ironbark admin ...``: accounts, users, access keys and credentials, straight on the database."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from controller.cli.credentials import render
from controller.config import Settings
from controller.db.engine import make_engine, make_session_factory, transaction
from controller.db.migrate import upgrade
from controller.identity import service
from controller.identity.errors import IdentityError
from controller.identity.secretbox import SecretBox
from controller.identity.service import Credentials
from controller.metadata.identity_signer import IdentitySigner
from controller.provisioning import bootstrap_admin, provision_account
from controller.runtime import secret_box
from controller.s3.housekeeping import TMP_OLDER_THAN, reap_once
from storage.objects import BlobStore


class AdminError(Exception):
    pass


SettingsOf = Callable[[argparse.Namespace], Settings]
Common = Callable[[argparse.ArgumentParser], None]


@contextmanager
def _db(settings: Settings) -> Iterator[tuple[Session, SecretBox]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
        box = secret_box(settings)
        with transaction(make_session_factory(engine)) as session:
            bootstrap_admin(session, box, settings.data_dir)
            yield session, box
    except IdentityError as exc:
        raise AdminError(str(exc)) from None
    finally:
        engine.dispose()


def active_credentials(session: Session, box: SecretBox, account_ref: str | None) -> Credentials:
    """The first active key of an account (by name or id; default: the admin account)."""
    account = service.get_account(session, account_ref) if account_ref else service.admin_account(session)
    if account is None:
        raise AdminError("there is no admin account yet")
    keys = [c for c in service.list_credentials(session, box, account.id) if c.status == "Active"]
    if not keys:
        raise AdminError(f"account {account.name} has no active access key")
    return keys[0]


def endpoint_of(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}/"


def _credentials(args: argparse.Namespace, settings: Settings) -> int:
    with _db(settings) as (session, box):
        creds = active_credentials(session, box, args.account)
    print(render(creds, args.format, endpoint_of(settings), settings.region))
    return 0


def _account_create(args: argparse.Namespace, settings: Settings) -> int:
    with _db(settings) as (session, box):
        creds = provision_account(session, box, args.name)
    print(render(creds, args.format, endpoint_of(settings), settings.region))
    return 0


def _account_list(args: argparse.Namespace, settings: Settings) -> int:
    with _db(settings) as (session, _box):
        for account in service.list_accounts(session):
            role = "admin" if account.is_admin else "-"
            print(f"{account.id}\t{account.name}\t{role}")
    return 0


def _user_create(args: argparse.Namespace, settings: Settings) -> int:
    with _db(settings) as (session, box):
        account = service.get_account(session, args.account)
        service.create_user(session, account.id, args.name)
        creds = service.create_access_key(session, box, account.id, args.name)
    print(render(creds, args.format, endpoint_of(settings), settings.region))
    return 0


def _user_delete(args: argparse.Namespace, settings: Settings) -> int:
    with _db(settings) as (session, _box):
        account = service.get_account(session, args.account)
        service.delete_user(session, account.id, args.name)
    return 0


def _user_list(args: argparse.Namespace, settings: Settings) -> int:
    with _db(settings) as (session, box):
        account = service.get_account(session, args.account)
        for creds in service.list_credentials(session, box, account.id):
            print(f"{creds.user_name}\t{creds.access_key_id}\t{creds.status}")
    return 0


def _key_create(args: argparse.Namespace, settings: Settings) -> int:
    with _db(settings) as (session, box):
        account = service.get_account(session, args.account)
        creds = service.create_access_key(session, box, account.id, args.user)
    print(render(creds, args.format, endpoint_of(settings), settings.region))
    return 0


def _key_status(status: str) -> Callable[[argparse.Namespace, Settings], int]:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        with _db(settings) as (session, _box):
            account = service.get_account(session, args.account)
            service.set_access_key_status(session, account.id, args.key_id, status)
        return 0

    return run


def _key_delete(args: argparse.Namespace, settings: Settings) -> int:
    with _db(settings) as (session, _box):
        account = service.get_account(session, args.account)
        service.delete_access_key(session, account.id, args.key_id)
    return 0


def _s3_reap(args: argparse.Namespace, settings: Settings) -> int:
    """Run the object store's reaper once (the server runs it every 10 minutes by itself)."""
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
        blobs = BlobStore(settings.data_dir / "objects")
        age = float(args.older_than)
        report = reap_once(make_session_factory(engine), blobs, tmp_older_than=age,
                           blob_older_than=age)
    finally:
        engine.dispose()
    print(json.dumps(asdict(report)))
    return 0


def _metadata_certificate(args: argparse.Namespace, settings: Settings) -> int:
    """Print the certificate guests verify instance-identity signatures with."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    print(IdentitySigner.from_data_dir(settings.data_dir, settings.region).certificate_pem(),
          end="")
    return 0


def _leaf(
    sub: Any, name: str, func: Callable[[argparse.Namespace, Settings], int], common: Common,
    *positionals: str, fmt: bool = False,
) -> None:
    cmd = sub.add_parser(name)
    common(cmd)
    for positional in positionals:
        cmd.add_argument(positional)
    if fmt:
        cmd.add_argument("--format", choices=["env", "aws", "boto"], default="env")
    cmd.set_defaults(admin_func=func)


def add_parser(sub: Any, common: Common) -> None:
    admin = sub.add_parser("admin", help="manage accounts, users and access keys")
    admin.set_defaults(func=_run)
    groups = admin.add_subparsers(dest="admin_command", required=True)
    creds = groups.add_parser("credentials", help="print an account's credentials")
    common(creds)
    creds.add_argument("--format", choices=["env", "aws", "boto"], default="env")
    creds.add_argument("--account", help="account name or id (default: the admin account)")
    creds.add_argument("--host", default=None)
    creds.add_argument("--port", type=int, default=None)
    creds.set_defaults(admin_func=_credentials)

    account = groups.add_parser("account").add_subparsers(dest="op", required=True)
    _leaf(account, "create", _account_create, common, "name", fmt=True)
    _leaf(account, "list", _account_list, common)
    user = groups.add_parser("user").add_subparsers(dest="op", required=True)
    _leaf(user, "create", _user_create, common, "account", "name", fmt=True)
    _leaf(user, "delete", _user_delete, common, "account", "name")
    _leaf(user, "list", _user_list, common, "account")
    key = groups.add_parser("key").add_subparsers(dest="op", required=True)
    _leaf(key, "create", _key_create, common, "account", "user", fmt=True)
    _leaf(key, "activate", _key_status("Active"), common, "account", "key_id")
    _leaf(key, "deactivate", _key_status("Inactive"), common, "account", "key_id")
    _leaf(key, "delete", _key_delete, common, "account", "key_id")
    s3 = groups.add_parser("s3", help="object store maintenance").add_subparsers(
        dest="op", required=True)
    reap = s3.add_parser("reap", help="remove temp files and unreferenced blobs now")
    common(reap)
    reap.add_argument(
        "--older-than", type=float, default=TMP_OLDER_THAN, metavar="SECONDS",
        help="only what is at least this old (default 3600); 0 is safe only while no server "
             "of this data directory is running")
    reap.set_defaults(admin_func=_s3_reap)
    cert = groups.add_parser(
        "metadata-certificate",
        help="print the certificate that verifies instance-identity documents")
    common(cert)
    cert.set_defaults(admin_func=_metadata_certificate)
    from controller.cli import image_import  # it uses this module's helpers

    image_import.add_parser(groups, common)


def _run(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    result: int = args.admin_func(args, settings_of(args))
    return result
