"""cloudwatch: metrics, dimensions, datapoints (statistic sets + sketches), ingested node samples,
alarms and alarm history

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cw_metrics",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("metric_name", sa.String(length=255), nullable=False),
        sa.Column("dimensions", sa.Text(), nullable=False),
        sa.Column("last_put_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_cw_metrics_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cw_metrics")),
        sa.UniqueConstraint("account_id", "key_hash", name=op.f("uq_cw_metrics_account_id")),
    )
    op.create_index("ix_cw_metrics_account_namespace", "cw_metrics",
                    ["account_id", "namespace", "metric_name"])
    op.create_index(op.f("ix_cw_metrics_last_put_at"), "cw_metrics", ["last_put_at"])
    op.create_table(
        "cw_metric_dimensions",
        sa.Column("metric_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(["metric_id"], ["cw_metrics.id"],
                                name=op.f("fk_cw_metric_dimensions_metric_id_cw_metrics"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("metric_id", "name", name=op.f("pk_cw_metric_dimensions")),
    )
    op.create_index("ix_cw_metric_dimensions_name_value", "cw_metric_dimensions",
                    ["name", "value"])
    op.create_table(
        "cw_datapoints",
        sa.Column("metric_id", _ID, nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("sample_count", sa.Float(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.Column("sketch", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["metric_id"], ["cw_metrics.id"],
                                name=op.f("fk_cw_datapoints_metric_id_cw_metrics"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("metric_id", "resolution", "ts", "unit",
                                name=op.f("pk_cw_datapoints")),
    )
    op.create_table(
        "cw_ingested_samples",
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("end_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", "end_ts", name=op.f("pk_cw_ingested_samples")),
    )
    op.create_index(op.f("ix_cw_ingested_samples_end_ts"), "cw_ingested_samples", ["end_ts"])
    _alarms()


def _alarms() -> None:
    op.create_table(
        "cw_alarms",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=True),
        sa.Column("metric_name", sa.String(length=255), nullable=True),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("actions_enabled", sa.Boolean(), nullable=False),
        sa.Column("state_value", sa.String(length=32), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("state_reason_data", sa.Text(), nullable=True),
        sa.Column("state_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("configuration_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_cw_alarms_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cw_alarms")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_cw_alarms_account_id")),
    )
    op.create_index("ix_cw_alarms_metric", "cw_alarms", ["account_id", "namespace", "metric_name"])
    op.create_table(
        "cw_alarm_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("alarm_name", sa.String(length=255), nullable=False),
        sa.Column("item_type", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_cw_alarm_history_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cw_alarm_history")),
    )
    op.create_index("ix_cw_alarm_history_account_time", "cw_alarm_history",
                    ["account_id", "timestamp"])


def downgrade() -> None:
    op.drop_table("cw_alarm_history")
    op.drop_table("cw_alarms")
    op.drop_table("cw_ingested_samples")
    op.drop_table("cw_datapoints")
    op.drop_table("cw_metric_dimensions")
    op.drop_table("cw_metrics")
