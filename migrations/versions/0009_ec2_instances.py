"""ec2 instances and reservations

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("requester_id", sa.String(length=32), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("request_digest", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_reservations_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("account_id", "client_token",
                            name=op.f("uq_reservations_account_id")),
    )
    op.create_table(
        "instances",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("reservation_id", sa.String(length=32), nullable=False),
        sa.Column("launch_index", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.String(length=32), nullable=False),
        sa.Column("kernel_id", sa.String(length=32), nullable=True),
        sa.Column("ramdisk_id", sa.String(length=32), nullable=True),
        sa.Column("instance_type", sa.String(length=64), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mib", sa.BigInteger(), nullable=False),
        sa.Column("disk_gib", sa.BigInteger(), nullable=False),
        sa.Column("architecture", sa.String(length=16), nullable=False),
        sa.Column("root_device_type", sa.String(length=16), nullable=False),
        sa.Column("root_device_name", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason_code", sa.String(length=64), nullable=True),
        sa.Column("state_reason_message", sa.String(length=255), nullable=True),
        sa.Column("state_transition_reason", sa.String(length=255), nullable=False),
        sa.Column("reboot_requested", sa.Boolean(), nullable=False),
        sa.Column("key_name", sa.String(length=255), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("security_groups", sa.Text(), nullable=False),
        sa.Column("user_data", sa.LargeBinary(), nullable=True),
        sa.Column("availability_zone", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=32), nullable=True),
        sa.Column("private_ip", sa.String(length=45), nullable=True),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("disable_api_termination", sa.Boolean(), nullable=False),
        sa.Column("shutdown_behavior", sa.String(length=16), nullable=False),
        sa.Column("metadata_options", sa.Text(), nullable=False),
        sa.Column("monitoring", sa.Boolean(), nullable=False),
        sa.Column("launch_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("console_output", sa.LargeBinary(), nullable=True),
        sa.Column("console_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("console_wanted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_instances_account_id_accounts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"],
                                name=op.f("fk_instances_reservation_id_reservations"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"],
                                name=op.f("fk_instances_node_id_nodes"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
        sa.UniqueConstraint("private_ip", name=op.f("uq_instances_private_ip")),
    )
    op.create_index("ix_instances_account_state", "instances", ["account_id", "state"])
    op.create_index("ix_instances_node_state", "instances", ["node_id", "state"])
    op.create_index(op.f("ix_instances_reservation_id"), "instances", ["reservation_id"])
    op.create_index(op.f("ix_instances_state_changed_at"), "instances", ["state_changed_at"])


def downgrade() -> None:
    op.drop_table("instances")
    op.drop_table("reservations")
