"""EC2 API errors: one class per AWS error code (see the EC2 API reference, "Error codes")."""

from __future__ import annotations

from controller.api_error import ApiError


class Ec2Error(ApiError):
    code = "InternalError"
    http_status = 500
    sender_fault = False


class ClientError(Ec2Error):
    http_status = 400
    sender_fault = True


class InternalError(Ec2Error):
    default_message = "An internal error has occurred"


class ServiceUnavailable(Ec2Error):
    code = "ServiceUnavailable"
    http_status = 503
    default_message = "The request has failed due to a temporary failure of the server."


# --- authentication and authorisation -------------------------------------------------------


class AuthFailure(ClientError):
    code = "AuthFailure"
    http_status = 401
    default_message = "AWS was not able to validate the provided access credentials"


class SignatureDoesNotMatch(ClientError):
    code = "SignatureDoesNotMatch"
    http_status = 403
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details."
    )


class InvalidClientTokenId(ClientError):
    code = "InvalidClientTokenId"
    http_status = 401
    default_message = "The security token included in the request is invalid."


class IncompleteSignature(ClientError):
    code = "IncompleteSignature"
    default_message = "The request signature does not conform to AWS standards."


class MissingAuthenticationToken(ClientError):
    code = "MissingAuthenticationToken"
    http_status = 401
    default_message = "Request is missing Authentication Token"


class RequestExpired(ClientError):
    code = "RequestExpired"
    default_message = "Request has expired."


class UnauthorizedOperation(ClientError):
    code = "UnauthorizedOperation"
    http_status = 403
    default_message = "You are not authorized to perform this operation."


class DryRunOperation(ClientError):
    code = "DryRunOperation"
    http_status = 412
    default_message = "Request would have succeeded, but DryRun flag is set."


# --- request shape ----------------------------------------------------------------------------


class InvalidAction(ClientError):
    code = "InvalidAction"


class MissingAction(ClientError):
    code = "MissingAction"
    default_message = "The request must contain the parameter Action"


class MissingParameter(ClientError):
    code = "MissingParameter"


class InvalidParameterValue(ClientError):
    code = "InvalidParameterValue"


class InvalidParameter(ClientError):
    code = "InvalidParameter"


class InvalidParameterCombination(ClientError):
    code = "InvalidParameterCombination"


class UnknownParameter(ClientError):
    code = "UnknownParameter"


class InvalidFilter(ClientError):
    code = "InvalidFilter"


class InvalidPaginationToken(ClientError):
    code = "InvalidPaginationToken"
    default_message = "The specified pagination token is not valid or is expired."


class InvalidRequest(ClientError):
    code = "InvalidRequest"


class RequestEntityTooLarge(ClientError):
    code = "RequestEntityTooLarge"
    http_status = 413
    default_message = "Request body is too large."


class InvalidID(ClientError):
    code = "InvalidID"


# --- key pairs ---------------------------------------------------------------------------------


class InvalidKeyPairNotFound(ClientError):
    code = "InvalidKeyPair.NotFound"


class InvalidKeyPairDuplicate(ClientError):
    code = "InvalidKeyPair.Duplicate"


class InvalidKeyFormat(ClientError):
    code = "InvalidKey.Format"


# --- security groups ---------------------------------------------------------------------------


class InvalidGroupNotFound(ClientError):
    code = "InvalidGroup.NotFound"


class InvalidGroupIdMalformed(ClientError):
    code = "InvalidGroupId.Malformed"


class InvalidGroupDuplicate(ClientError):
    code = "InvalidGroup.Duplicate"


class InvalidGroupReserved(ClientError):
    code = "InvalidGroup.Reserved"


class InvalidGroupInUse(ClientError):
    code = "InvalidGroup.InUse"


class CannotDelete(ClientError):
    code = "CannotDelete"


class InvalidPermissionDuplicate(ClientError):
    code = "InvalidPermission.Duplicate"


class InvalidPermissionNotFound(ClientError):
    code = "InvalidPermission.NotFound"


class InvalidPermissionMalformed(ClientError):
    code = "InvalidPermission.Malformed"


class RulesPerSecurityGroupLimitExceeded(ClientError):
    code = "RulesPerSecurityGroupLimitExceeded"
    default_message = "The maximum number of rules per security group has been reached."


class SecurityGroupLimitExceeded(ClientError):
    code = "SecurityGroupLimitExceeded"
    default_message = "The maximum number of security groups has been reached."


# --- tags --------------------------------------------------------------------------------------


class TagLimitExceeded(ClientError):
    code = "TagLimitExceeded"


class InvalidTagKeyMalformed(ClientError):
    code = "InvalidTagKey.Malformed"


class InvalidResourceIdNotFound(ClientError):
    code = "InvalidResourceId.NotFound"


class NoSuchVersion(ClientError):
    code = "NoSuchVersion"


class DependencyViolation(ClientError):
    code = "DependencyViolation"


class InvalidSecurityGroupRuleIdNotFound(ClientError):
    code = "InvalidSecurityGroupRuleId.NotFound"


class InvalidVpcIdNotFound(ClientError):
    code = "InvalidVpcID.NotFound"


class InvalidPrefixListIdNotFound(ClientError):
    code = "InvalidPrefixListId.NotFound"


class InvalidPrefixListIdMalformed(ClientError):
    code = "InvalidPrefixListId.Malformed"


# --- images ------------------------------------------------------------------------------------


class InvalidAMIIDMalformed(ClientError):
    code = "InvalidAMIID.Malformed"


class InvalidAMIIDNotFound(ClientError):
    code = "InvalidAMIID.NotFound"


class InvalidAMIIDUnavailable(ClientError):
    code = "InvalidAMIID.Unavailable"


class InvalidAMINameMalformed(ClientError):
    code = "InvalidAMIName.Malformed"


class InvalidAMINameDuplicate(ClientError):
    code = "InvalidAMIName.Duplicate"


class InvalidAMIAttributeItemValue(ClientError):
    code = "InvalidAMIAttributeItemValue"


class InvalidManifest(ClientError):
    code = "InvalidManifest"


class InvalidUserIDMalformed(ClientError):
    code = "InvalidUserID.Malformed"


class InvalidBlockDeviceMapping(ClientError):
    code = "InvalidBlockDeviceMapping"


class InvalidSnapshotNotFound(ClientError):
    code = "InvalidSnapshot.NotFound"


class InvalidInstanceType(ClientError):
    code = "InvalidInstanceType"


# --- instances ---------------------------------------------------------------------------------


class InvalidInstanceIDMalformed(ClientError):
    code = "InvalidInstanceID.Malformed"


class InvalidInstanceIDNotFound(ClientError):
    code = "InvalidInstanceID.NotFound"


class InsufficientInstanceCapacity(Ec2Error):
    code = "InsufficientInstanceCapacity"
    http_status = 500
    default_message = "We currently do not have sufficient capacity in the Availability Zone you requested."


class InsufficientFreeAddressesInSubnet(ClientError):
    code = "InsufficientFreeAddressesInSubnet"


class IncorrectInstanceState(ClientError):
    code = "IncorrectInstanceState"


class OperationNotPermitted(ClientError):
    code = "OperationNotPermitted"


class UnsupportedOperation(ClientError):
    code = "UnsupportedOperation"


class IdempotentParameterMismatch(ClientError):
    code = "IdempotentParameterMismatch"


# --- EBS volumes (ebs-volumes) -----------------------------------------------------------------


class InvalidVolumeIDMalformed(ClientError):
    code = "InvalidVolumeID.Malformed"


class InvalidVolumeNotFound(ClientError):
    code = "InvalidVolume.NotFound"


class InvalidVolumeZoneMismatch(ClientError):
    code = "InvalidVolume.ZoneMismatch"


class VolumeInUse(ClientError):
    code = "VolumeInUse"


class IncorrectState(ClientError):
    code = "IncorrectState"


class InvalidAttachmentNotFound(ClientError):
    code = "InvalidAttachment.NotFound"


class InvalidZoneNotFound(ClientError):
    code = "InvalidZone.NotFound"


class InvalidSnapshotIDMalformed(ClientError):
    code = "InvalidSnapshotID.Malformed"


class AttachmentLimitExceeded(ClientError):
    code = "AttachmentLimitExceeded"


class InvalidParameterDependency(ClientError):
    code = "InvalidParameterDependency"


class InvalidInstanceAttributeValue(ClientError):
    code = "InvalidInstanceAttributeValue"


# --- snapshots (ebs-snapshots) -------------------------------------------------------------------


class InvalidSnapshotInUse(ClientError):
    code = "InvalidSnapshot.InUse"
