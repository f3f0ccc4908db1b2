"""s3: server-side encryption (SSE-S3): a bucket's default encryption, and the algorithm and
key material of encrypted objects, uploads and parts

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-21 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("s3_buckets") as batch:
        batch.add_column(sa.Column("encryption", sa.Text(), nullable=True))
    for table in ("s3_objects", "s3_multipart_uploads"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("sse", sa.String(length=16), nullable=True))
            batch.add_column(sa.Column("sse_key", sa.String(length=128), nullable=True))
    with op.batch_alter_table("s3_upload_parts") as batch:
        batch.add_column(sa.Column("sse_nonce", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("s3_upload_parts") as batch:
        batch.drop_column("sse_nonce")
    for table in ("s3_multipart_uploads", "s3_objects"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("sse_key")
            batch.drop_column("sse")
    with op.batch_alter_table("s3_buckets") as batch:
        batch.drop_column("encryption")
