"""instance image hold: an instance shut down for CreateImage's snapshots, then booted again

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-21 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("image_hold", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("image_hold")
