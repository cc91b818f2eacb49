"""Browser sessions (hashed cookie values) and the weekly cycle's scheduled runs

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("session_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_sha256", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["token_id"], ["api_tokens.token_id"], name=op.f("fk_web_sessions_token_id_api_tokens")),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("session_sha256", name=op.f("uq_web_sessions_session_sha256")),
    )
    op.create_table(
        "scheduled_runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_label", sa.String(length=32), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("roster_id", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["set_id"], ["hotspot_sets.set_id"], name=op.f("fk_scheduled_runs_set_id_hotspot_sets")),
        sa.ForeignKeyConstraint(["roster_id"], ["rosters.roster_id"], name=op.f("fk_scheduled_runs_roster_id_rosters")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_scheduled_runs")),
        sa.UniqueConstraint("kind", "period_start", name=op.f("uq_scheduled_runs_kind")),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
    op.drop_table("web_sessions")
