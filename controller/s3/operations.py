"""Imports every S3 handler module so that their ``@route`` registrations fill the table."""

from controller.s3 import (
    buckets,
    copy,
    delete_objects,
    lifecycle,
    listing,
    multipart,
    objects,
    post_object,
    versioning,
)

__all__ = [
    "buckets",
    "copy",
    "delete_objects",
    "lifecycle",
    "listing",
    "multipart",
    "objects",
    "post_object",
    "versioning",
]
