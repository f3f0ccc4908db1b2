"""nodes: node agents registered with the controller, their capacity and heartbeats

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("endpoint", sa.String(length=512), nullable=False),
        sa.Column("hypervisor", sa.String(length=16), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mib", sa.BigInteger(), nullable=False),
        sa.Column("disk_gib", sa.BigInteger(), nullable=False),
        sa.Column("max_instances", sa.Integer(), nullable=False),
        sa.Column("credential_hash", sa.String(length=64), nullable=False),
        sa.Column("api_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("instances", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
        sa.UniqueConstraint("name", name=op.f("uq_nodes_name")),
    )
    op.create_index(op.f("ix_nodes_last_heartbeat_at"), "nodes", ["last_heartbeat_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_nodes_last_heartbeat_at"), table_name="nodes")
    op.drop_table("nodes")
