"""ec2 images: kernel, ramdisk and machine images, and their launch permissions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("image_type", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("architecture", sa.String(length=16), nullable=False),
        sa.Column("virtualization_type", sa.String(length=16), nullable=False),
        sa.Column("root_device_type", sa.String(length=16), nullable=False),
        sa.Column("root_device_name", sa.String(length=64), nullable=True),
        sa.Column("kernel_id", sa.String(length=32), nullable=True),
        sa.Column("ramdisk_id", sa.String(length=32), nullable=True),
        sa.Column("image_location", sa.String(length=1100), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("block_device_mappings", sa.Text(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_images_account_id_accounts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_images_account_id")),
    )
    op.create_index("ix_images_is_public", "images", ["is_public"])
    op.create_table(
        "image_launch_permissions",
        sa.Column("image_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"],
                                name=op.f("fk_image_launch_permissions_image_id_images"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", "account_id", name=op.f("pk_image_launch_permissions")),
    )
    op.create_index(op.f("ix_image_launch_permissions_account_id"), "image_launch_permissions",
                    ["account_id"])


def downgrade() -> None:
    op.drop_table("image_launch_permissions")
    op.drop_table("images")
