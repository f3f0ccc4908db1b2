"""PostObject: browser-based uploads, ``POST /bucket`` with a multipart/form-data body.

The form's fields (key, policy, signature, metadata, ...) come before the ``file`` part; they
are checked (signature, policy expiry and conditions, access to the bucket) before a byte of the
file is stored, and the file streams to the blob store like a PUT body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from lxml import etree
from starlette.concurrency import run_in_threadpool

from controller.auth.errors import AuthError
from controller.auth.post_form import missing_field, parse_post_form
from controller.db.reader import Reader
from controller.identity.authenticate import Principal
from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_model import s3_operation
from controller.protocol.s3_xml import parse_s3_input_xml
from controller.s3 import acl_requests, errors, storage_classes, stored_bytes, tagging
from controller.s3.access import bucket_for, writer_account
from controller.s3.context import S3Context, S3Reply
from controller.s3.headers import (
    declared_checksum,
    stored_headers,
    user_metadata,
)
from controller.s3.objects import (
    MAX_OBJECT,
    check_key,
    discard,
    fill_blob,
    install_object,
    verify_blob,
)
from controller.s3.objects_store import NULL_VERSION
from controller.s3.post_form import FormHead, FormReader, boundary_of
from controller.s3.post_policy import PostPolicy, decode_policy
from controller.s3.routes import route

CANNED_ACLS = frozenset(("private", "public-read", "public-read-write", "authenticated-read",
                         "aws-exec-read", "bucket-owner-read", "bucket-owner-full-control"))
SIGNATURE_FIELDS = ("awsaccesskeyid", "signature", "x-amz-credential", "x-amz-signature")


def _must_contain(name: str) -> errors.S3Error:
    return errors.InvalidArgument(
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check "
        "the order of the fields.", ArgumentName=name, ArgumentValue="")


def _authorize(ctx: S3Context, head: FormHead) -> tuple[Principal | None, PostPolicy | None]:
    """The signer of the form and its policy, checked; (None, None) for an anonymous form."""
    from controller.s3.endpoint import from_auth_error

    fields = head.fields
    if "policy" not in fields:
        if any(name in fields for name in SIGNATURE_FIELDS):
            raise _must_contain("policy")
        return None, None
    missing = missing_field(fields)
    if missing is not None:
        raise _must_contain(missing)
    policy = decode_policy(fields["policy"])
    assert ctx.authenticator is not None
    try:
        signed = parse_post_form(fields)
        with ctx.sessions() as session:
            principal = ctx.authenticator.authenticate_form(Reader.of_session(session), signed)
    except AuthError as exc:
        raise from_auth_error(exc) from None
    policy.check_expiry(datetime.now(UTC))
    # Conditions see the key as it will be stored (``${filename}`` replaced), and the bucket
    # is a field every policy must cover, though the form does not carry it.
    expanded = {**fields, "key": fields.get("key", "").replace("${filename}", head.filename or "")}
    policy.check_fields([*head.names, "bucket"], expanded, ctx.bucket)
    return principal, policy


def _tags(fields: dict[str, str]) -> str | None:
    document = fields.get("tagging")
    if document is None:
        return None
    shape = s3_operation("PutObjectTagging").input_shape.members["Tagging"]
    try:
        parsed = parse_s3_input_xml(shape, document.encode("utf-8"))
    except MalformedXML:
        raise errors.MalformedXML() from None
    return tagging.dumps(tagging.from_tagging(parsed, bucket=False))


def _check_simple_fields(fields: dict[str, str]) -> None:
    acl = fields.get("acl")
    if acl is not None and acl not in CANNED_ACLS:
        raise errors.InvalidArgument(ArgumentName="x-amz-acl", ArgumentValue=acl)


@route("POST", "bucket")
async def post_object(ctx: S3Context) -> S3Reply:
    reader = FormReader(ctx.body(), boundary_of(ctx.headers))
    head = await reader.head()
    if head is None:
        raise errors.IncorrectNumberOfFilesInPostRequest()
    fields = head.fields
    if "key" not in fields:
        raise _must_contain("key")
    key = fields["key"].replace("${filename}", head.filename or "")
    principal, policy = _authorize(ctx, head)
    if not key:
        raise errors.InvalidArgument("User key must have a length greater than zero.",
                                     ArgumentName="key", ArgumentValue="")
    check_key(key)
    _check_simple_fields(fields)
    ctx.principal = principal  # the form's signer (None: anonymous), checked as for PutObject
    acl_headers = {"x-amz-acl": fields["acl"]} if "acl" in fields else {}
    with ctx.sessions() as session:
        bucket = bucket_for(session, ctx, "s3:PutObject", key)
        new = acl_requests.new_object(session, bucket, writer_account(principal, bucket),
                                      acl_headers)
    customer = ctx.customer_key(fields=fields)  # after the access check, as for PutObject
    sse = stored_bytes.requested(ctx, bucket, customer, new.owner_account_id, fields)
    sealed, transform = stored_bytes.sealing(ctx.keys, sse, customer,
                                             stored_bytes.bucket_key(ctx, bucket, sse, fields))
    columns: dict[str, Any] = {
        "key": key, "owner_account_id": new.owner_account_id, "acl": new.acl,
        "headers": stored_headers(fields), "user_metadata": user_metadata(fields),
        "tags": _tags(fields), "storage_class": storage_classes.requested(fields), **sealed}
    checksum = declared_checksum(fields)
    high = min(policy.length_range[1], MAX_OBJECT) if policy and policy.length_range else MAX_OBJECT
    writer = ctx.blobs.writer(checksum=checksum[0] if checksum else None, max_size=high,
                              transform=transform)
    with writer:
        await fill_blob(writer, reader.file_chunks(), lambda: errors.EntityTooLarge(
            MaxSizeAllowed=str(high)))
        info = await run_in_threadpool(writer.commit)
    verify_blob(ctx, info, None, checksum, None)
    if policy is not None:
        try:
            policy.check_length(info.size)
        except errors.S3Error:
            discard(ctx, info)
            raise
    etag = stored_bytes.etag(ctx.keys, sse, sealed["sse_key"], customer, info.md5_hex)
    columns |= {"checksum_algorithm": checksum[0] if checksum else None,
                "checksum_value": info.checksum_b64, "etag": etag}
    version_id, _ = install_object(ctx, info, columns)
    return _success(ctx, fields, key, etag, version_id)


def _location(ctx: S3Context, key: str) -> str:
    host = ctx.headers.get("host", "localhost")
    scheme = ctx.request.url.scheme
    path = f"/{quote(key, safe='/')}" if ctx.target.virtual_host else \
        f"/{quote(ctx.bucket)}/{quote(key, safe='/')}"
    return f"{scheme}://{host}{path}"


def _success(ctx: S3Context, fields: dict[str, str], key: str, etag: str,
             version_id: str) -> S3Reply:
    location = _location(ctx, key)
    headers = [("ETag", etag), ("Location", location)]
    if version_id != NULL_VERSION:
        headers.append(("x-amz-version-id", version_id))
    redirect = fields.get("success_action_redirect", fields.get("redirect"))
    if redirect and _is_url(redirect):
        query = urlencode({"bucket": ctx.bucket, "key": key, "etag": etag})
        separator = "&" if urlsplit(redirect).query else ("" if redirect.endswith("?") else "?")
        target = [("Location", f"{redirect}{separator}{query}")]
        return S3Reply(303, [h for h in headers if h[0] != "Location"] + target, b"")
    status = fields.get("success_action_status", "")
    if status == "200":
        return S3Reply(200, headers, b"")
    if status == "201":
        root = etree.Element("PostResponse")
        for tag, text in (("Location", location), ("Bucket", ctx.bucket), ("Key", key),
                          ("ETag", etag)):
            etree.SubElement(root, tag).text = text
        body = bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        return S3Reply(201, [*headers, ("Content-Type", "application/xml")], body)
    return S3Reply(204, headers)


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
