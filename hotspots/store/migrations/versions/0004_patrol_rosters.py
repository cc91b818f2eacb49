"""patrol rosters and the audit log, both append-only

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

#: Tables whose rows, once written, may never change: the database itself refuses.
APPEND_ONLY = ("rosters", "roster_visits", "roster_dosage", "audit_log")
_MESSAGE = "issued rosters and the audit log are never changed; issue a new roster version instead"


def upgrade() -> None:
    op.create_table(
        "rosters",
        sa.Column("roster_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("resources", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["hotspot_sets.set_id"], name=op.f("fk_rosters_set_id_hotspot_sets")),
        sa.PrimaryKeyConstraint("roster_id", name=op.f("pk_rosters")),
        sa.UniqueConstraint("set_id", "period_start", "version", name=op.f("uq_rosters_set_id")),
    )
    op.create_index(op.f("ix_rosters_set_id"), "rosters", ["set_id"])
    op.create_table(
        "roster_visits",
        sa.Column("roster_id", sa.Integer(), nullable=False),
        sa.Column("visit_no", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("npu", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("travel_minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["roster_id"], ["rosters.roster_id"], name=op.f("fk_roster_visits_roster_id_rosters")),
        sa.PrimaryKeyConstraint("roster_id", "visit_no", name=op.f("pk_roster_visits")),
    )
    op.create_table(
        "roster_dosage",
        sa.Column("roster_id", sa.Integer(), nullable=False),
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.Column("npu", sa.Text(), nullable=True),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("patrol_days", sa.Integer(), nullable=False),
        sa.Column("target_minutes", sa.Float(), nullable=False),
        sa.Column("planned_minutes", sa.Float(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["roster_id"], ["rosters.roster_id"], name=op.f("fk_roster_dosage_roster_id_rosters")),
        sa.PrimaryKeyConstraint("roster_id", "hotspot_id", name=op.f("pk_roster_dosage")),
    )
    op.create_table(
        "audit_log",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE FUNCTION hotspots_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{_MESSAGE}'; END $$")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION hotspots_append_only()")
    else:
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION hotspots_append_only()")
    for table in ("audit_log", "roster_dosage", "roster_visits", "rosters"):
        op.drop_table(table)
