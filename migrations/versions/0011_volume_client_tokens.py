"""volumes: ClientToken idempotency of CreateVolume

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("volumes") as batch:
        batch.add_column(sa.Column("client_token", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("request_digest", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f("uq_volumes_account_id"),
                                       ["account_id", "client_token"])


def downgrade() -> None:
    with op.batch_alter_table("volumes") as batch:
        batch.drop_constraint(op.f("uq_volumes_account_id"), type_="unique")
        batch.drop_column("request_digest")
        batch.drop_column("client_token")
