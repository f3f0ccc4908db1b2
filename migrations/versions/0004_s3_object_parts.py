"""s3 objects: the multipart upload and parts an object was completed from; inline bytes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 04:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("s3_objects") as batch:
        batch.add_column(sa.Column("upload_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("parts", sa.Text(), nullable=True))
        batch.add_column(sa.Column("inline_data", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("s3_objects") as batch:
        batch.drop_column("inline_data")
        batch.drop_column("parts")
        batch.drop_column("upload_id")
