"""Storing trial allocations (registered, versioned, never changed) and GPS patrol logs."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select

from hotspots.core.errors import NotFoundError, ValidationError
from hotspots.store import audit
from hotspots.store.db import Store
from hotspots.store.hotspot_sets import json_default
from hotspots.store.schema import (
    hotspot_sets,
    patrol_log_batches,
    patrol_log_rejects,
    patrol_pings,
    trial_allocations,
)

ALLOCATION_LIST_COLUMNS = ["allocation_id", "trial", "version", "set_id", "design", "start", "places", "seed",
                           "created_at", "created_by", "reason"]


def save_allocation(store: Store, *, trial: str, set_id: int, created_by: str, reason: str, design: str, seed: int,
                    start: dt.date, fingerprint: str, parameters: dict, places: pd.DataFrame,
                    treated: np.ndarray) -> dict:
    """Register an allocation as the next version of ``trial`` (audited in the same transaction).

    Parameters
    ----------
    trial : the trial's name, 1 to 64 characters; a new allocation under it needs a ``reason``.
    set_id : the hotspot set whose places were allocated.
    created_by : who registers it (a role or token name).
    design, seed, start, parameters : how the places were randomised, from which seed, from which day.
    fingerprint : the digest of the allocation, checked when it is read back.
    places : one row per place (PLACE_COLUMNS of :mod:`hotspots.trials.allocation`).
    treated : bool array, shape (places, periods): patrolled in each period.

    Returns
    -------
    dict
        The issue record: allocation_id, trial, version, set_id, created_at, created_by, reason,
        fingerprint.
    """
    trial = trial.strip()
    if not trial or len(trial) > 64:
        raise ValidationError(f"trial={trial!r}: give the trial a name of 1 to 64 characters, e.g. 'guardian-2025'",
                              arguments="trial")
    created_at = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        if conn.execute(select(hotspot_sets.c.set_id).where(hotspot_sets.c.set_id == set_id)).scalar() is None:
            raise NotFoundError(f"set_id={set_id!r}: the store holds no such hotspot set; see 'hotspots sets'",
                                arguments="set_id")
        version = conn.execute(select(func.coalesce(func.max(trial_allocations.c.version), 0))
                               .where(trial_allocations.c.trial == trial)).scalar() + 1
        if version > 1 and not reason:
            raise ValidationError(f"trial {trial!r} already has an allocation; a new version needs reason "
                                  "(why the registered allocation is being replaced)", arguments="reason")
        allocation_id = conn.execute(insert(trial_allocations).values(
            trial=trial, version=version, set_id=set_id, design=design, seed=int(seed),
            start=start, created_at=created_at, created_by=created_by[:64], reason=reason,
            fingerprint=fingerprint, parameters=json.dumps(parameters, sort_keys=True),
            places=json.dumps(places.to_dict("records"), default=json_default),
            treated=json.dumps(treated.astype(int).tolist()),
        )).inserted_primary_key[0]
        audit.record(conn, created_by, "allocation.register", "allocation", allocation_id,
                     {"trial": trial, "version": version, "set_id": set_id, "design": design,
                      "fingerprint": fingerprint, "reason": reason})
    return {"allocation_id": allocation_id, "trial": trial, "version": version, "set_id": set_id,
            "created_at": created_at.isoformat(), "created_by": created_by[:64], "reason": reason,
            "fingerprint": fingerprint}


@dataclass
class StoredAllocation:
    """A registered allocation as stored: its record, places (as registered), treated (places ×
    periods), design, seed and parameters."""

    issue: dict
    places: pd.DataFrame
    treated: np.ndarray
    design: str
    seed: int
    parameters: dict
    fingerprint: str


def load_allocation(store: Store, allocation_id: int | None = None) -> StoredAllocation:
    """A registered allocation by id, or the latest."""
    query = select(trial_allocations).order_by(trial_allocations.c.allocation_id.desc()).limit(1)
    if allocation_id is not None:
        query = select(trial_allocations).where(trial_allocations.c.allocation_id == int(allocation_id))
    with store.engine.connect() as conn:
        head = conn.execute(query).mappings().first()
    if head is None:
        what = f"allocation {allocation_id}" if allocation_id is not None else "allocations yet"
        raise NotFoundError(f"the store holds no {what}; register one with 'hotspots trial allocate'")
    issue = {"allocation_id": head["allocation_id"], "trial": head["trial"], "version": head["version"],
             "set_id": head["set_id"], "created_at": head["created_at"].isoformat(),
             "created_by": head["created_by"], "reason": head["reason"], "fingerprint": head["fingerprint"]}
    return StoredAllocation(issue=issue, places=pd.DataFrame(json.loads(head["places"])),
                            treated=np.array(json.loads(head["treated"]), dtype=bool), design=head["design"],
                            seed=int(head["seed"]), parameters=json.loads(head["parameters"]),
                            fingerprint=head["fingerprint"])


def list_allocations(store: Store) -> pd.DataFrame:
    """Every registered allocation, newest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(trial_allocations).order_by(trial_allocations.c.allocation_id.desc())).mappings().all()
    return pd.DataFrame([{**{k: r[k] for k in ALLOCATION_LIST_COLUMNS if k != "places"},
                          "places": len(json.loads(r["places"]))} for r in rows], columns=ALLOCATION_LIST_COLUMNS)


def gps_batch_of(store: Store, sha256: str) -> int | None:
    """The batch that loaded a GPS log with these bytes, or None."""
    with store.engine.connect() as conn:
        return conn.execute(select(patrol_log_batches.c.batch_id).where(patrol_log_batches.c.sha256 == sha256)).scalar()


def save_gps_log(store: Store, *, source_file: str, sha256: str, pings: pd.DataFrame, rejects: pd.DataFrame,
                 loaded_by: str) -> dict:
    """Store one log's pings and rejected rows in one transaction, audited; pings already stored (same
    unit and time) are skipped.

    Parameters
    ----------
    source_file, sha256 : the log's name and digest (a second load of the same file adds nothing).
    pings : unit, at (aware), lon, lat, line.
    rejects : line, reason, raw.
    loaded_by : who loaded it.

    Returns
    -------
    dict
        batch_id, read, loaded, already_stored, rejected.
    """
    with store.engine.begin() as conn:
        stored = _stored_keys(conn, pings)
        new = pings[~pd.MultiIndex.from_frame(pings[["unit", "at"]]).isin(stored)] if len(pings) else pings
        batch_id = conn.execute(insert(patrol_log_batches).values(
            source_file=source_file, sha256=sha256, loaded_at=dt.datetime.now(dt.UTC), loaded_by=loaded_by[:64],
            rows_read=len(pings) + len(rejects), rows_loaded=len(new), rows_already_stored=len(pings) - len(new),
            rows_rejected=len(rejects))).inserted_primary_key[0]
        if len(new):
            conn.execute(insert(patrol_pings), [
                {"unit": r.unit, "at": r.at.to_pydatetime(), "lon": float(r.lon), "lat": float(r.lat),
                 "batch_id": batch_id, "source_line": int(r.line)} for r in new.itertuples(index=False)])
        if len(rejects):
            conn.execute(insert(patrol_log_rejects), [
                {"batch_id": batch_id, "line": int(r.line), "reason": r.reason, "raw": r.raw}
                for r in rejects.itertuples(index=False)])
        audit.record(conn, loaded_by, "patrol_log.load", "patrol_log", batch_id,
                     {"file": Path(source_file).name, "sha256": sha256, "loaded": len(new), "rejected": len(rejects)})
    return {"batch_id": batch_id, "read": len(pings) + len(rejects), "loaded": len(new),
            "already_stored": len(pings) - len(new), "rejected": len(rejects)}


def _stored_keys(conn, pings: pd.DataFrame) -> pd.MultiIndex:
    if pings.empty:
        return pd.MultiIndex.from_arrays([[], []])
    query = select(patrol_pings.c.unit, patrol_pings.c.at).where(
        patrol_pings.c.at >= pings["at"].min().to_pydatetime(), patrol_pings.c.at <= pings["at"].max().to_pydatetime(),
        patrol_pings.c.unit.in_(sorted(pings["unit"].unique())))
    rows = conn.execute(query).all()
    at = pd.to_datetime([r[1] for r in rows], utc=True)
    return pd.MultiIndex.from_arrays([[r[0] for r in rows], at])


def read_pings(store: Store, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
    """Stored pings with ``since <= at < until`` (unit, at in UTC, lon, lat)."""
    query = (select(patrol_pings.c.unit, patrol_pings.c.at, patrol_pings.c.lon, patrol_pings.c.lat)
             .where(patrol_pings.c.at >= since.to_pydatetime(), patrol_pings.c.at < until.to_pydatetime())
             .order_by(patrol_pings.c.unit, patrol_pings.c.at))
    with store.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=["unit", "at", "lon", "lat"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def last_ping(store: Store, since: pd.Timestamp) -> pd.Timestamp | None:
    """Time of the latest stored ping at or after ``since`` (UTC), or None if there is none."""
    with store.engine.connect() as conn:
        last = conn.execute(select(func.max(patrol_pings.c.at)).where(patrol_pings.c.at >= since.to_pydatetime())).scalar()
    if last is None:
        return None
    last = pd.Timestamp(last)
    return last.tz_localize("UTC") if last.tzinfo is None else last.tz_convert("UTC")


def log_rejects(store: Store, batch_id: int) -> pd.DataFrame:
    """The rejected rows of one loaded log: line, reason, raw."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(patrol_log_rejects.c.line, patrol_log_rejects.c.reason, patrol_log_rejects.c.raw)
                            .where(patrol_log_rejects.c.batch_id == batch_id)
                            .order_by(patrol_log_rejects.c.line)).all()
    return pd.DataFrame(rows, columns=["line", "reason", "raw"])

