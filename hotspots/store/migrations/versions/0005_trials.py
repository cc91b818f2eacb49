"""trial allocations and GPS patrol logs; allocations and pings append-only

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

#: A registered allocation and the pings that show delivery are evidence: never changed.
APPEND_ONLY = ("trial_allocations", "patrol_pings")
_MESSAGE = "registered allocations and patrol logs are never changed; register a new allocation version instead"


def upgrade() -> None:
    op.create_table(
        "trial_allocations",
        sa.Column("allocation_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trial", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("design", sa.String(length=16), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("places", sa.Text(), nullable=False),
        sa.Column("treated", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["hotspot_sets.set_id"],
                                name=op.f("fk_trial_allocations_set_id_hotspot_sets")),
        sa.PrimaryKeyConstraint("allocation_id", name=op.f("pk_trial_allocations")),
        sa.UniqueConstraint("trial", "version", name=op.f("uq_trial_allocations_trial")),
    )
    op.create_table(
        "patrol_log_batches",
        sa.Column("batch_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=64), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_already_stored", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_patrol_log_batches")),
        sa.UniqueConstraint("sha256", name=op.f("uq_patrol_log_batches_sha256")),
    )
    op.create_table(
        "patrol_pings",
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["patrol_log_batches.batch_id"],
                                name=op.f("fk_patrol_pings_batch_id_patrol_log_batches")),
        sa.PrimaryKeyConstraint("unit", "at", name=op.f("pk_patrol_pings")),
    )
    op.create_index("ix_patrol_pings_at", "patrol_pings", ["at"])
    op.create_table(
        "patrol_log_rejects",
        sa.Column("reject_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["patrol_log_batches.batch_id"],
                                name=op.f("fk_patrol_log_rejects_batch_id_patrol_log_batches")),
        sa.PrimaryKeyConstraint("reject_id", name=op.f("pk_patrol_log_rejects")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE FUNCTION hotspots_evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{_MESSAGE}'; END $$")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION hotspots_evidence_append_only()")
    else:
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION hotspots_evidence_append_only()")
    for table in ("patrol_log_rejects", "patrol_pings", "patrol_log_batches", "trial_allocations"):
        op.drop_table(table)
