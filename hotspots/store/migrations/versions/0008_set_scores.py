"""Each hotspot set's score per cell, so its map reads the surface it was chosen from

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "set_scores",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("h3_cell", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["hotspot_sets.set_id"], name=op.f("fk_set_scores_set_id_hotspot_sets")),
        sa.PrimaryKeyConstraint("set_id", "h3_cell", name=op.f("pk_set_scores")),
    )


def downgrade() -> None:
    op.drop_table("set_scores")
