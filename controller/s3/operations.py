"""Imports every S3 handler module so that their ``@route`` registrations fill the table."""

from controller.s3 import (
    buckets,
    copy,
    delete_objects,
    listing,
    multipart,
    objects,
    versioning,
    website,
)

__all__ = [
    "buckets", "copy", "delete_objects", "listing", "multipart", "objects", "versioning", "website",
]
