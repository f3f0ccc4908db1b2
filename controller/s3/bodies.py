"""XML configuration bodies (PutBucketTagging, PutBucketCors, ...): read with a size cap,
checked against Content-MD5 / ``x-amz-checksum-*`` when sent, and parsed by botocore shape."""

from __future__ import annotations

from typing import Any

from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import parse_s3_input_xml
from controller.s3 import errors
from controller.s3.context import S3Context
from controller.s3.delete_objects import check_integrity

MAX_CONFIG_BYTES = 64 * 1024


async def read_config(ctx: S3Context, operation: str, member: str,
                      limit: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
    """The body of ``operation`` read as its ``member`` structure; MalformedXML when it is not."""
    body = await ctx.read_body(limit)
    check_integrity(ctx, body, required=False)
    shape = s3_operation(operation).input_shape.members[member]
    try:
        return parse_s3_input_xml(shape, body, max_bytes=limit)
    except MalformedXML:
        raise errors.MalformedXML() from None
