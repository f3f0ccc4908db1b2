"""s3_objects: index blob ids only where there is one (inline objects have none)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-21 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_WHERE = sa.text("blob_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_s3_objects_blob_id", table_name="s3_objects")
    op.create_index("ix_s3_objects_blob_id", "s3_objects", ["blob_id"], unique=False,
                    sqlite_where=_WHERE, postgresql_where=_WHERE)


def downgrade() -> None:
    op.drop_index("ix_s3_objects_blob_id", table_name="s3_objects")
    op.create_index("ix_s3_objects_blob_id", "s3_objects", ["blob_id"], unique=False)
