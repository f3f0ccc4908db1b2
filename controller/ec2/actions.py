"""Imports every EC2 handler module so that their ``@action`` registrations fill the table."""

from controller.ec2 import key_pairs, regions, security_groups, tags

__all__ = ["key_pairs", "regions", "security_groups", "tags"]
