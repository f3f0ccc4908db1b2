"""S3 API errors: one class per S3 error code, answered in S3's XML error envelope."""

from __future__ import annotations

import re
from urllib.parse import quote

from lxml import etree

from controller.api_error import ApiError


class S3Error(ApiError):
    code = "InternalError"
    http_status = 500
    default_message = "We encountered an internal error. Please try again."

    def __init__(self, message: str | None = None, **extra: str) -> None:
        super().__init__(message)
        self.extra = extra  # extra elements of the error document (BucketName, Key, ...)
        self.headers: dict[str, str] = {}  # response headers some errors carry


def _client(code: str, status: int, message: str) -> type[S3Error]:
    return type(code, (S3Error,), {"code": code, "http_status": status, "sender_fault": True,
                                   "default_message": message})


AccessDenied = _client("AccessDenied", 403, "Access Denied")
InvalidAccessKeyId = _client(
    "InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.")
SignatureDoesNotMatch = _client(
    "SignatureDoesNotMatch", 403,
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method.")
RequestTimeTooSkewed = _client(
    "RequestTimeTooSkewed", 403,
    "The difference between the request time and the current time is too large.")
AuthorizationHeaderMalformed = _client(
    "AuthorizationHeaderMalformed", 400, "The authorization header is malformed.")
InvalidRequest = _client("InvalidRequest", 400, "Invalid Request")
InvalidArgument = _client("InvalidArgument", 400, "Invalid Argument")
InvalidEncryptionAlgorithmError = _client(
    "InvalidEncryptionAlgorithmError", 400,
    "The encryption request you specified is not valid. The valid value is AES256.")
KMSNotFoundException = _client("KMS.NotFoundException", 400, "The KMS key does not exist.")
XAmzContentSHA256Mismatch = _client(
    "XAmzContentSHA256Mismatch", 400,
    "The provided 'x-amz-content-sha256' header does not match what was computed.")
NotImplementedError_ = type("NotImplemented", (S3Error,), {
    "code": "NotImplemented", "http_status": 501,
    "default_message": "A header you provided implies functionality that is not implemented."})
MethodNotAllowed = _client(
    "MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
NoSuchBucket = _client("NoSuchBucket", 404, "The specified bucket does not exist")
NoSuchKey = _client("NoSuchKey", 404, "The specified key does not exist.")
NoSuchUpload = _client(
    "NoSuchUpload", 404,
    "The specified upload does not exist. The upload ID may be invalid, or the upload may "
    "have been aborted or completed.")
NoSuchVersion = _client(
    "NoSuchVersion", 404, "The specified version does not exist.")
BucketAlreadyExists = _client(
    "BucketAlreadyExists", 409,
    "The requested bucket name is not available. The bucket namespace is shared by all users "
    "of the system. Please select a different name and try again.")
BucketAlreadyOwnedByYou = _client(
    "BucketAlreadyOwnedByYou", 409,
    "Your previous request to create the named bucket succeeded and you already own it.")
BucketNotEmpty = _client(
    "BucketNotEmpty", 409, "The bucket you tried to delete is not empty")
InvalidBucketName = _client("InvalidBucketName", 400, "The specified bucket is not valid.")
InvalidLocationConstraint = _client(
    "InvalidLocationConstraint", 400, "The specified location-constraint is not valid")
IllegalLocationConstraintException = _client(
    "IllegalLocationConstraintException", 400,
    "The unspecified location constraint is incompatible for the region specific endpoint "
    "this request was sent to.")
KeyTooLongError = _client("KeyTooLongError", 400, "Your key is too long")
BadDigest = _client(
    "BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
InvalidDigest = _client("InvalidDigest", 400, "The Content-MD5 you specified is not valid.")
EntityTooLarge = _client(
    "EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size")
EntityTooSmall = _client(
    "EntityTooSmall", 400,
    "Your proposed upload is smaller than the minimum allowed object size.")
IncompleteBody = _client(
    "IncompleteBody", 400,
    "You did not provide the number of bytes specified by the Content-Length HTTP header")
MissingContentLength = _client(
    "MissingContentLength", 411, "You must provide the Content-Length HTTP header.")
InvalidRange = _client("InvalidRange", 416, "The requested range is not satisfiable")
InvalidStorageClass = _client(
    "InvalidStorageClass", 400, "The storage class you specified is not valid")
InvalidObjectState = _client(
    "InvalidObjectState", 403, "The operation is not valid for the object's storage class")
PreconditionFailed = _client(
    "PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
MalformedXML = _client(
    "MalformedXML", 400,
    "The XML you provided was not well-formed or did not validate against our published schema")
InvalidPart = _client(
    "InvalidPart", 400,
    "One or more of the specified parts could not be found. The part may not have been "
    "uploaded, or the specified entity tag may not match the part's entity tag.")
InvalidPartOrder = _client(
    "InvalidPartOrder", 400,
    "The list of parts was not in ascending order. Parts must be ordered by part number.")
MetadataTooLarge = _client(
    "MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size.")
IllegalVersioningConfigurationException = _client(
    "IllegalVersioningConfigurationException", 400,
    "The versioning configuration specified in the request is invalid.")
NoSuchLifecycleConfiguration = _client(
    "NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist")
MalformedACLError = _client(
    "MalformedACLError", 400,
    "The XML you provided was not well-formed or did not validate against our published schema")
UnresolvableGrantByEmailAddress = _client(
    "UnresolvableGrantByEmailAddress", 400,
    "The e-mail address you provided does not match any account on record.")
AccessControlListNotSupported = _client(
    "AccessControlListNotSupported", 400, "The bucket does not allow ACLs")
InvalidBucketAclWithObjectOwnership = _client(
    "InvalidBucketAclWithObjectOwnership", 400,
    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
MissingSecurityHeader = _client(
    "MissingSecurityHeader", 400, "Your request was missing a required header")
UnexpectedContent = _client(
    "UnexpectedContent", 400, "This request does not support content")
NoSuchBucketPolicy = _client("NoSuchBucketPolicy", 404, "The bucket policy does not exist")
MalformedPolicy = _client("MalformedPolicy", 400, "Policies must be valid JSON")
OwnershipControlsNotFoundError = _client(
    "OwnershipControlsNotFoundError", 404, "The bucket ownership controls were not found")
NoSuchPublicAccessBlockConfiguration = _client(
    "NoSuchPublicAccessBlockConfiguration", 404,
    "The public access block configuration was not found")
ServerSideEncryptionConfigurationNotFoundError = _client(
    "ServerSideEncryptionConfigurationNotFoundError", 404,
    "The server side encryption configuration was not found")
InvalidTargetBucketForLogging = _client(
    "InvalidTargetBucketForLogging", 400, "The target bucket for logging does not exist")
CrossLocationLoggingProhibited = _client(
    "CrossLocationLoggingProhibited", 403,
    "Cross-location logging not allowed. Buckets in one geographic location cannot log "
    "information to a bucket in another location.")
ReplicationConfigurationNotFoundError = _client(
    "ReplicationConfigurationNotFoundError", 404, "The replication configuration was not found")
NoSuchWebsiteConfiguration = _client(
    "NoSuchWebsiteConfiguration", 404, "The specified bucket does not have a website configuration")
InvalidTag = _client("InvalidTag", 400, "The TagKey you have provided is invalid")
BadRequest = _client("BadRequest", 400, "Bad Request")
NoSuchTagSet = _client("NoSuchTagSet", 404, "The TagSet does not exist")
NoSuchCORSConfiguration = _client(
    "NoSuchCORSConfiguration", 404, "The CORS configuration does not exist")
AccessForbidden = _client(
    "AccessForbidden", 403,
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec.")
BadChecksum = _client("BadDigest", 400, "The checksum you specified did not match what we received.")
InvalidPolicyDocument = _client(
    "InvalidPolicyDocument", 400, "The content of the form does not meet the conditions specified "
    "in the policy document.")
MalformedPOSTRequest = _client(
    "MalformedPOSTRequest", 400,
    "The body of your POST request is not well-formed multipart/form-data.")
MaxPostPreDataLengthExceeded = _client(
    "MaxPostPreDataLengthExceeded", 400,
    "Your POST request fields preceding the upload file were too large.")
IncorrectNumberOfFilesInPostRequest = _client(
    "IncorrectNumberOfFilesInPostRequest", 400,
    "POST requires exactly one file upload per request.")
InvalidBucketState = _client(
    "InvalidBucketState", 409, "The request is not valid with the current state of the bucket.")
ObjectLockConfigurationNotFoundError = _client(
    "ObjectLockConfigurationNotFoundError", 404,
    "Object Lock configuration does not exist for this bucket")
NoSuchObjectLockConfiguration = _client(
    "NoSuchObjectLockConfiguration", 404,
    "The specified object does not have a ObjectLock configuration")


class NotModified(S3Error):
    """304: not an error to the client, but it ends the request the same way."""

    code = "NotModified"
    http_status = 304
    sender_fault = True
    default_message = "Not Modified"


# What XML 1.0 cannot carry (NUL, most C0 controls, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """Text for an error document: characters XML cannot hold are percent-encoded (a key or
    header a client sent may contain them)."""
    return _NOT_XML.sub(lambda m: quote(m.group(), safe="", errors="surrogatepass"), text)


def render_error(error: S3Error, resource: str, request_id: str) -> bytes:
    root = etree.Element("Error")
    fields = [("Code", error.code), ("Message", error.message), *error.extra.items(),
              ("Resource", resource), ("RequestId", request_id)]
    for tag, text in fields:
        etree.SubElement(root, tag).text = _xml_text(str(text))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
