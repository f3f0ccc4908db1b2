"""instances: the block device mappings a launch honoured (ephemeral disks)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-21 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("block_device_mappings", sa.Text(), nullable=False,
                                      server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("block_device_mappings")
