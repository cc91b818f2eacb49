"""Storing hotspot sets (append-only, one version per run and period, with the scores they were chosen
from) and engagement plans."""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, insert, select

from hotspots.core.errors import NotFoundError
from hotspots.core.validate import check_choice
from hotspots.store.db import Store
from hotspots.store.schema import (
    engagement_activities,
    engagement_plans,
    hotspot_sets,
    set_cells,
    set_hotspots,
    set_scores,
)

#: Extra per-hotspot measures a stored set carries beside HOTSPOT_COLUMNS (NaN where unknown).
MEASURE_COLUMNS = ["incidents", "harm", "knife_enabled", "serious_youth_violence", "gi_hot_cells",
                   "emerging_class"]
ENGAGEMENT_STATUSES = ("not started", "drafted", "agreed", "in progress", "under review", "closed")
#: What may be done to engage a hotspot's community; each is logged as it happens.
ACTIVITY_KINDS = ("meeting", "survey", "knife sweep", "youth provision", "update given")
ACTIVITY_COLUMNS = ["activity_id", "hotspot_id", "kind", "happened_on", "note", "recorded_by", "recorded_at"]
ENGAGEMENT_COLUMNS = ["hotspot_id", "owner", "owner_role", "stakeholders", "status", "next_review", "notes", "updated_at",
                      "plan_version"]


@dataclass
class StoredSet:
    """A hotspot set as stored: the fields of :class:`hotspots.places.selection.HotspotSet`.

    hotspots : one row per hotspot in rank order, the ``set_hotspots`` columns (less set_id) with
        ``geofence`` as shapely polygons in WGS84.
    members : hotspot_id and h3_cell, one row per cell.
    parameters : the choices recorded with the set, plus set_id, period_label, version, period_start,
        period_end, resolution, score_source and coverage (a frame) from its record.
    """

    hotspots: pd.DataFrame
    members: pd.DataFrame
    region_area_m2: float
    dropped: list[str]
    parameters: dict


def save_set(store: Store, hotspots: pd.DataFrame, members: pd.DataFrame, *, region_area_m2: float,
             dropped: list[str], parameters: dict, period_label: str, period_start: dt.date, period_end: dt.date,
             resolution: int, score_source: str, coverage: pd.DataFrame, scores: pd.Series | None = None) -> int:
    """Store a set as the next version of its period, in one transaction.

    Parameters
    ----------
    hotspots : one row per hotspot, the ``set_hotspots`` columns with ``geofence`` (shapely, WGS84);
        MEASURE_COLUMNS not given are stored as unknown.
    members : hotspot_id and h3_cell, one row per cell.
    region_area_m2 : area of the region the set's budget was a share of, in m².
    dropped : ids of the previous set's hotspots that this one leaves out.
    parameters : the choices that made the set (JSON-serialisable; numpy scalars allowed).
    period_label, period_start, period_end : the period the set is for (end inclusive).
    resolution : H3 resolution of the cells.
    score_source : what scored the cells, in words.
    coverage : the coverage table of the last complete period.
    scores : score per H3 cell (text ids) that the set was chosen from; cells scoring 0 are not kept.

    Returns
    -------
    int
        The set id.
    """
    frame = hotspots.copy()
    for col in MEASURE_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    frame["geofence_wkt"] = shapely.to_wkt(frame.pop("geofence").to_numpy(), rounding_precision=7)
    rows = frame.astype(object).where(frame.notna(), None)
    scored = pd.Series(dtype=float) if scores is None else scores.groupby(level=0).sum()
    scored = scored[scored > 0]
    with store.engine.begin() as conn:
        version = conn.execute(select(func.coalesce(func.max(hotspot_sets.c.version), 0))
                               .where(hotspot_sets.c.period_label == period_label)).scalar() + 1
        set_id = conn.execute(insert(hotspot_sets).values(
            period_label=period_label, period_start=period_start, period_end=period_end, version=version,
            created_at=dt.datetime.now(dt.UTC), resolution=int(resolution), score_source=score_source,
            region_area_m2=region_area_m2, previous_set_id=parameters.get("previous_set"),
            parameters=json.dumps({**parameters, "dropped": dropped}, default=json_default),
            coverage=coverage.to_json(orient="records"),
        )).inserted_primary_key[0]
        if len(rows):
            conn.execute(insert(set_hotspots), [{"set_id": set_id, **r} for r in rows.to_dict("records")])
        if len(members):
            conn.execute(insert(set_cells), [{"set_id": set_id, "hotspot_id": h, "h3_cell": c} for h, c in
                                             zip(members["hotspot_id"], members["h3_cell"], strict=True)])
        if len(scored):
            conn.execute(insert(set_scores), [{"set_id": set_id, "h3_cell": str(c), "score": float(v)}
                                              for c, v in scored.items()])
    return set_id


def set_scores_of(store: Store, set_id: int) -> pd.Series:
    """The score per H3 cell (text id) a stored set was chosen from; empty for a set stored without them."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(set_scores.c.h3_cell, set_scores.c.score)
                            .where(set_scores.c.set_id == int(set_id))).all()
    return pd.Series([r[1] for r in rows], index=pd.Index([r[0] for r in rows], name="h3_cell"), dtype=float,
                     name="score")


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


def newest_per_period(store: Store) -> pd.DataFrame:
    """The newest version of each period's set (list_sets columns), oldest period first."""
    sets = list_sets(store)  # newest version first within a period
    return sets.drop_duplicates("period_label", keep="first").sort_values("period_start", ignore_index=True)


def load_set(store: Store, set_id: int | None = None, period_label: str | None = None) -> StoredSet:
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
    hotspots = hotspots.drop(columns=["set_id", "geofence_wkt"])
    parameters = json.loads(head["parameters"])
    dropped = parameters.pop("dropped", [])
    parameters.update(set_id=head["set_id"], period_label=head["period_label"], version=head["version"],
                      period_start=head["period_start"], period_end=head["period_end"],
                      resolution=head["resolution"], score_source=head["score_source"],
                      coverage=pd.read_json(io.StringIO(head["coverage"]), orient="records"))
    return StoredSet(hotspots=hotspots, members=pd.DataFrame(cells, columns=["hotspot_id", "h3_cell"]),
                      region_area_m2=head["region_area_m2"], dropped=dropped, parameters=parameters)


def set_members(store: Store, set_ids: list[int]) -> pd.DataFrame:
    """The cells of several stored sets in one read (no geofences parsed): set_id, hotspot_id, h3_cell."""
    query = (select(set_cells.c.set_id, set_cells.c.hotspot_id, set_cells.c.h3_cell)
             .where(set_cells.c.set_id.in_([int(s) for s in set_ids])))
    with store.engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=["set_id", "hotspot_id", "h3_cell"])


def hotspot_ids(store: Store, set_ids: list[int] | None = None) -> list[str]:
    """Every hotspot id the sets ``set_ids`` (default: every stored set) have used."""
    query = select(set_hotspots.c.hotspot_id).distinct()
    if set_ids is not None:
        query = query.where(set_hotspots.c.set_id.in_(set_ids))
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars().all())


def hotspot_areas(store: Store, hotspot_id: str) -> list[str]:
    """The NPUs (area names) a hotspot id has had in any stored set; empty for an unknown id."""
    with store.engine.connect() as conn:
        return sorted({a for a in conn.execute(select(set_hotspots.c.area_name)
                                               .where(set_hotspots.c.hotspot_id == hotspot_id)).scalars() if a})


def known_area_names(store: Store) -> set[str]:
    """Every NPU (area) name a stored set knows: those its selection counted in, and its hotspots' own."""
    with store.engine.connect() as conn:
        names = {a for a in conn.execute(select(set_hotspots.c.area_name).distinct()).scalars() if a}
        for text in conn.execute(select(hotspot_sets.c.parameters)).scalars():
            names.update(json.loads(text).get("areas") or [])
    return names


def hotspots_in_areas(store: Store, area_names) -> set[str]:
    """Ids of the hotspots that any stored set placed in one of ``area_names`` (NPUs)."""
    with store.engine.connect() as conn:
        return set(conn.execute(select(set_hotspots.c.hotspot_id).distinct()
                                .where(set_hotspots.c.area_name.in_(list(area_names)))).scalars())


def set_engagement(store: Store, hotspot_id: str, *, owner: str | None = None, owner_role: str | None = None,
                   stakeholders: str | None = None, status: str | None = None, next_review: dt.date | None = None,
                   notes: str | None = None) -> dict:
    """Record a new version of a hotspot's engagement plan; fields not given keep their last value.

    Parameters
    ----------
    store : the store.
    hotspot_id : a hotspot of any stored set (ids persist across periods).
    owner : a role or team ("Ladywood NPU inspector"), never a person's name: the store holds no
        personal data.
    owner_role : the rank or role answerable for the plan ("NPU inspector").
    stakeholders : partners engaged (schools, youth services, ...).
    status : one of ENGAGEMENT_STATUSES.
    next_review : the day the plan is next reviewed.
    notes : free text, kept with the version.

    Returns
    -------
    dict
        The new version of the plan.
    """
    with store.engine.begin() as conn:
        _check_known(conn, hotspot_id)
        last = conn.execute(select(engagement_plans).where(engagement_plans.c.hotspot_id == hotspot_id)
                            .order_by(engagement_plans.c.plan_version.desc()).limit(1)).mappings().first()
        base = dict(last) if last else {"owner": "", "owner_role": "", "stakeholders": "", "status": "not started",
                                        "next_review": None, "notes": ""}
        changes = {"owner": owner, "owner_role": owner_role, "stakeholders": stakeholders, "status": status, "next_review": next_review,
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


def _check_known(conn, hotspot_id: str) -> None:
    known = conn.execute(select(set_hotspots.c.hotspot_id).where(set_hotspots.c.hotspot_id == hotspot_id)
                         .limit(1)).scalar()
    if known is None:
        raise NotFoundError(f"hotspot_id={hotspot_id!r} is not in any stored hotspot set; see 'hotspots sets'")


def add_activity(store: Store, hotspot_id: str, *, kind: str, happened_on: dt.date, note: str = "",
                 recorded_by: str) -> dict:
    """Log one engagement activity of a hotspot; rows are never changed.

    Parameters
    ----------
    store : the store.
    hotspot_id : a hotspot of any stored set.
    kind : one of ACTIVITY_KINDS.
    happened_on : the day it happened.
    note : free text, no personal data.
    recorded_by : who logged it.

    Returns
    -------
    dict
        The stored row, with its activity_id.
    """
    check_choice(kind, ACTIVITY_KINDS, "kind")
    with store.engine.begin() as conn:
        _check_known(conn, hotspot_id)
        row = {"hotspot_id": hotspot_id, "kind": kind, "happened_on": happened_on, "note": note,
               "recorded_by": recorded_by, "recorded_at": dt.datetime.now(dt.UTC)}
        row["activity_id"] = conn.execute(insert(engagement_activities).values(**row)).inserted_primary_key[0]
    return row


def activities(store: Store, hotspot_ids=None) -> pd.DataFrame:
    """Logged engagement activities (of some hotspots, or all), oldest first, ACTIVITY_COLUMNS."""
    query = select(*[engagement_activities.c[c] for c in ACTIVITY_COLUMNS])
    if hotspot_ids is not None:
        query = query.where(engagement_activities.c.hotspot_id.in_(list(hotspot_ids)))
    with store.engine.connect() as conn:
        rows = conn.execute(query.order_by(engagement_activities.c.happened_on,
                                           engagement_activities.c.activity_id)).mappings().all()
    return pd.DataFrame(rows, columns=ACTIVITY_COLUMNS)


def first_designated(store: Store, hotspot_ids=None) -> pd.Series:
    """The first day of the first stored set that held each hotspot (its designation), by hotspot_id."""
    query = (select(set_hotspots.c.hotspot_id, func.min(hotspot_sets.c.period_start).label("designated"))
             .join(hotspot_sets, hotspot_sets.c.set_id == set_hotspots.c.set_id).group_by(set_hotspots.c.hotspot_id))
    if hotspot_ids is not None:
        query = query.where(set_hotspots.c.hotspot_id.in_(list(hotspot_ids)))
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.Series({r[0]: r[1] for r in rows}, dtype=object, name="designated")
