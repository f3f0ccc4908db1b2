"""CloudWatch API errors: one class per AWS error code (the ``error`` traits of the botocore
``cloudwatch`` model, plus the common errors every AWS Query service answers)."""

from __future__ import annotations

from controller.api_error import ApiError


class CloudWatchError(ApiError):
    code = "InternalServiceError"
    http_status = 500
    sender_fault = False


class ClientError(CloudWatchError):
    http_status = 400
    sender_fault = True


class InternalServiceError(CloudWatchError):
    code = "InternalServiceError"
    default_message = "An internal error has occurred."


class InvalidParameterValue(ClientError):
    code = "InvalidParameterValue"


class InvalidParameterCombination(ClientError):
    code = "InvalidParameterCombination"


class MissingParameter(ClientError):
    code = "MissingParameter"


class InvalidNextToken(ClientError):
    code = "InvalidNextToken"
    default_message = "The service returned an invalid NextToken."


class InvalidFormat(ClientError):
    code = "InvalidFormat"


class LimitExceeded(ClientError):
    code = "LimitExceeded"


class ResourceNotFound(ClientError):
    code = "ResourceNotFound"
    http_status = 404


class InvalidAction(ClientError):
    code = "InvalidAction"


class MissingAction(ClientError):
    code = "MissingAction"
    default_message = "The request must contain the parameter Action."


class SerializationException(ClientError):
    code = "SerializationException"
    default_message = "The request body could not be read."


class UnknownOperation(ClientError):
    code = "UnknownOperationException"
    http_status = 404


# --- authentication (as every AWS Query service answers them) -------------------------------


class MissingAuthenticationToken(ClientError):
    code = "MissingAuthenticationToken"
    http_status = 403
    default_message = "Request is missing Authentication Token"


class InvalidClientTokenId(ClientError):
    code = "InvalidClientTokenId"
    http_status = 403
    default_message = "The security token included in the request is invalid."


class SignatureDoesNotMatch(ClientError):
    code = "SignatureDoesNotMatch"
    http_status = 403
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details."
    )


class IncompleteSignature(ClientError):
    code = "IncompleteSignature"
    default_message = "The request signature does not conform to AWS standards."


class RequestExpired(ClientError):
    code = "RequestExpired"
    default_message = "Request has expired."


class RequestEntityTooLarge(ClientError):
    code = "RequestEntityTooLarge"
    http_status = 413
    default_message = "Request size exceeded the limit."
