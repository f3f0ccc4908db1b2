"""Imports every S3 handler module so that their ``@route`` registrations fill the table."""

from controller.s3 import buckets, objects
from controller.s3 import delete_objects, listing  # noqa: F401

__all__ = ["buckets", "objects"]
