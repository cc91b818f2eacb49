"""Storing issued rosters: one version per set and start day, written whole, never changed."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, insert, select

from hotspots.core.errors import NotFoundError
from hotspots.store import audit
from hotspots.store.db import Store
from hotspots.store.hotspot_sets import json_default
from hotspots.store.schema import hotspot_sets, roster_dosage, roster_visits, rosters, set_hotspots

ROSTER_LIST_COLUMNS = ["roster_id", "set_id", "period_start", "period_end", "version", "created_at", "issued_by",
                       "seed", "visits", "reason"]


def save_roster(store: Store, *, set_id: int, issued_by: str, reason: str, resources: dict, parameters: dict,
                fingerprint: str, summary: dict, visits: pd.DataFrame, dosage: pd.DataFrame) -> dict:
    """Write an issued roster as the next version for its set and start day, in one transaction, audited
    in the same transaction.

    Parameters
    ----------
    set_id : the hotspot set the roster patrols.
    issued_by : who issues it (a role or token name). reason : why it replaces an earlier version.
    resources : the resources document it was planned on.
    parameters : the roster's choices, with ``start``, ``end`` (ISO days) and ``seed``.
    fingerprint : the digest of its visits and dosage, checked when it is read back.
    summary : units, NPUs and warnings, kept as they were planned.
    visits : one row per visit (visit_no, unit, npu, mode, hotspot_id, starts_at, ends_at, travel_minutes).
    dosage : one row per hotspot (hotspot_id, npu, arm, priority, patrol_days, target_minutes,
        planned_minutes, visits).

    Returns
    -------
    dict
        The issue record: roster_id, version, set_id, issued_by, created_at, reason, fingerprint,
        resources.
    """
    start = dt.date.fromisoformat(parameters["start"])
    created_at = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        if conn.execute(select(hotspot_sets.c.set_id).where(hotspot_sets.c.set_id == set_id)).scalar() is None:
            raise NotFoundError(f"set_id={set_id!r}: the store holds no such hotspot set; see 'hotspots sets'")
        version = conn.execute(select(func.coalesce(func.max(rosters.c.version), 0))
                               .where(rosters.c.set_id == set_id, rosters.c.period_start == start)).scalar() + 1
        roster_id = conn.execute(insert(rosters).values(
            set_id=set_id, period_start=start, period_end=dt.date.fromisoformat(parameters["end"]),
            version=version, created_at=created_at, issued_by=issued_by[:64], reason=reason,
            seed=int(parameters["seed"]), fingerprint=fingerprint,
            parameters=json.dumps(parameters, sort_keys=True), resources=json.dumps(resources or {}),
            summary=json.dumps(summary, default=json_default),
        )).inserted_primary_key[0]
        if len(visits):
            conn.execute(insert(roster_visits), [
                {"roster_id": roster_id, "visit_no": int(r.visit_no), "unit": r.unit, "npu": r.npu, "mode": r.mode,
                 "hotspot_id": r.hotspot_id, "starts_at": r.starts_at.to_pydatetime(),
                 "ends_at": r.ends_at.to_pydatetime(), "travel_minutes": int(r.travel_minutes)}
                for r in visits.itertuples()])
        if len(dosage):
            conn.execute(insert(roster_dosage), [
                {"roster_id": roster_id, "hotspot_id": r.hotspot_id, "npu": r.npu, "arm": r.arm,
                 "priority": float(r.priority), "patrol_days": int(r.patrol_days),
                 "target_minutes": float(r.target_minutes), "planned_minutes": float(r.planned_minutes),
                 "visits": int(r.visits)} for r in dosage.itertuples()])
        audit.record(conn, issued_by, "roster.issue", "roster", roster_id,
                     {"set_id": set_id, "version": version, "start": parameters["start"],
                      "visits": len(visits), "fingerprint": fingerprint, "reason": reason})
    return {"roster_id": roster_id, "version": version, "set_id": set_id, "issued_by": issued_by[:64],
            "created_at": created_at.isoformat(), "reason": reason, "fingerprint": fingerprint,
            "resources": resources or {}}


def list_rosters(store: Store) -> pd.DataFrame:
    """Every issued roster, newest first."""
    counts = (select(roster_visits.c.roster_id, func.count().label("visits"))
              .group_by(roster_visits.c.roster_id).subquery())
    query = (select(rosters.c.roster_id, rosters.c.set_id, rosters.c.period_start, rosters.c.period_end,
                    rosters.c.version, rosters.c.created_at, rosters.c.issued_by, rosters.c.seed,
                    func.coalesce(counts.c.visits, 0).label("visits"), rosters.c.reason)
             .join(counts, counts.c.roster_id == rosters.c.roster_id, isouter=True)
             .order_by(rosters.c.roster_id.desc()))
    with store.engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(), columns=ROSTER_LIST_COLUMNS)


@dataclass
class StoredRoster:
    """An issued roster as stored: its record, its visits and dosage rows, and its set's places
    (hotspot_id, hotspot_name, centroid_lon, centroid_lat)."""

    issue: dict
    parameters: dict
    summary: dict
    fingerprint: str
    visits: pd.DataFrame
    dosage: pd.DataFrame
    places: pd.DataFrame


def load_roster(store: Store, roster_id: int | None = None) -> StoredRoster:
    """A stored roster by id, or the latest issued."""
    query = select(rosters).order_by(rosters.c.roster_id.desc()).limit(1)
    if roster_id is not None:
        query = select(rosters).where(rosters.c.roster_id == int(roster_id))
    with store.engine.connect() as conn:
        head = conn.execute(query).mappings().first()
        if head is None:
            what = f"roster {roster_id}" if roster_id is not None else "rosters yet"
            raise NotFoundError(f"the store holds no {what}; issue one with 'hotspots patrol plan'")
        places = pd.DataFrame(conn.execute(
            select(set_hotspots.c.hotspot_id, set_hotspots.c.name.label("hotspot_name"), set_hotspots.c.centroid_lon,
                   set_hotspots.c.centroid_lat).where(set_hotspots.c.set_id == head["set_id"])).mappings().all(),
            columns=["hotspot_id", "hotspot_name", "centroid_lon", "centroid_lat"])
        visits = pd.DataFrame(conn.execute(select(roster_visits).where(roster_visits.c.roster_id == head["roster_id"])
                                           .order_by(roster_visits.c.visit_no)).mappings().all(),
                              columns=[c.name for c in roster_visits.columns])
        dosage = pd.DataFrame(conn.execute(select(roster_dosage).where(roster_dosage.c.roster_id == head["roster_id"]))
                              .mappings().all(), columns=[c.name for c in roster_dosage.columns])
    issue = {"roster_id": head["roster_id"], "version": head["version"], "set_id": head["set_id"],
             "issued_by": head["issued_by"], "created_at": head["created_at"].isoformat(),
             "reason": head["reason"], "fingerprint": head["fingerprint"],
             "resources": json.loads(head["resources"])}
    return StoredRoster(issue=issue, parameters=json.loads(head["parameters"]), summary=json.loads(head["summary"]),
                        fingerprint=head["fingerprint"], visits=visits, dosage=dosage, places=places)


def planned_dosage(store: Store, set_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Planned minutes and visits per hotspot over the latest version of each roster of ``set_id``
    that starts in ``[start, end)``: hotspot_id, planned_minutes, visits."""
    latest = (select(rosters.c.period_start, func.max(rosters.c.version).label("version"))
              .where(rosters.c.set_id == set_id, rosters.c.period_start >= start, rosters.c.period_start < end)
              .group_by(rosters.c.period_start).subquery())
    query = (select(roster_dosage.c.hotspot_id, roster_dosage.c.planned_minutes, roster_dosage.c.visits)
             .join(rosters, rosters.c.roster_id == roster_dosage.c.roster_id)
             .join(latest, (latest.c.period_start == rosters.c.period_start) & (latest.c.version == rosters.c.version))
             .where(rosters.c.set_id == set_id))
    with store.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=["hotspot_id", "planned_minutes", "visits"])
    return frame.groupby("hotspot_id", as_index=False).sum()
