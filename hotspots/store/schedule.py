"""The weekly cycle's runs. A run is claimed by inserting its (kind, period) row before any work: the
unique key lets exactly one worker (of however many, on however many hosts) win each period."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from hotspots.core.errors import NotFoundError, ValidationError
from hotspots.store import audit
from hotspots.store.db import Store
from hotspots.store.schema import scheduled_runs

RUN_COLUMNS = ["run_id", "kind", "period_start", "period_label", "due_at", "claimed_at", "worker", "status", "message",
               "set_id", "seed", "roster_id", "finished_at"]


def claim_run(store: Store, kind: str, period_start: dt.date, period_label: str, due_at: dt.datetime, worker: str,
              **values) -> int | None:
    """Claim the ``kind`` run of a period for ``worker`` (audited as the schedule).

    Parameters
    ----------
    kind : weekly-set or roster-draft.
    period_start, period_label : the period the run is for.
    due_at : when it fell due (aware).
    worker : host:pid of the claiming process.
    values : further columns (set_id, seed).

    Returns
    -------
    int | None
        The run's id, or None when the period's run was claimed before (by anyone).
    """
    actor = f"schedule:{worker}"
    try:
        with store.engine.begin() as conn:
            run_id = conn.execute(insert(scheduled_runs).values(
                kind=kind, period_start=period_start, period_label=period_label, due_at=due_at, claimed_at=_now(),
                worker=worker[:80], status="running", message="started", **values)).inserted_primary_key[0]
            audit.record(conn, actor, f"schedule.{kind}", "scheduled_run", run_id,
                         {"period": period_label, "due_at": due_at.isoformat()})
    except IntegrityError:
        return None
    return int(run_id)


def finish_run(store: Store, run_id: int, status: str, message: str, **values) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(scheduled_runs).where(scheduled_runs.c.run_id == run_id).values(
            status=status, message=message[:500], finished_at=_now(), **values))


def take_draft(store: Store, run_id: int) -> dict:
    """Mark a waiting roster draft as being issued and return it; one taker only."""
    with store.engine.begin() as conn:
        taken = conn.execute(update(scheduled_runs).where(
            scheduled_runs.c.run_id == run_id, scheduled_runs.c.kind == "roster-draft",
            scheduled_runs.c.status == "waiting").values(status="issuing")).rowcount
        row = conn.execute(select(scheduled_runs).where(scheduled_runs.c.run_id == run_id)).mappings().first()
    if row is None or row["kind"] != "roster-draft":
        raise NotFoundError(f"run_id={run_id} is not a roster draft; see the tasking page")
    if not taken:
        raise ValidationError(f"run_id={run_id}: the draft for {row['period_label']} is {row['status']}, "
                              "not waiting; it can be issued once", arguments="run_id")
    return dict(row)


def release_draft(store: Store, run_id: int) -> None:
    """Put back a draft whose issue failed, so it can be issued once fixed."""
    with store.engine.begin() as conn:
        conn.execute(update(scheduled_runs).where(scheduled_runs.c.run_id == run_id,
                                                  scheduled_runs.c.status == "issuing").values(status="waiting"))


def list_runs(store: Store, kind: str | None = None, status: str | None = None, newest: int = 20) -> pd.DataFrame:
    """The ``newest`` runs, newest period first, optionally of one kind and status."""
    query = select(*[scheduled_runs.c[c] for c in RUN_COLUMNS]).order_by(
        scheduled_runs.c.period_start.desc(), scheduled_runs.c.run_id.desc()).limit(newest)
    if kind is not None:
        query = query.where(scheduled_runs.c.kind == kind)
    if status is not None:
        query = query.where(scheduled_runs.c.status == status)
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
