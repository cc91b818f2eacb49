"""Storing issued rosters: one version per set and start day, written whole, never changed."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
from sqlalchemy import func, insert, select

from hotspots.errors import HotspotsError, NotFoundError
from hotspots.patrol.roster import DOSAGE_COLUMNS, VISIT_COLUMNS, Roster, with_shortfall
from hotspots.store import audit
from hotspots.store.db import Store
from hotspots.store.hotspot_sets import json_default
from hotspots.store.schema import hotspot_sets, roster_dosage, roster_visits, rosters, set_hotspots

ROSTER_LIST_COLUMNS = ["roster_id", "set_id", "period_start", "period_end", "version", "created_at", "issued_by",
                       "seed", "visits", "reason"]


def save_roster(store: Store, roster: Roster, *, set_id: int, issued_by: str, reason: str = "",
                resources: dict | None = None) -> int:
    """Issue ``roster`` as the next version for its set and start day, in one transaction; returns its id.

    The issue is audited in the same transaction. ``roster.issue`` records the roster id, version,
    set id, who issued it, when and why.
    """
    start = dt.date.fromisoformat(roster.parameters["start"])
    summary = {"units": roster.units.to_dict("records"), "npus": roster.npus.to_dict("records"),
               "warnings": roster.warnings}
    fingerprint = roster.fingerprint
    created_at = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        if conn.execute(select(hotspot_sets.c.set_id).where(hotspot_sets.c.set_id == set_id)).scalar() is None:
            raise HotspotsError(f"--set={set_id!r}: the store holds no such hotspot set; see 'hotspots sets'")
        version = conn.execute(select(func.coalesce(func.max(rosters.c.version), 0))
                               .where(rosters.c.set_id == set_id, rosters.c.period_start == start)).scalar() + 1
        roster_id = conn.execute(insert(rosters).values(
            set_id=set_id, period_start=start, period_end=dt.date.fromisoformat(roster.parameters["end"]),
            version=version, created_at=created_at, issued_by=issued_by[:64], reason=reason,
            seed=int(roster.parameters["seed"]), fingerprint=fingerprint,
            parameters=json.dumps(roster.parameters, sort_keys=True), resources=json.dumps(resources or {}),
            summary=json.dumps(summary, default=json_default),
        )).inserted_primary_key[0]
        v = roster.visits
        if len(v):
            conn.execute(insert(roster_visits), [
                {"roster_id": roster_id, "visit_no": int(r.visit_no), "unit": r.unit, "npu": r.npu, "mode": r.mode,
                 "hotspot_id": r.hotspot_id, "starts_at": r.starts_at.to_pydatetime(),
                 "ends_at": r.ends_at.to_pydatetime(), "travel_minutes": int(r.travel_minutes)}
                for r in v.itertuples()])
        d = roster.dosage
        if len(d):
            conn.execute(insert(roster_dosage), [
                {"roster_id": roster_id, "hotspot_id": r.hotspot_id, "npu": r.npu, "arm": r.arm,
                 "priority": float(r.priority), "patrol_days": int(r.patrol_days),
                 "target_minutes": float(r.target_minutes), "planned_minutes": float(r.planned_minutes),
                 "visits": int(r.visits)} for r in d.itertuples()])
        audit.record(conn, issued_by, "roster.issue", "roster", roster_id,
                     {"set_id": set_id, "version": version, "start": roster.parameters["start"],
                      "visits": len(v), "fingerprint": fingerprint, "reason": reason})
    roster.issue = {"roster_id": roster_id, "version": version, "set_id": set_id, "issued_by": issued_by[:64],
                    "created_at": created_at.isoformat(), "reason": reason, "fingerprint": fingerprint,
                    "resources": resources or {}}
    return roster_id


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


def load_roster(store: Store, roster_id: int | None = None) -> Roster:
    """A stored roster by id, or the latest issued; visits carry their hotspots' names and centroids."""
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
    parameters = json.loads(head["parameters"])
    visits = _visits_with_places(visits, places, parameters)
    dosage = dosage.merge(places[["hotspot_id", "hotspot_name"]], on="hotspot_id", how="left")
    dosage = with_shortfall(dosage)
    order = {h: i for i, h in enumerate(places["hotspot_id"])}
    dosage = dosage.sort_values("hotspot_id", key=lambda s: s.map(order), ignore_index=True)
    summary = json.loads(head["summary"])
    roster = Roster(visits=visits, dosage=dosage[DOSAGE_COLUMNS], units=pd.DataFrame(summary["units"]),
                    npus=pd.DataFrame(summary["npus"]), parameters=parameters, warnings=summary["warnings"])
    if roster.fingerprint != head["fingerprint"]:
        raise HotspotsError(f"roster {head['roster_id']} does not match its fingerprint: the store was altered "
                            "outside hotspots; do not issue it, reissue from the plan")
    roster.issue = {"roster_id": head["roster_id"], "version": head["version"], "set_id": head["set_id"],
                    "issued_by": head["issued_by"], "created_at": head["created_at"].isoformat(),
                    "reason": head["reason"], "fingerprint": head["fingerprint"],
                    "resources": json.loads(head["resources"])}
    return roster


def _visits_with_places(visits: pd.DataFrame, places: pd.DataFrame, parameters: dict) -> pd.DataFrame:
    tz = parameters["timezone"]
    frame = visits.merge(places, on="hotspot_id", how="left")
    starts = pd.DatetimeIndex(pd.to_datetime(frame["starts_at"], utc=True))
    ends = pd.DatetimeIndex(pd.to_datetime(frame["ends_at"], utc=True))
    frame["starts_at"], frame["ends_at"] = starts, ends
    frame["date"] = starts.tz_convert(tz).strftime("%Y-%m-%d")
    frame["start"] = starts.tz_convert(tz).strftime("%H:%M")
    frame["end"] = ends.tz_convert(tz).strftime("%H:%M")
    frame["visit_minutes"] = int(parameters["visit_minutes"])
    frame["centroid_lon"] = frame["centroid_lon"].round(6)
    frame["centroid_lat"] = frame["centroid_lat"].round(6)
    return frame[VISIT_COLUMNS]


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
