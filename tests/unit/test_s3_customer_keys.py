"""SSE-C: the request's key headers (controller.s3.customer_keys), the stored verifier and
object keys (controller.s3.encryption), and what reads and writes of SSE-C objects are told
(controller.s3.stored_bytes)."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from controller.s3 import customer_keys as ck
from controller.s3 import encryption as enc
from controller.s3 import errors, stored_bytes
from controller.s3.customer_keys import CustomerKey

KEY = os.urandom(32)


def _headers(prefix: str = "x-amz-", changes: dict[str, str | None] | None = None
             ) -> dict[str, str]:
    headers = {
        f"{prefix}server-side-encryption-customer-algorithm": "AES256",
        f"{prefix}server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
        f"{prefix}server-side-encryption-customer-key-md5":
            base64.b64encode(hashlib.md5(KEY).digest()).decode(),
    }
    for suffix, value in (changes or {}).items():
        name = f"{prefix}server-side-encryption-customer-{suffix.replace('_', '-')}"
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    return headers


def test_a_complete_set_gives_the_key_and_its_md5() -> None:
    got = ck.of_request(_headers())
    assert got is not None and got.key == KEY
    assert got.md5 == base64.b64encode(hashlib.md5(KEY).digest()).decode()
    assert ck.of_request({}) is None
    copied = ck.of_request(_headers(prefix="x-amz-copy-source-"), copy_source=True)
    assert copied is not None and copied.key == KEY
    assert ck.of_request(_headers(prefix="x-amz-copy-source-")) is None  # not the destination's


@pytest.mark.parametrize(("changes", "error", "message"), [
    ({"algorithm": None}, errors.InvalidArgument, "valid encryption algorithm"),
    ({"algorithm": "AES128"}, errors.InvalidEncryptionAlgorithmError, "valid value is AES256"),
    ({"key": None}, errors.InvalidArgument, "appropriate secret key"),
    ({"key_md5": None}, errors.InvalidArgument, "MD5 of the secret key"),
    ({"key_md5": "AAAAAAAAAAAAAAAAAAAAAA=="}, errors.InvalidArgument, "did not match"),
    ({"key": base64.b64encode(b"short").decode()}, errors.InvalidArgument, "invalid"),
    ({"key": "not base64!"}, errors.InvalidArgument, "invalid"),
])
def test_incomplete_or_inconsistent_sets_are_s3s_errors(
        changes: dict[str, str | None], error: type[errors.S3Error], message: str) -> None:
    with pytest.raises(error) as caught:
        ck.of_request(_headers(changes=changes))
    assert message in str(caught.value) and caught.value.http_status == 400


def test_keys_need_https_but_from_loopback_or_when_allowed() -> None:
    with pytest.raises(errors.InvalidRequest, match="secure connection"):
        ck.of_request(_headers(), secure=False)
    assert ck.may_carry_keys("https", "203.0.113.9", False)
    assert ck.may_carry_keys("http", "127.0.0.1", False)
    assert ck.may_carry_keys("http", "::1", False)
    assert not ck.may_carry_keys("http", "203.0.113.9", False)
    assert not ck.may_carry_keys("http", "", False)
    assert ck.may_carry_keys("http", "203.0.113.9", True)


def test_the_verifier_tells_the_objects_key_without_storing_it() -> None:
    keys = enc.Keys(os.urandom(32))
    sealed = keys.seal_customer(KEY)
    stored = sealed.stored()
    assert stored.startswith("c1.") and base64.b64encode(KEY).decode() not in stored
    again = enc.Sealed.parse(stored)
    assert again == sealed
    object_key = keys.customer_key(again, KEY)
    assert object_key is not None and object_key != KEY
    assert keys.customer_key(again, os.urandom(32)) is None
    assert enc.Keys(os.urandom(32)).customer_key(again, KEY) is None  # another master key
    assert keys.customer_key(keys.seal_customer(KEY), KEY) != object_key  # a salt of its own
    assert enc.Sealed.parse(enc.Sealed.new().stored()).verifier == ""
    with pytest.raises(ValueError):
        enc.Sealed.parse("c1.a.b")


def test_what_reads_of_sse_c_objects_are_told() -> None:
    keys = enc.Keys(os.urandom(32))
    customer = CustomerKey(KEY, "md5")
    sse_key = keys.seal_customer(KEY).stored()
    assert stored_bytes.unlock(keys, enc.SSE_C, sse_key, customer) is not None
    with pytest.raises(errors.InvalidRequest, match="correct parameters must be provided"):
        stored_bytes.unlock(keys, enc.SSE_C, sse_key, None)
    with pytest.raises(errors.AccessDenied):
        stored_bytes.unlock(keys, enc.SSE_C, sse_key, CustomerKey(os.urandom(32), "md5"))
    with pytest.raises(errors.InvalidRequest, match="not applicable"):
        stored_bytes.unlock(keys, "AES256", enc.Sealed.new().stored(), customer)
    assert stored_bytes.unlock(keys, None, None, None) is None


def test_sse_c_etags_do_not_reveal_the_md5() -> None:
    keys = enc.Keys(os.urandom(32))
    customer = CustomerKey(KEY, "md5")
    sse_key = keys.seal_customer(KEY).stored()
    md5 = hashlib.md5(b"secret").hexdigest()
    etag = stored_bytes.etag(keys, enc.SSE_C, sse_key, customer, md5)
    assert len(etag) == 34 and etag.strip('"') != md5
    assert etag == stored_bytes.etag(keys, enc.SSE_C, sse_key, customer, md5)
    assert stored_bytes.etag(keys, "AES256", None, None, md5) == f'"{md5}"'


def test_parts_must_bring_their_uploads_key() -> None:
    keys = enc.Keys(os.urandom(32))
    upload_key = stored_bytes.upload_sealing(keys, enc.SSE_C, CustomerKey(KEY, "m"))
    nonce, transform = stored_bytes.part_sealing(keys, enc.SSE_C, upload_key,
                                                 CustomerKey(KEY, "m"))
    assert nonce and transform is not None and transform(b"abc") != b"abc"
    with pytest.raises(errors.InvalidRequest, match="Subsequent part requests"):
        stored_bytes.part_sealing(keys, enc.SSE_C, upload_key, None)
    with pytest.raises(errors.InvalidRequest, match="did not match"):
        stored_bytes.part_sealing(keys, enc.SSE_C, upload_key, CustomerKey(os.urandom(32), "m"))
    with pytest.raises(errors.InvalidRequest, match="not applicable"):
        stored_bytes.part_sealing(keys, None, None, CustomerKey(KEY, "m"))


def test_writes_ask_for_sse_c_where_the_bucket_allows_it() -> None:
    customer = CustomerKey(KEY, "m")
    assert enc.requested({}, "AES256", customer) == enc.SSE_C  # over the bucket's default
    with pytest.raises(errors.AccessDenied):
        enc.requested({}, None, customer, sse_c_blocked=True)
    with pytest.raises(errors.InvalidArgument, match="incompatible"):
        enc.requested({"x-amz-server-side-encryption": "AES256"}, None, customer)
    allow = ('{"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, '
             '"BlockedEncryptionTypes": {"EncryptionType": ["%s"]}}]}')
    assert enc.sse_c_blocked(None, True) and not enc.sse_c_blocked(None, False)
    assert not enc.sse_c_blocked(allow % "NONE", True)
    assert enc.sse_c_blocked(allow % "SSE-C", False)
    assert enc.sse_c_blocked('{"Rules": [{"ApplyServerSideEncryptionByDefault": '
                             '{"SSEAlgorithm": "AES256"}}]}', True)
    assert enc.reply_members(enc.SSE_C, customer) == {"SSECustomerAlgorithm": "AES256",
                                                      "SSECustomerKeyMD5": "m"}
    assert enc.reply_members("AES256", None) == {"ServerSideEncryption": "AES256"}
    assert enc.reply_headers(enc.SSE_C, customer) == customer.reply_headers()
