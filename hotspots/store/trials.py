"""Storing trial allocations (registered, versioned, never changed) and GPS patrol logs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select

from hotspots.errors import HotspotsError, NotFoundError
from hotspots.ingest.load import file_sha256
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
from hotspots.trials.allocation import PLACE_COLUMNS, Allocation
from hotspots.trials.gps import read_gps_log

ALLOCATION_LIST_COLUMNS = ["allocation_id", "trial", "version", "set_id", "design", "start", "places", "seed",
                           "created_at", "created_by", "reason"]


def save_allocation(store: Store, alloc: Allocation, *, trial: str, set_id: int, created_by: str,
                    reason: str = "") -> int:
    """Register ``alloc`` as the next version of ``trial`` (audited in the same transaction); returns its id."""
    trial = trial.strip()
    if not trial or len(trial) > 64:
        raise HotspotsError(f"--name={trial!r}: give the trial a name of 1 to 64 characters, e.g. 'guardian-2025'")
    created_at = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        if conn.execute(select(hotspot_sets.c.set_id).where(hotspot_sets.c.set_id == set_id)).scalar() is None:
            raise HotspotsError(f"--set={set_id!r}: the store holds no such hotspot set; see 'hotspots sets'")
        version = conn.execute(select(func.coalesce(func.max(trial_allocations.c.version), 0))
                               .where(trial_allocations.c.trial == trial)).scalar() + 1
        if version > 1 and not reason:
            raise HotspotsError(f"trial {trial!r} already has an allocation; a new version needs --reason "
                                "(why the registered allocation is being replaced)")
        allocation_id = conn.execute(insert(trial_allocations).values(
            trial=trial, version=version, set_id=set_id, design=alloc.design, seed=int(alloc.seed),
            start=alloc.start, created_at=created_at, created_by=created_by[:64], reason=reason,
            fingerprint=alloc.fingerprint, parameters=json.dumps(alloc.parameters, sort_keys=True),
            places=json.dumps(alloc.places.to_dict("records"), default=json_default), treated=json.dumps(alloc.treated.astype(int).tolist()),
        )).inserted_primary_key[0]
        audit.record(conn, created_by, "allocation.register", "allocation", allocation_id,
                     {"trial": trial, "version": version, "set_id": set_id, "design": alloc.design,
                      "fingerprint": alloc.fingerprint, "reason": reason})
    alloc.issue = {"allocation_id": allocation_id, "trial": trial, "version": version, "set_id": set_id,
                   "created_at": created_at.isoformat(), "created_by": created_by[:64], "reason": reason,
                   "fingerprint": alloc.fingerprint}
    return allocation_id


def load_allocation(store: Store, allocation_id: int | None = None) -> Allocation:
    """A registered allocation by id, or the latest; refused if it no longer matches its fingerprint."""
    query = select(trial_allocations).order_by(trial_allocations.c.allocation_id.desc()).limit(1)
    if allocation_id is not None:
        query = select(trial_allocations).where(trial_allocations.c.allocation_id == int(allocation_id))
    with store.engine.connect() as conn:
        head = conn.execute(query).mappings().first()
    if head is None:
        what = f"allocation {allocation_id}" if allocation_id is not None else "allocations yet"
        raise NotFoundError(f"the store holds no {what}; register one with 'hotspots trial allocate'")
    places = pd.DataFrame(json.loads(head["places"]), columns=PLACE_COLUMNS)
    places["place_id"] = places["place_id"].astype(str)
    places["npu"] = places["npu"].fillna("").astype(str)
    alloc = Allocation(places=places, treated=np.array(json.loads(head["treated"]), dtype=bool),
                       design=head["design"], seed=int(head["seed"]), parameters=json.loads(head["parameters"]))
    if alloc.fingerprint != head["fingerprint"]:
        raise HotspotsError(f"allocation {head['allocation_id']} does not match its fingerprint: the store was "
                            "altered outside hotspots; do not evaluate against it")
    alloc.issue = {"allocation_id": head["allocation_id"], "trial": head["trial"], "version": head["version"],
                   "set_id": head["set_id"], "created_at": head["created_at"].isoformat(),
                   "created_by": head["created_by"], "reason": head["reason"], "fingerprint": head["fingerprint"]}
    return alloc


def list_allocations(store: Store) -> pd.DataFrame:
    """Every registered allocation, newest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(trial_allocations).order_by(trial_allocations.c.allocation_id.desc())).mappings().all()
    return pd.DataFrame([{**{k: r[k] for k in ALLOCATION_LIST_COLUMNS if k != "places"},
                          "places": len(json.loads(r["places"]))} for r in rows], columns=ALLOCATION_LIST_COLUMNS)


def load_gps_log(store: Store, path: str | Path, *, loaded_by: str, timezone: str = "Europe/London") -> dict:
    """Store one log's pings and rejected rows in one transaction; a file loaded before adds nothing."""
    path = Path(path)
    sha = file_sha256(path)
    with store.engine.connect() as conn:
        earlier = conn.execute(select(patrol_log_batches.c.batch_id).where(patrol_log_batches.c.sha256 == sha)).scalar()
    if earlier is not None:
        return {"file": str(path), "batch_id": earlier, "already_loaded": True, "read": 0, "loaded": 0,
                "already_stored": 0, "rejected": 0}
    pings, rejects = read_gps_log(path, timezone)
    with store.engine.begin() as conn:
        stored = _stored_keys(conn, pings)
        new = pings[~pd.MultiIndex.from_frame(pings[["unit", "at"]]).isin(stored)] if len(pings) else pings
        batch_id = conn.execute(insert(patrol_log_batches).values(
            source_file=str(path), sha256=sha, loaded_at=dt.datetime.now(dt.UTC), loaded_by=loaded_by[:64],
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
                     {"file": path.name, "sha256": sha, "loaded": len(new), "rejected": len(rejects)})
    return {"file": str(path), "batch_id": batch_id, "already_loaded": False, "read": len(pings) + len(rejects),
            "loaded": len(new), "already_stored": len(pings) - len(new), "rejected": len(rejects),
            "rejects": rejects}


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

