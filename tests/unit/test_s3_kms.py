"""The AWS managed key of SSE-KMS (controller.s3.kms): which names are that key, what the
other headers accept, and the Bucket Key mark in stored key material."""

from __future__ import annotations

import base64
import json

import pytest

from controller.s3 import errors, kms
from controller.s3.encryption import Sealed

ACCOUNT, REGION = "123456789012", "us-east-1"


def test_the_managed_key_is_stable_and_per_account_and_region() -> None:
    key = kms.managed_key_id(ACCOUNT, REGION)
    assert key == kms.managed_key_id(ACCOUNT, REGION)
    assert key != kms.managed_key_id("210987654321", REGION)
    assert key != kms.managed_key_id(ACCOUNT, "eu-west-1")
    assert kms.managed_key_arn(ACCOUNT, REGION) == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"


@pytest.mark.parametrize("name", [None, "", "alias/aws/s3", "KEY", "ARN",
                                  f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/s3"])
def test_names_of_the_managed_key(name: str | None) -> None:
    if name == "KEY":
        name = kms.managed_key_id(ACCOUNT, REGION)
    elif name == "ARN":
        name = kms.managed_key_arn(ACCOUNT, REGION)
    kms.check_key(name, ACCOUNT, REGION)


@pytest.mark.parametrize("name, message", [
    ("alias/mine", f"Alias 'arn:aws:kms:{REGION}:{ACCOUNT}:alias/mine' is not found."),
    ("1234abcd-12ab-34cd-56ef-1234567890ab",
     (f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab' does not "
     "exist")),
    (f"arn:aws:kms:{REGION}:210987654321:key/x", (f"Key 'arn:aws:kms:{REGION}:210987654321:key/x'"
     " does not exist")),
])
def test_other_keys_do_not_exist(name: str, message: str) -> None:
    with pytest.raises(errors.KMSNotFoundException) as caught:
        kms.check_key(name, ACCOUNT, REGION)
    assert caught.value.code == "KMS.NotFoundException" and caught.value.http_status == 400
    assert str(caught.value) == message


def test_another_regions_arn_is_not_the_key() -> None:
    with pytest.raises(errors.KMSNotFoundException):
        kms.check_key(kms.managed_key_arn(ACCOUNT, "eu-west-1"), ACCOUNT, REGION)


def test_encryption_context() -> None:
    kms.check_context(None)
    kms.check_context(base64.b64encode(json.dumps({"a": "b"}).encode()).decode())
    for bad in ("%%%", base64.b64encode(b"[]").decode(), base64.b64encode(b'{"a": 1}').decode()):
        with pytest.raises(errors.InvalidArgument):
            kms.check_context(bad)


def test_bucket_key_flag() -> None:
    assert (kms.bucket_key_flag(None), kms.bucket_key_flag("TRUE"),
            kms.bucket_key_flag("false")) == (None, True, False)
    with pytest.raises(errors.InvalidArgument):
        kms.bucket_key_flag("yes")


def test_bucket_key_mark_round_trips() -> None:
    sealed = Sealed.new(bucket_key=True)
    assert sealed.stored().startswith("b1.") and Sealed.parse(sealed.stored()) == sealed
    plain = Sealed.new()
    assert plain.stored().startswith("v1.") and not Sealed.parse(plain.stored()).bucket_key
