from __future__ import annotations

import re

from controller import ids


def test_resource_ids_look_like_aws() -> None:
    for prefix in ("i", "vol", "snap", "sg", "key", "ami"):
        rid = ids.new_resource_id(prefix)
        assert re.fullmatch(rf"{prefix}-[0-9a-f]{{17}}", rid)
        assert ids.is_resource_id(rid, prefix)
    assert ids.is_resource_id("sg-12345678", "sg")
    for bad in ("sg-", "sg-123", "sg-XYZ45678", "sgx12345678", "vol-12345678", "sg-123456789"):
        assert not ids.is_resource_id(bad, "sg")


def test_account_and_key_ids() -> None:
    for _ in range(50):
        account = ids.new_account_id()
        assert ids.is_account_id(account) and account[0] != "0"
        key = ids.new_access_key_id()
        assert ids.is_access_key_id(key)
        assert re.fullmatch(r"AIDA[A-Z2-7]{17}", ids.new_user_id())
        assert re.fullmatch(r"[A-Za-z0-9+/]{40}", ids.new_secret_access_key())
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        ids.new_request_id())


def test_tokens_never_start_with_a_dash() -> None:
    from controller.ids import new_token

    tokens = [new_token(24) for _ in range(2000)]
    assert all(t[0] != "-" and len(t) == 32 for t in tokens)
