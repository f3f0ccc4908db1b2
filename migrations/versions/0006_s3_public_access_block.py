"""s3 buckets: Block Public Access settings

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 05:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("s3_buckets") as batch:
        batch.add_column(sa.Column("public_access_block", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("s3_buckets") as batch:
        batch.drop_column("public_access_block")
