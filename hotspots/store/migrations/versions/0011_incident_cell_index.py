"""Drop the index on incidents.h3_cell: no query filters incidents by cell (every reader takes a
time range and groups by cell in memory), and keeping it cost a third of each load's write time

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.drop_index("ix_incidents_h3_cell", table_name="incidents")


def downgrade() -> None:
    op.create_index("ix_incidents_h3_cell", "incidents", ["h3_cell"], unique=False)
