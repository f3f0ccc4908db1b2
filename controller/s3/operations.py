"""Imports every S3 handler module so that their ``@route`` registrations fill the table."""

from controller.s3 import buckets, objects

__all__ = ["buckets", "objects"]
