"""s3 bucket configuration: cors, lifecycle, website, object ownership

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 04:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("s3_buckets") as batch:
        batch.add_column(sa.Column("cors", sa.Text(), nullable=True))
        batch.add_column(sa.Column("lifecycle", sa.Text(), nullable=True))
        batch.add_column(sa.Column("website", sa.Text(), nullable=True))
        batch.add_column(sa.Column("ownership", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("s3_buckets") as batch:
        batch.drop_column("ownership")
        batch.drop_column("website")
        batch.drop_column("lifecycle")
        batch.drop_column("cors")
