"""Incidents keep their batch id without a foreign key or an index on it.

PostgreSQL checks a foreign key with one trigger call per inserted row: on a million-row load
that check was 4.4 s of the server's 9.6 s COPY (measured 2026-11-29), to confirm a batch the
same transaction had just written. Batches are append-only (nothing deletes one), the id is
written only by ``hotspots.store.incidents.write_batch`` beside its batch row, and the tests
check every stored incident names a stored batch. No query selects incidents by batch, so its
index went too.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.drop_index("ix_incidents_batch_id")
        batch_op.drop_constraint("fk_incidents_batch_id_load_batches", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.create_foreign_key("fk_incidents_batch_id_load_batches", "load_batches", ["batch_id"], ["batch_id"])
        batch_op.create_index("ix_incidents_batch_id", ["batch_id"], unique=False)
