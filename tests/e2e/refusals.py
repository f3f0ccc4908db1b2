"""The error a call failed with, whichever client raised it (boto3, the AWS CLI, boto 2)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import AwsCliError

with warnings.catch_warnings():  # boto 2 vendors an old six that warns on import
    warnings.simplefilter("ignore", ImportWarning)
    from boto.exception import EC2ResponseError


@dataclass(frozen=True)
class Refusal:
    code: str | None
    message: str
    status: int | None  # the AWS CLI prints no HTTP status


def refusal(call: Callable[[], Any]) -> Refusal:
    """Run ``call``, which must fail with an EC2 error; the error, whichever client raised it."""
    try:
        call()
    except ClientError as exc:
        error = exc.response["Error"]
        return Refusal(error["Code"], error["Message"],
                       exc.response["ResponseMetadata"]["HTTPStatusCode"])
    except AwsCliError as exc:
        return Refusal(exc.code, exc.stderr.split("operation: ", 1)[-1].strip(), None)
    except EC2ResponseError as exc:
        return Refusal(exc.error_code, exc.error_message or "", exc.status)
    raise AssertionError("the call succeeded; an EC2 error was expected")


def error_code(call: Callable[..., Any], **params: Any) -> tuple[str | None, int | None]:
    """The error code and HTTP status ``call(**params)`` failed with (it must fail)."""
    found = refusal(lambda: call(**params))
    return found.code, found.status


def assert_refused(refused: Refusal, code: str, status: int = 400) -> None:
    assert refused.code == code, refused
    assert refused.status in (status, None), refused
