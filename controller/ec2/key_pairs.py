"""CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError

from controller import ids
from controller.db.models import KeyPair
from controller.db.queries import owned_rows_with_tags
from controller.ec2 import errors
from controller.ec2.context import RequestContext
from controller.ec2.filters import apply_filters
from controller.ec2.keymaterial import KeyFormatError, generate, parse_public_key
from controller.ec2.registry import Params, Result, action
from controller.ec2.tagging import (
    as_tag_list,
    delete_all_for,
    set_tags,
    tags_from_specifications,
)

MAX_NAME = 255


def _check_name(name: str) -> None:
    if not name or len(name) > MAX_NAME or not name.isascii() or not name.isprintable():
        raise errors.InvalidParameterValue(
            f"Value ({name[:300]}) for parameter keyName is invalid. Expected: "
            f"ASCII characters, 1-{MAX_NAME} long."
        )


def _store(ctx: RequestContext, name: str, key_type: str, public: str, fingerprint: str,
           specs: Any) -> tuple[KeyPair, dict[str, str]]:
    _check_name(name)
    tags = tags_from_specifications(specs, "key-pair")
    session = ctx.session
    if session.scalar(select(KeyPair.id).where(KeyPair.account_id == ctx.account_id,
                                                KeyPair.name == name)) is not None:
        raise errors.InvalidKeyPairDuplicate(f"The keypair '{name}' already exists.")
    pair = KeyPair(id=ids.new_resource_id("key"), account_id=ctx.account_id, name=name,
                   key_type=key_type, fingerprint=fingerprint, public_key=public)
    session.add(pair)
    try:
        session.flush()
    except IntegrityError:
        raise errors.InvalidKeyPairDuplicate(f"The keypair '{name}' already exists.") from None
    if tags:
        set_tags(session, ctx.account_id, {pair.id: "key-pair"}, tags)
    return pair, tags


@action("CreateKeyPair")
def create_key_pair(ctx: RequestContext, params: Params) -> Result:
    key_type = params.get("KeyType") or "rsa"
    if key_type not in ("rsa", "ed25519"):
        raise errors.InvalidParameterValue(f"Value ({key_type}) for parameter keyType is invalid.")
    if (params.get("KeyFormat") or "pem") != "pem":
        raise errors.InvalidParameterValue(
            f"Value ({params['KeyFormat']}) for parameter keyFormat is invalid. "
            "Only 'pem' is supported."
        )
    _check_name(params["KeyName"])
    generated = generate(key_type)
    pair, tags = _store(ctx, params["KeyName"], key_type, generated.public_openssh,
                        generated.fingerprint, params.get("TagSpecifications"))
    return {"KeyName": pair.name, "KeyFingerprint": pair.fingerprint,
            "KeyMaterial": generated.private_pem, "KeyPairId": pair.id,
            "Tags": as_tag_list(tags)}


@action("ImportKeyPair")
def import_key_pair(ctx: RequestContext, params: Params) -> Result:
    try:
        imported = parse_public_key(params["PublicKeyMaterial"])
    except KeyFormatError:
        raise errors.InvalidKeyFormat("Key is not in valid OpenSSH public key format") from None
    pair, tags = _store(ctx, params["KeyName"], imported.key_type, imported.public_openssh,
                        imported.fingerprint, params.get("TagSpecifications"))
    return {"KeyName": pair.name, "KeyFingerprint": pair.fingerprint, "KeyPairId": pair.id,
            "Tags": as_tag_list(tags)}


_FILTERS = {
    "key-pair-id": lambda k: k.id,
    "key-name": lambda k: k.name,
    "fingerprint": lambda k: k.fingerprint,
    "key-type": lambda k: k.key_type,
}


@action("DescribeKeyPairs", mutating=False)
def describe_key_pairs(ctx: RequestContext, params: Params) -> Result:
    names: list[str] = params.get("KeyNames") or []
    pair_ids: list[str] = params.get("KeyPairIds") or []
    for pid in pair_ids:
        if not ids.is_resource_id(pid, "key"):
            raise errors.InvalidKeyPairNotFound(f"The key pair '{pid}' does not exist")
    rows = owned_rows_with_tags(ctx.reader, KeyPair, ctx.account_id,
                                {"name": names, "id": pair_ids}, "name")
    found_names = {p.name for p, _ in rows}
    found_ids = {p.id for p, _ in rows}
    for missing in [n for n in names if n not in found_names] + [i for i in pair_ids if i not in found_ids]:
        raise errors.InvalidKeyPairNotFound(f"The key pair '{missing}' does not exist")
    tags = {p.id: t for p, t in rows}
    pairs = apply_filters([p for p, _ in rows], params.get("Filters"), _FILTERS, lambda p: tags[p.id])
    include_public = bool(params.get("IncludePublicKey"))
    return {"KeyPairs": [_describe(p, tags[p.id], include_public) for p in pairs]}


def _describe(pair: Row[Any], tags: dict[str, str], include_public: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "KeyPairId": pair.id,
        "KeyFingerprint": pair.fingerprint,
        "KeyName": pair.name,
        "KeyType": pair.key_type,
        "Tags": as_tag_list(tags),
        "CreateTime": pair.created_at,
    }
    if include_public:
        item["PublicKey"] = pair.public_key
    return item


@action("DeleteKeyPair")
def delete_key_pair(ctx: RequestContext, params: Params) -> Result:
    name = params.get("KeyName")
    pair_id = params.get("KeyPairId")
    if not name and not pair_id:
        raise errors.MissingParameter("The request must contain the parameter KeyName or KeyPairId")
    if pair_id and not ids.is_resource_id(pair_id, "key"):
        raise errors.InvalidKeyPairNotFound(f"The key pair '{pair_id}' does not exist")
    query = select(KeyPair).where(KeyPair.account_id == ctx.account_id)
    query = query.where(KeyPair.id == pair_id) if pair_id else query.where(KeyPair.name == name)
    pair = ctx.session.scalar(query)
    if pair is None:
        return {"Return": True}
    delete_all_for(ctx.session, ctx.account_id, pair.id)
    ctx.session.delete(pair)
    return {"Return": True, "KeyPairId": pair.id}
