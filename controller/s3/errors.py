"""S3 API errors: one class per S3 error code, answered in S3's XML error envelope."""

from __future__ import annotations

from lxml import etree

from controller.api_error import ApiError


class S3Error(ApiError):
    code = "InternalError"
    http_status = 500
    default_message = "We encountered an internal error. Please try again."


class AccessDenied(S3Error):
    code = "AccessDenied"
    http_status = 403
    sender_fault = True
    default_message = "Access Denied"


class InvalidAccessKeyId(S3Error):
    code = "InvalidAccessKeyId"
    http_status = 403
    sender_fault = True
    default_message = "The AWS Access Key Id you provided does not exist in our records."


class SignatureDoesNotMatch(S3Error):
    code = "SignatureDoesNotMatch"
    http_status = 403
    sender_fault = True
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )


class RequestTimeTooSkewed(S3Error):
    code = "RequestTimeTooSkewed"
    http_status = 403
    sender_fault = True
    default_message = "The difference between the request time and the current time is too large."


class AuthorizationHeaderMalformed(S3Error):
    code = "AuthorizationHeaderMalformed"
    http_status = 400
    sender_fault = True
    default_message = "The authorization header is malformed."


class InvalidRequest(S3Error):
    code = "InvalidRequest"
    http_status = 400
    sender_fault = True


class XAmzContentSHA256Mismatch(S3Error):
    code = "XAmzContentSHA256Mismatch"
    http_status = 400
    sender_fault = True
    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class NotImplementedError_(S3Error):
    code = "NotImplemented"
    http_status = 501
    default_message = "A header you provided implies functionality that is not implemented."


def render_error(error: S3Error, resource: str, request_id: str) -> bytes:
    root = etree.Element("Error")
    for tag, text in (
        ("Code", error.code),
        ("Message", error.message),
        ("Resource", resource),
        ("RequestId", request_id),
    ):
        etree.SubElement(root, tag).text = text
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
