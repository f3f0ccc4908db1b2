"""s3 multipart uploads: the checksum type (COMPOSITE or FULL_OBJECT) asked for at creation

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-21 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("s3_multipart_uploads") as batch:
        batch.add_column(sa.Column("checksum_type", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("s3_multipart_uploads") as batch:
        batch.drop_column("checksum_type")
