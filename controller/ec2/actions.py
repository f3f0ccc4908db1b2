"""Imports every EC2 handler module so that their ``@action`` registrations fill the table."""

from controller.ec2 import (
    image_attributes,
    images,
    images_register,
    instance_attributes,
    instance_types,
    instances,
    instances_run,
    key_pairs,
    regions,
    security_groups,
    snapshot_attributes,
    snapshots,
    tags,
    volume_attach,
    volumes,
)

__all__ = [
    "image_attributes",
    "images",
    "images_register",
    "instance_attributes",
    "instance_types",
    "instances",
    "instances_run",
    "key_pairs",
    "regions",
    "security_groups",
    "snapshot_attributes",
    "snapshots",
    "tags",
    # --- EBS volumes (ebs-volumes) ---
    "volume_attach",
    "volumes",
]
