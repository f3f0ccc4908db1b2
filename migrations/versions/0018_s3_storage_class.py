"""s3 objects and multipart uploads: the storage class (NULL: STANDARD), and how long a restored
copy of an archived object (GLACIER, DEEP_ARCHIVE) stays readable

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-21 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("s3_objects") as batch:
        batch.add_column(sa.Column("storage_class", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("restored_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("s3_multipart_uploads") as batch:
        batch.add_column(sa.Column("storage_class", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("s3_multipart_uploads") as batch:
        batch.drop_column("storage_class")
    with op.batch_alter_table("s3_objects") as batch:
        batch.drop_column("restored_until")
        batch.drop_column("storage_class")
