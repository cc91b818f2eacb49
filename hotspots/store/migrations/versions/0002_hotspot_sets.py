"""hotspot sets and engagement plans

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "hotspot_sets",
        sa.Column("set_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period_label", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("score_source", sa.Text(), nullable=False),
        sa.Column("region_area_m2", sa.Float(), nullable=False),
        sa.Column("previous_set_id", sa.Integer(), nullable=True),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("coverage", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["previous_set_id"], ["hotspot_sets.set_id"],
                                name=op.f("fk_hotspot_sets_previous_set_id_hotspot_sets")),
        sa.PrimaryKeyConstraint("set_id", name=op.f("pk_hotspot_sets")),
        sa.UniqueConstraint("period_label", "version", name="uq_hotspot_sets_period_version"),
    )
    op.create_table(
        "set_hotspots",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("area_name", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n_cells", sa.Integer(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("centroid_lon", sa.Float(), nullable=False),
        sa.Column("centroid_lat", sa.Float(), nullable=False),
        sa.Column("incidents", sa.Float(), nullable=True),
        sa.Column("harm", sa.Float(), nullable=True),
        sa.Column("knife_enabled", sa.Float(), nullable=True),
        sa.Column("serious_youth_violence", sa.Float(), nullable=True),
        sa.Column("gi_hot_cells", sa.Integer(), nullable=True),
        sa.Column("emerging_class", sa.String(length=16), nullable=True),
        sa.Column("geofence_wkt", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["hotspot_sets.set_id"], name=op.f("fk_set_hotspots_set_id_hotspot_sets")),
        sa.PrimaryKeyConstraint("set_id", "hotspot_id", name=op.f("pk_set_hotspots")),
    )
    op.create_table(
        "set_cells",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("h3_cell", sa.String(length=16), nullable=False),
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["hotspot_sets.set_id"], name=op.f("fk_set_cells_set_id_hotspot_sets")),
        sa.PrimaryKeyConstraint("set_id", "h3_cell", name=op.f("pk_set_cells")),
    )
    op.create_table(
        "engagement_plans",
        sa.Column("plan_version", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("stakeholders", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_review", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plan_version", name=op.f("pk_engagement_plans")),
    )
    op.create_index(op.f("ix_engagement_plans_hotspot_id"), "engagement_plans", ["hotspot_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_engagement_plans_hotspot_id"), table_name="engagement_plans")
    for table in ("engagement_plans", "set_cells", "set_hotspots", "hotspot_sets"):
        op.drop_table(table)
