"""Turning handler data into S3 responses through the botocore-model codec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import serialize_s3_output
from controller.s3.context import S3Reply


def xml_reply(operation: str, data: Mapping[str, Any]) -> S3Reply:
    """``data`` keyed by the operation's botocore output member names; headers and XML body."""
    out = serialize_s3_output(s3_operation(operation), data)
    headers = list(out.headers)
    if out.body is not None and not any(h.lower() == "content-type" for h, _ in headers):
        headers.append(("Content-Type", "application/xml"))
    return S3Reply(out.status, headers, out.body)
