"""Database tables. Pydantic/API schemas live apart from these (in ``api/``).

Times are stored in UTC: ``timestamptz`` on PostgreSQL; on SQLite, naive UTC text that
:class:`UTCDateTime` turns back into aware datetimes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

load_batches = Table(
    "load_batches",
    metadata,
    Column("batch_id", Integer, primary_key=True, autoincrement=True),
    Column("source_file", Text, nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("reader", String(64), nullable=False),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_loaded", Integer, nullable=False),
    Column("rows_already_stored", Integer, nullable=False),
    Column("rows_rejected", Integer, nullable=False),
    Column("warnings", Text, nullable=False, default=""),
)

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", String(80), primary_key=True),
    # No foreign key and no index: see migration 0012 (the check cost PostgreSQL loads 4 s a million rows).
    Column("batch_id", Integer, nullable=False),
    Column("source_line", BigInteger, nullable=False),
    Column("source_id", String(64)),
    Column("occurred_from", UTCDateTime, nullable=False, index=True),
    Column("occurred_to", UTCDateTime, nullable=False),
    Column("time_precision", String(8), nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("h3_cell", String(16), nullable=False),  # no index: no query filters incidents by cell (0011)
    Column("offence", String(48), nullable=False),
    Column("offence_group", String(48), nullable=False),
    Column("source_offence", String(120)),
    Column("knife_enabled", Boolean),
    Column("victim_under_25", Boolean),
    Column("harm_weight", Float, nullable=False),
    Column("location", String(200)),
    Column("lsoa_code", String(16)),
)

rejected_rows = Table(
    "rejected_rows",
    metadata,
    Column("reject_id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", Integer, ForeignKey("load_batches.batch_id"), nullable=False),
    Column("source_file", Text, nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Index("ix_rejected_rows_batch_line", "batch_id", "line"),
)

# Hotspot sets are append-only: a re-run for the same period is a new version, never an update.
hotspot_sets = Table(
    "hotspot_sets",
    metadata,
    Column("set_id", Integer, primary_key=True, autoincrement=True),
    Column("period_label", String(32), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolution", Integer, nullable=False),
    Column("score_source", Text, nullable=False),
    Column("region_area_m2", Float, nullable=False),
    Column("previous_set_id", Integer, ForeignKey("hotspot_sets.set_id")),
    Column("parameters", Text, nullable=False),
    Column("coverage", Text, nullable=False),
    UniqueConstraint("period_label", "version", name="uq_hotspot_sets_period_version"),
)

set_hotspots = Table(
    "set_hotspots",
    metadata,
    Column("set_id", Integer, ForeignKey("hotspot_sets.set_id"), primary_key=True),
    Column("hotspot_id", String(16), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("area_name", Text),
    Column("status", String(16), nullable=False),
    Column("n_cells", Integer, nullable=False),
    Column("area_m2", Float, nullable=False),
    Column("score", Float, nullable=False),
    Column("centroid_lon", Float, nullable=False),
    Column("centroid_lat", Float, nullable=False),
    Column("incidents", Float),
    Column("harm", Float),
    Column("knife_enabled", Float),
    Column("serious_youth_violence", Float),
    Column("gi_hot_cells", Integer),
    Column("emerging_class", String(16)),
    Column("geofence_wkt", Text, nullable=False),
)

set_cells = Table(
    "set_cells",
    metadata,
    Column("set_id", Integer, ForeignKey("hotspot_sets.set_id"), primary_key=True),
    Column("h3_cell", String(16), primary_key=True),
    Column("hotspot_id", String(16), nullable=False),
)

# The score each cell of the force area had when the set was chosen (cells scoring 0 left out).
set_scores = Table(
    "set_scores",
    metadata,
    Column("set_id", Integer, ForeignKey("hotspot_sets.set_id"), primary_key=True),
    Column("h3_cell", String(16), primary_key=True),
    Column("score", Float, nullable=False),
)

# Every edit of a plan is a new row, so its history is kept; the latest row is the plan.
engagement_plans = Table(
    "engagement_plans",
    metadata,
    Column("plan_version", Integer, primary_key=True, autoincrement=True),
    Column("hotspot_id", String(16), nullable=False, index=True),
    Column("owner", Text, nullable=False),
    Column("owner_role", Text, nullable=False, server_default=""),
    Column("stakeholders", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("next_review", Date),
    Column("notes", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The model registry. A version row is written once, whole, with its model; promotion and rollback
# are events appended to a log, so which model served when is never lost.
model_versions = Table(
    "model_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("target", Text, nullable=False),
    Column("period_kind", String(16), nullable=False),
    Column("period_days", Integer, nullable=False),
    Column("period_anchor", Date, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("resolution", Integer, nullable=False),
    Column("crs", String(32), nullable=False),
    Column("training_start", Date, nullable=False),
    Column("training_end", Date, nullable=False),
    Column("forecast_start", Date, nullable=False),
    Column("forecast_end", Date, nullable=False),
    Column("n_incidents", Integer, nullable=False),
    Column("n_cells", Integer, nullable=False),
    Column("features", Text, nullable=False),
    Column("feature_config", Text, nullable=False),
    Column("parameters", Text, nullable=False),
    Column("data_fingerprint", String(64), nullable=False),
    Column("code_version", String(64), nullable=False),
    Column("metrics", Text, nullable=False),
    Column("card", Text, nullable=False),
    Column("model_blob", LargeBinary, nullable=False),
)

model_events = Table(
    "model_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("version", Integer, ForeignKey("model_versions.version"), nullable=False),
    Column("action", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=False),
)

# Patrol rosters. Issued rosters are never changed (triggers refuse UPDATE and DELETE, see
# migration 0004); a reissue is a new version of the same set and start day.
rosters = Table(
    "rosters",
    metadata,
    Column("roster_id", Integer, primary_key=True, autoincrement=True),
    Column("set_id", Integer, ForeignKey("hotspot_sets.set_id"), nullable=False, index=True),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("parameters", Text, nullable=False),
    Column("resources", Text, nullable=False),
    Column("summary", Text, nullable=False),
    UniqueConstraint("set_id", "period_start", "version"),
)

roster_visits = Table(
    "roster_visits",
    metadata,
    Column("roster_id", Integer, ForeignKey("rosters.roster_id"), primary_key=True),
    Column("visit_no", Integer, primary_key=True),
    Column("unit", String(32), nullable=False),
    Column("npu", Text, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("hotspot_id", String(16), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("travel_minutes", Integer, nullable=False),
)

roster_dosage = Table(
    "roster_dosage",
    metadata,
    Column("roster_id", Integer, ForeignKey("rosters.roster_id"), primary_key=True),
    Column("hotspot_id", String(16), primary_key=True),
    Column("npu", Text),
    Column("arm", String(16), nullable=False),
    Column("priority", Float, nullable=False),
    Column("patrol_days", Integer, nullable=False),
    Column("target_minutes", Float, nullable=False),
    Column("planned_minutes", Float, nullable=False),
    Column("visits", Integer, nullable=False),
)

# Who did what to operationally sensitive records (roster issues and downloads, and more as the
# service grows): append-only like the rosters.
audit_log = Table(
    "audit_log",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(64), nullable=False),
    Column("action", String(48), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", String(64), nullable=False),
    Column("detail", Text, nullable=False),
)

# Trial allocations: registered before a trial, never changed (triggers, migration 0005); a
# change is a new version of the same trial name, with its reason in the audit log.
trial_allocations = Table(
    "trial_allocations",
    metadata,
    Column("allocation_id", Integer, primary_key=True, autoincrement=True),
    Column("trial", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("set_id", Integer, ForeignKey("hotspot_sets.set_id"), nullable=False),
    Column("design", String(16), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("start", Date, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("parameters", Text, nullable=False),
    Column("places", Text, nullable=False),
    Column("treated", Text, nullable=False),
    UniqueConstraint("trial", "version"),
)

# GPS/AVL patrol logs: one batch per file (its SHA-256 makes a reload a no-op), pings keyed by
# unit and time so overlapping exports add nothing twice, and every rejected row with its reason.
patrol_log_batches = Table(
    "patrol_log_batches",
    metadata,
    Column("batch_id", Integer, primary_key=True, autoincrement=True),
    Column("source_file", Text, nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("loaded_by", String(64), nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_loaded", Integer, nullable=False),
    Column("rows_already_stored", Integer, nullable=False),
    Column("rows_rejected", Integer, nullable=False),
)

patrol_pings = Table(
    "patrol_pings",
    metadata,
    Column("unit", String(32), primary_key=True),
    Column("at", UTCDateTime, primary_key=True),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("batch_id", Integer, ForeignKey("patrol_log_batches.batch_id"), nullable=False),
    Column("source_line", BigInteger, nullable=False),
    Index("ix_patrol_pings_at", "at"),
)

patrol_log_rejects = Table(
    "patrol_log_rejects",
    metadata,
    Column("reject_id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", Integer, ForeignKey("patrol_log_batches.batch_id"), nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
)

# API tokens: only their SHA-256 is stored (the token itself is shown once, when made). A revoked
# token keeps its row, so the audit log's actors stay traceable.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("npus", Text, nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

#: Long runs started through the API (training, backtests): their state and progress, shared by all
#: workers. ``worker`` (host:pid) lets a restarted service mark the runs its dead processes left.
jobs = Table(
    "jobs",
    metadata,
    Column("job_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("parameters", Text, nullable=False),
    Column("progress", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("result", Text),
    Column("created_by", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("worker", String(80), nullable=False),
    Index("ix_jobs_status", "status"),
)

# Browser sessions: the cookie's value is stored only as a SHA-256 hash, like API tokens. A session
# belongs to a token, so revoking the token ends its sessions; signing out ends one server-side.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("session_id", Integer, primary_key=True, autoincrement=True),
    Column("session_sha256", String(64), nullable=False, unique=True),
    Column("token_id", Integer, ForeignKey("api_tokens.token_id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
)

# The weekly cycle's runs: one row per kind and period, claimed by a unique key before the work, so
# two workers (or a restart) never run the same period twice.
scheduled_runs = Table(
    "scheduled_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_label", String(32), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("worker", String(80), nullable=False),
    Column("status", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("set_id", Integer, ForeignKey("hotspot_sets.set_id")),
    Column("seed", BigInteger),
    Column("roster_id", Integer, ForeignKey("rosters.roster_id")),
    Column("finished_at", UTCDateTime),
    UniqueConstraint("kind", "period_start"),
)

# Stop and search is kept only as counts: one load per hotspot set and file collection (its files'
# SHA-256 digests together make the fingerprint, so loading them again adds nothing), with the
# counts per hotspot, month, window and category, and the rejected rows' lines and reasons (never
# their text, which describes a person).
stop_search_loads = Table(
    "stop_search_loads",
    metadata,
    Column("load_id", Integer, primary_key=True, autoincrement=True),
    Column("set_id", Integer, ForeignKey("hotspot_sets.set_id"), nullable=False, index=True),
    Column("fingerprint", String(64), nullable=False),
    Column("files", Text, nullable=False),
    Column("months", Text, nullable=False),
    Column("before_days", Integer, nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_rejected", Integer, nullable=False),
    Column("loaded_by", String(80), nullable=False),
    Column("loaded_at", UTCDateTime, nullable=False),
    UniqueConstraint("set_id", "fingerprint"),
)

stop_search_counts = Table(
    "stop_search_counts",
    metadata,
    Column("load_id", Integer, ForeignKey("stop_search_loads.load_id"), nullable=False, index=True),
    Column("hotspot_id", String(16), nullable=False),
    Column("month", String(7), nullable=False),
    Column("window", String(8), nullable=False),
    Column("search_type", String(32), nullable=False),
    Column("legislation", String(80), nullable=False),
    Column("object_of_search", String(80), nullable=False),
    Column("outcome", String(80), nullable=False),
    Column("linked", String(16), nullable=False),
    Column("self_group", String(16), nullable=False),
    Column("officer_group", String(16), nullable=False),
    Column("age_band", String(16), nullable=False),
    Column("searches", Integer, nullable=False),
)

stop_search_rejects = Table(
    "stop_search_rejects",
    metadata,
    Column("load_id", Integer, ForeignKey("stop_search_loads.load_id"), nullable=False, index=True),
    Column("source_file", Text, nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
)

# What was done to engage the community around a hotspot: every activity is a row, never changed.
engagement_activities = Table(
    "engagement_activities",
    metadata,
    Column("activity_id", Integer, primary_key=True, autoincrement=True),
    Column("hotspot_id", String(16), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("happened_on", Date, nullable=False),
    Column("note", Text, nullable=False),
    Column("recorded_by", String(80), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)
