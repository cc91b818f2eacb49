"""Stop and search as counts per hotspot set; engagement activities and the plan owner's role

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "stop_search_loads",
        sa.Column("load_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("months", sa.Text(), nullable=False),
        sa.Column("before_days", sa.Integer(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("loaded_by", sa.String(length=80), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["hotspot_sets.set_id"], name=op.f("fk_stop_search_loads_set_id_hotspot_sets")),
        sa.PrimaryKeyConstraint("load_id", name=op.f("pk_stop_search_loads")),
        sa.UniqueConstraint("set_id", "fingerprint", name=op.f("uq_stop_search_loads_set_id")),
    )
    op.create_index(op.f("ix_stop_search_loads_set_id"), "stop_search_loads", ["set_id"])
    op.create_table(
        "stop_search_counts",
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("window", sa.String(length=8), nullable=False),
        sa.Column("search_type", sa.String(length=32), nullable=False),
        sa.Column("legislation", sa.String(length=80), nullable=False),
        sa.Column("object_of_search", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=80), nullable=False),
        sa.Column("linked", sa.String(length=16), nullable=False),
        sa.Column("self_group", sa.String(length=16), nullable=False),
        sa.Column("officer_group", sa.String(length=16), nullable=False),
        sa.Column("age_band", sa.String(length=16), nullable=False),
        sa.Column("searches", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["stop_search_loads.load_id"],
                                name=op.f("fk_stop_search_counts_load_id_stop_search_loads")),
    )
    op.create_index(op.f("ix_stop_search_counts_load_id"), "stop_search_counts", ["load_id"])
    op.create_table(
        "stop_search_rejects",
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["stop_search_loads.load_id"],
                                name=op.f("fk_stop_search_rejects_load_id_stop_search_loads")),
    )
    op.create_index(op.f("ix_stop_search_rejects_load_id"), "stop_search_rejects", ["load_id"])
    op.create_table(
        "engagement_activities",
        sa.Column("activity_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("happened_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_engagement_activities")),
    )
    op.create_index(op.f("ix_engagement_activities_hotspot_id"), "engagement_activities", ["hotspot_id"])
    with op.batch_alter_table("engagement_plans") as batch:
        batch.add_column(sa.Column("owner_role", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("engagement_plans") as batch:
        batch.drop_column("owner_role")
    for table in ("engagement_activities", "stop_search_rejects", "stop_search_counts", "stop_search_loads"):
        op.drop_table(table)
