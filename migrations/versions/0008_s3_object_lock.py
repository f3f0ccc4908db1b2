"""s3 object lock: bucket configuration, per-version retention and legal hold

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 05:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_LOCK_COLUMNS = ("lock_mode", "lock_until", "legal_hold")


def _lock_columns() -> list[sa.Column[object]]:
    return [sa.Column("lock_mode", sa.String(16), nullable=True),
            sa.Column("lock_until", sa.DateTime(timezone=True), nullable=True),
            sa.Column("legal_hold", sa.Boolean(), nullable=True)]


def upgrade() -> None:
    with op.batch_alter_table("s3_buckets") as batch:
        batch.add_column(sa.Column("object_lock", sa.Text(), nullable=True))
    for table in ("s3_objects", "s3_multipart_uploads"):
        with op.batch_alter_table(table) as batch:
            for column in _lock_columns():
                batch.add_column(column)


def downgrade() -> None:
    for table in ("s3_multipart_uploads", "s3_objects"):
        with op.batch_alter_table(table) as batch:
            for name in _LOCK_COLUMNS:
                batch.drop_column(name)
    with op.batch_alter_table("s3_buckets") as batch:
        batch.drop_column("object_lock")
