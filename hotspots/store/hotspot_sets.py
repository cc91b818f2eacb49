"""Storing hotspot sets (append-only, one version per run and period) and engagement plans."""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, insert, select

from hotspots.errors import NotFoundError
from hotspots.selection import HOTSPOT_COLUMNS, HotspotSet, id_number
from hotspots.store.db import Store
from hotspots.store.schema import engagement_plans, hotspot_sets, set_cells, set_hotspots
from hotspots.validate import check_choice

#: Extra per-hotspot measures a stored set carries beside HOTSPOT_COLUMNS (NaN where unknown).
MEASURE_COLUMNS = ["incidents", "harm", "knife_enabled", "serious_youth_violence", "gi_hot_cells",
                   "emerging_class"]
ENGAGEMENT_STATUSES = ("not started", "drafted", "agreed", "in progress", "under review", "closed")
ENGAGEMENT_COLUMNS = ["hotspot_id", "owner", "stakeholders", "status", "next_review", "notes", "updated_at",
                      "plan_version"]


def save_set(store: Store, hs: HotspotSet, *, period_label: str, period_start: dt.date, period_end: dt.date,
             resolution: int, score_source: str, coverage: pd.DataFrame) -> int:
    """Store a set as the next version of its period, in one transaction; returns its set_id."""
    frame = hs.hotspots.copy()
    for col in MEASURE_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    frame["geofence_wkt"] = shapely.to_wkt(frame.pop("geofence").to_numpy(), rounding_precision=7)
    rows = frame.astype(object).where(frame.notna(), None)
    with store.engine.begin() as conn:
        version = conn.execute(select(func.coalesce(func.max(hotspot_sets.c.version), 0))
                               .where(hotspot_sets.c.period_label == period_label)).scalar() + 1
        set_id = conn.execute(insert(hotspot_sets).values(
            period_label=period_label, period_start=period_start, period_end=period_end, version=version,
            created_at=dt.datetime.now(dt.UTC), resolution=int(resolution), score_source=score_source,
            region_area_m2=hs.region_area_m2, previous_set_id=hs.parameters.get("previous_set"),
            parameters=json.dumps({**hs.parameters, "dropped": hs.dropped}, default=json_default),
            coverage=coverage.to_json(orient="records"),
        )).inserted_primary_key[0]
        if len(rows):
            conn.execute(insert(set_hotspots), [{"set_id": set_id, **r} for r in rows.to_dict("records")])
        if len(hs.members):
            conn.execute(insert(set_cells), [{"set_id": set_id, "hotspot_id": h, "h3_cell": c} for h, c in
                                             zip(hs.members["hotspot_id"], hs.members["h3_cell"], strict=True)])
    hs.parameters["set_id"] = set_id
    return set_id


def json_default(value):
    """numpy scalars as plain numbers in stored JSON; anything else unknown is a bug, not data to guess at."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def list_sets(store: Store) -> pd.DataFrame:
    """Every stored set, newest first: set_id, period, version, created_at, hotspots."""
    counts = (select(set_hotspots.c.set_id, func.count().label("hotspots"))
              .group_by(set_hotspots.c.set_id).subquery())
    query = (select(hotspot_sets.c.set_id, hotspot_sets.c.period_label, hotspot_sets.c.period_start,
                    hotspot_sets.c.period_end, hotspot_sets.c.version, hotspot_sets.c.created_at,
                    hotspot_sets.c.score_source, func.coalesce(counts.c.hotspots, 0).label("hotspots"))
             .join(counts, counts.c.set_id == hotspot_sets.c.set_id, isouter=True)
             .order_by(hotspot_sets.c.period_start.desc(), hotspot_sets.c.version.desc()))
    with store.engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(),
                            columns=["set_id", "period_label", "period_start", "period_end", "version",
                                     "created_at", "score_source", "hotspots"])


def load_set(store: Store, set_id: int | None = None, period_label: str | None = None) -> HotspotSet:
    """A stored set by id, or the latest version for a period, or the latest of all."""
    query = select(hotspot_sets)
    if set_id is not None:
        query = query.where(hotspot_sets.c.set_id == int(set_id))
    elif period_label is not None:
        query = query.where(hotspot_sets.c.period_label == period_label)
    query = query.order_by(hotspot_sets.c.period_start.desc(), hotspot_sets.c.version.desc()).limit(1)
    with store.engine.connect() as conn:
        head = conn.execute(query).mappings().first()
        if head is None:
            what = f"set {set_id}" if set_id is not None else f"period {period_label!r}" if period_label else "any period"
            raise NotFoundError(f"the store holds no hotspot set for {what}; run 'hotspots select' first")
        rows = conn.execute(select(set_hotspots).where(set_hotspots.c.set_id == head["set_id"])
                            .order_by(set_hotspots.c.rank)).mappings().all()
        cells = conn.execute(select(set_cells.c.hotspot_id, set_cells.c.h3_cell)
                             .where(set_cells.c.set_id == head["set_id"])
                             .order_by(set_cells.c.hotspot_id, set_cells.c.h3_cell)).all()
    hotspots = pd.DataFrame(rows, columns=[c.name for c in set_hotspots.columns])
    hotspots["geofence"] = shapely.from_wkt(hotspots["geofence_wkt"].to_numpy(object)) if len(hotspots) else []
    hotspots = hotspots[HOTSPOT_COLUMNS + MEASURE_COLUMNS]
    parameters = json.loads(head["parameters"])
    dropped = parameters.pop("dropped", [])
    parameters.update(set_id=head["set_id"], period_label=head["period_label"], version=head["version"],
                      period_start=head["period_start"], period_end=head["period_end"],
                      resolution=head["resolution"], score_source=head["score_source"],
                      coverage=pd.read_json(io.StringIO(head["coverage"]), orient="records"))
    return HotspotSet(hotspots=hotspots, members=pd.DataFrame(cells, columns=["hotspot_id", "h3_cell"]),
                      region_area_m2=head["region_area_m2"], dropped=dropped, parameters=parameters)


def next_hotspot_number(store: Store) -> int:
    """Number of the next new hotspot id: ids are never reused, across every period."""
    with store.engine.connect() as conn:
        ids = conn.execute(select(set_hotspots.c.hotspot_id).distinct()).scalars().all()
    return max((id_number(i) for i in ids), default=0) + 1


def set_engagement(store: Store, hotspot_id: str, *, owner: str | None = None, stakeholders: str | None = None,
                   status: str | None = None, next_review: dt.date | None = None, notes: str | None = None) -> dict:
    """Record a new version of a hotspot's engagement plan; fields not given keep their last value.

    ``owner`` is a role or team ("Ladywood NPU inspector"), never a person's name: the store
    holds no personal data.
    """
    with store.engine.begin() as conn:
        known = conn.execute(select(set_hotspots.c.hotspot_id).where(set_hotspots.c.hotspot_id == hotspot_id)
                             .limit(1)).scalar()
        if known is None:
            raise NotFoundError(f"hotspot_id={hotspot_id!r} is not in any stored hotspot set; see 'hotspots sets'")
        last = conn.execute(select(engagement_plans).where(engagement_plans.c.hotspot_id == hotspot_id)
                            .order_by(engagement_plans.c.plan_version.desc()).limit(1)).mappings().first()
        base = dict(last) if last else {"owner": "", "stakeholders": "", "status": "not started",
                                        "next_review": None, "notes": ""}
        changes = {"owner": owner, "stakeholders": stakeholders, "status": status, "next_review": next_review,
                   "notes": notes}
        record = {k: (v if v is not None else base[k]) for k, v in changes.items()}
        check_choice(record["status"], ENGAGEMENT_STATUSES, "status")
        record.update(hotspot_id=hotspot_id, updated_at=dt.datetime.now(dt.UTC))
        record["plan_version"] = conn.execute(insert(engagement_plans).values(**record)).inserted_primary_key[0]
    return record


def engagement(store: Store, hotspot_ids=None, history: bool = False) -> pd.DataFrame:
    """Current engagement plan of each hotspot (or every version with ``history``), ENGAGEMENT_COLUMNS."""
    query = select(*[engagement_plans.c[c] for c in ENGAGEMENT_COLUMNS])
    if hotspot_ids is not None:
        query = query.where(engagement_plans.c.hotspot_id.in_(list(hotspot_ids)))
    with store.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query.order_by(engagement_plans.c.plan_version)).mappings().all(),
                             columns=ENGAGEMENT_COLUMNS)
    if not history:
        frame = frame.drop_duplicates("hotspot_id", keep="last")
    return frame.sort_values(["hotspot_id", "plan_version"], ignore_index=True)
