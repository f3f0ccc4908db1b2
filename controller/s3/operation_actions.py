"""Which IAM action each S3 request is (``s3:GetObject``, ...), and which ACL permission
grants it."""

from __future__ import annotations

from collections.abc import Mapping

# (method, level, sub-resource) → action; versioned forms are chosen in :func:`action_for`.
_ACTIONS: dict[tuple[str, str, str], str] = {
    ("GET", "service", ""): "s3:ListAllMyBuckets",
    ("PUT", "bucket", ""): "s3:CreateBucket",
    ("DELETE", "bucket", ""): "s3:DeleteBucket",
    ("HEAD", "bucket", ""): "s3:ListBucket",
    ("GET", "bucket", ""): "s3:ListBucket",
    ("GET", "bucket", "versions"): "s3:ListBucketVersions",
    ("GET", "bucket", "uploads"): "s3:ListBucketMultipartUploads",
    ("GET", "bucket", "location"): "s3:GetBucketLocation",
    ("GET", "bucket", "versioning"): "s3:GetBucketVersioning",
    ("GET", "bucket", "accelerate"): "s3:GetAccelerateConfiguration",
    ("GET", "bucket", "requestPayment"): "s3:GetBucketRequestPayment",
    ("GET", "bucket", "logging"): "s3:GetBucketLogging",
    ("PUT", "bucket", "logging"): "s3:PutBucketLogging",
    ("GET", "bucket", "notification"): "s3:GetBucketNotification",
    ("GET", "bucket", "encryption"): "s3:GetEncryptionConfiguration",
    ("GET", "bucket", "replication"): "s3:GetReplicationConfiguration",
    ("DELETE", "bucket", "encryption"): "s3:PutEncryptionConfiguration",
    ("DELETE", "bucket", "replication"): "s3:PutReplicationConfiguration",
    ("PUT", "bucket", "versioning"): "s3:PutBucketVersioning",
    ("GET", "bucket", "acl"): "s3:GetBucketAcl",
    ("PUT", "bucket", "acl"): "s3:PutBucketAcl",
    ("GET", "bucket", "policy"): "s3:GetBucketPolicy",
    ("PUT", "bucket", "policy"): "s3:PutBucketPolicy",
    ("DELETE", "bucket", "policy"): "s3:DeleteBucketPolicy",
    ("GET", "bucket", "ownershipControls"): "s3:GetBucketOwnershipControls",
    ("PUT", "bucket", "ownershipControls"): "s3:PutBucketOwnershipControls",
    ("DELETE", "bucket", "ownershipControls"): "s3:PutBucketOwnershipControls",
    ("GET", "bucket", "tagging"): "s3:GetBucketTagging",
    ("PUT", "bucket", "tagging"): "s3:PutBucketTagging",
    ("DELETE", "bucket", "tagging"): "s3:PutBucketTagging",
    ("GET", "bucket", "cors"): "s3:GetBucketCORS",
    ("PUT", "bucket", "cors"): "s3:PutBucketCORS",
    ("DELETE", "bucket", "cors"): "s3:PutBucketCORS",
    ("GET", "bucket", "lifecycle"): "s3:GetLifecycleConfiguration",
    ("PUT", "bucket", "lifecycle"): "s3:PutLifecycleConfiguration",
    ("DELETE", "bucket", "lifecycle"): "s3:PutLifecycleConfiguration",
    ("GET", "bucket", "publicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("PUT", "bucket", "publicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("DELETE", "bucket", "publicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("GET", "bucket", "policyStatus"): "s3:GetBucketPolicyStatus",
    ("GET", "bucket", "website"): "s3:GetBucketWebsite",
    ("PUT", "bucket", "website"): "s3:PutBucketWebsite",
    ("DELETE", "bucket", "website"): "s3:DeleteBucketWebsite",
    ("GET", "bucket", "object-lock"): "s3:GetBucketObjectLockConfiguration",
    ("PUT", "bucket", "object-lock"): "s3:PutBucketObjectLockConfiguration",
    ("POST", "bucket", ""): "s3:PutObject",
    ("POST", "bucket", "delete"): "s3:DeleteObject",
    ("PUT", "object", ""): "s3:PutObject",
    ("GET", "object", ""): "s3:GetObject",
    ("HEAD", "object", ""): "s3:GetObject",
    ("DELETE", "object", ""): "s3:DeleteObject",
    ("GET", "object", "acl"): "s3:GetObjectAcl",
    ("PUT", "object", "acl"): "s3:PutObjectAcl",
    ("GET", "object", "tagging"): "s3:GetObjectTagging",
    ("GET", "object", "attributes"): "s3:GetObjectAttributes",
    ("PUT", "object", "tagging"): "s3:PutObjectTagging",
    ("DELETE", "object", "tagging"): "s3:DeleteObjectTagging",
    ("GET", "object", "retention"): "s3:GetObjectRetention",
    ("PUT", "object", "retention"): "s3:PutObjectRetention",
    ("GET", "object", "legal-hold"): "s3:GetObjectLegalHold",
    ("PUT", "object", "legal-hold"): "s3:PutObjectLegalHold",
    ("POST", "object", "restore"): "s3:RestoreObject",
    ("POST", "object", "uploads"): "s3:PutObject",
    ("PUT", "object", "uploadId"): "s3:PutObject",
    ("POST", "object", "uploadId"): "s3:PutObject",
    ("DELETE", "object", "uploadId"): "s3:AbortMultipartUpload",
    ("GET", "object", "uploadId"): "s3:ListMultipartUploadParts",
}
_VERSIONED = {"s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion",
              "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
              "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
              "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
              "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
              "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
              "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging"}

ACL_PERMISSIONS: dict[str, tuple[str, str]] = {
    "s3:ListBucket": ("bucket", "READ"),
    "s3:ListBucketVersions": ("bucket", "READ"),
    "s3:ListBucketMultipartUploads": ("bucket", "READ"),
    "s3:ListMultipartUploadParts": ("bucket", "READ"),
    "s3:PutObject": ("bucket", "WRITE"),
    "s3:DeleteObject": ("bucket", "WRITE"),
    "s3:DeleteObjectVersion": ("bucket", "WRITE"),
    "s3:AbortMultipartUpload": ("bucket", "WRITE"),
    "s3:GetBucketAcl": ("bucket", "READ_ACP"),
    "s3:PutBucketAcl": ("bucket", "WRITE_ACP"),
    "s3:GetObject": ("object", "READ"),
    "s3:GetObjectVersion": ("object", "READ"),
    "s3:GetObjectAttributes": ("object", "READ"),
    "s3:GetObjectVersionAttributes": ("object", "READ"),
    "s3:GetObjectAcl": ("object", "READ_ACP"),
    "s3:GetObjectVersionAcl": ("object", "READ_ACP"),
    "s3:PutObjectAcl": ("object", "WRITE_ACP"),
    "s3:PutObjectVersionAcl": ("object", "WRITE_ACP"),
}
"""The ACL permission that grants an action, and whether the bucket's or the object's ACL."""

POLICY_ACTIONS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy",
                            "s3:DeleteBucketPolicy"})
"""What the bucket owner may do whatever its policy denies (so it can never lock itself out)."""


def action_for(method: str, level: str, subresource: str, query: Mapping[str, str]) -> str | None:
    """The IAM action of a request, or None for one no route serves."""
    action = _ACTIONS.get((method, level, subresource))
    if action is not None and "versionId" in query:
        action = _VERSIONED.get(action, action)
    return action


def versioned(action: str, version_id: str | None) -> str:
    return _VERSIONED.get(action, action) if version_id is not None else action
