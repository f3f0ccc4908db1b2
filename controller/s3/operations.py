"""Imports every S3 handler module so that their ``@route`` registrations fill the table."""

from controller.s3 import (
    acls,
    bucket_cors,
    bucket_policy,
    bucket_tagging,
    buckets,
    copy,
    delete_objects,
    lifecycle,
    listing,
    multipart,
    object_tagging,
    objects,
    ownership_controls,
    post_object,
    versioning,
    website,
)

__all__ = [
    "acls",
    "bucket_cors",
    "bucket_policy",
    "bucket_tagging",
    "buckets",
    "copy",
    "delete_objects",
    "lifecycle",
    "listing",
    "multipart",
    "object_tagging",
    "objects",
    "ownership_controls",
    "post_object",
    "versioning",
    "website",
]
