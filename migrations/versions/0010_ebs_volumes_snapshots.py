"""ebs volumes, snapshots and snapshot create-volume permissions

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volumes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("size_gib", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.String(length=32), nullable=True),
        sa.Column("availability_zone", sa.String(length=64), nullable=False),
        sa.Column("volume_type", sa.String(length=16), nullable=False),
        sa.Column("iops", sa.Integer(), nullable=True),
        sa.Column("throughput", sa.Integer(), nullable=True),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("auto_enable_io", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_message", sa.String(length=255), nullable=True),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("location", sa.String(length=1024), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("attach_state", sa.String(length=16), nullable=True),
        sa.Column("attach_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_on_termination", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_volumes_account_id_accounts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volumes")),
    )
    op.create_index("ix_volumes_account_state", "volumes", ["account_id", "state"])
    op.create_index("ix_volumes_instance", "volumes", ["instance_id"])
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("volume_id", sa.String(length=32), nullable=False),
        sa.Column("volume_size_gib", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_message", sa.String(length=255), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("source_snapshot_id", sa.String(length=32), nullable=True),
        sa.Column("bucket", sa.String(length=64), nullable=True),
        sa.Column("prefix", sa.String(length=255), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=True),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_snapshots_account_id_accounts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
    )
    op.create_index("ix_snapshots_account_state", "snapshots", ["account_id", "state"])
    op.create_index("ix_snapshots_is_public", "snapshots", ["is_public"])
    op.create_table(
        "snapshot_permissions",
        sa.Column("snapshot_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshots.id"],
                                name=op.f("fk_snapshot_permissions_snapshot_id_snapshots"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("snapshot_id", "account_id", name=op.f("pk_snapshot_permissions")),
    )
    op.create_index(op.f("ix_snapshot_permissions_account_id"), "snapshot_permissions",
                    ["account_id"])


def downgrade() -> None:
    op.drop_table("snapshot_permissions")
    op.drop_table("snapshots")
    op.drop_table("volumes")
