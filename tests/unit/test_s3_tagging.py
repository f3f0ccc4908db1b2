"""Tag sets: AWS's limits and messages, the x-amz-tagging header, the tagging directive."""

from __future__ import annotations

import pytest

from controller.s3 import errors, tagging


def _refusal(exc: pytest.ExceptionInfo[errors.S3Error]) -> tuple[str, str]:
    return exc.value.code, exc.value.message


def test_limits_are_inclusive() -> None:
    pairs = [("k" * 128, "v" * 256), ("empty", ""), ("ünïcödé 1+1=2 a.b:c/d_e-f@g", "ok")]
    assert tagging.check_tags(pairs, bucket=False) == dict(pairs)
    assert len(tagging.check_tags([(str(i), "") for i in range(10)], bucket=False)) == 10
    assert len(tagging.check_tags([(str(i), "") for i in range(50)], bucket=True)) == 50


@pytest.mark.parametrize(("pairs", "message"), [
    ([("k" * 129, "v")], "The TagKey you have provided is invalid"),
    ([("", "v")], "The TagKey you have provided is invalid"),
    ([("a!b", "v")], "The TagKey you have provided is invalid"),
    ([("k", "v" * 257)], "The TagValue you have provided is invalid"),
    ([("k", "a\nb")], "The TagValue you have provided is invalid"),
    ([("k", "1"), ("k", "2")], "Cannot provide multiple Tags with the same key"),
    ([("aws:cost", "1")], "System tags cannot be added/updated by requester"),
])
def test_invalid_tags(pairs: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(errors.S3Error) as caught:
        tagging.check_tags(pairs, bucket=True)
    assert _refusal(caught) == ("InvalidTag", message)


def test_reserved_prefix_in_any_case() -> None:
    with pytest.raises(errors.S3Error) as caught:
        tagging.check_tags([("AWS:x", "1")], bucket=False)
    assert caught.value.code == "InvalidTag"
    assert caught.value.message.startswith("Invalid Tag. Tags cannot start with")


def test_counts() -> None:
    with pytest.raises(errors.S3Error) as caught:
        tagging.check_tags([(str(i), "") for i in range(11)], bucket=False)
    assert _refusal(caught) == ("BadRequest", "Object tags cannot be greater than 10")
    with pytest.raises(errors.S3Error) as caught:
        tagging.check_tags([(str(i), "") for i in range(51)], bucket=True)
    assert _refusal(caught) == ("BadRequest", "Bucket tag count cannot be greater than 50")


def test_bad_tag_is_reported_before_the_count() -> None:
    pairs = [(str(i), "") for i in range(11)] + [("x" * 200, "")]
    with pytest.raises(errors.S3Error) as caught:
        tagging.check_tags(pairs, bucket=False)
    assert caught.value.code == "InvalidTag"


def test_header() -> None:
    assert tagging.parse_header("foo=bar&bar") == {"foo": "bar", "bar": ""}
    assert tagging.parse_header("a%20b=c%2Bd&e=f+g&&") == {"a b": "c+d", "e": "f g"}
    assert tagging.parse_header("k=%C3%A9") == {"k": "é"}
    assert tagging.parse_header("") == {}


@pytest.mark.parametrize("value", ["a=1&a=2", "=v", "k=%FF"])
def test_bad_header(value: str) -> None:
    with pytest.raises(errors.S3Error) as caught:
        tagging.parse_header(value)
    assert caught.value.code == "InvalidArgument"
    assert caught.value.extra["ArgumentName"] == "x-amz-tagging"


def test_header_limits() -> None:
    with pytest.raises(errors.S3Error) as caught:
        tagging.parse_header("&".join(f"k{i}=v" for i in range(11)))
    assert caught.value.code == "BadRequest"
    with pytest.raises(errors.S3Error) as caught:
        tagging.parse_header("k=" + "v" * 257)
    assert caught.value.code == "InvalidTag"


def test_copy_directive() -> None:
    source = tagging.dumps({"src": "1"})
    assert tagging.copied_tags({}, source) == source
    assert tagging.copied_tags({"x-amz-tagging-directive": "COPY", "x-amz-tagging": "a=b"},
                               source) == source
    replaced = tagging.copied_tags({"x-amz-tagging-directive": "REPLACE",
                                    "x-amz-tagging": "a=b"}, source)
    assert tagging.loads(replaced) == {"a": "b"}
    assert tagging.copied_tags({"x-amz-tagging-directive": "REPLACE"}, source) is None
    with pytest.raises(errors.S3Error) as caught:
        tagging.copied_tags({"x-amz-tagging-directive": "MERGE"}, source)
    assert caught.value.code == "InvalidArgument"


def test_stored_form() -> None:
    stored = tagging.dumps({"b": "2", "a": "1"})
    assert stored is not None and tagging.loads(stored) == {"b": "2", "a": "1"}
    assert tagging.dumps({}) is None and tagging.loads(None) == {}
    assert tagging.tag_set(stored) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert tagging.count(stored) == 2 and tagging.count(None) == 0
