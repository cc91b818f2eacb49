"""Engagement kept: activities logged against each hotspot, and the flags a commander must act on
(no agreed plan after the grace days, a review overdue) for the map, the API and the weekly output."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from hotspots.core.config import get_settings
from hotspots.places.engagement import engagement_flags
from hotspots.services.access import check_may_change_plan
from hotspots.store import hotspot_sets as stored_sets
from hotspots.store.audit import record
from hotspots.store.db import Store


def local_today() -> dt.date:
    """Today in the force's time zone."""
    return pd.Timestamp.now(tz=get_settings().timezone).date()


def hotspot_flags(store: Store, hotspot_ids=None, *, today: dt.date | None = None,
                  grace_days: int | None = None, npus: tuple[str, ...] = ()) -> pd.DataFrame:
    """The engagement flag of each designated hotspot (of ``hotspot_ids``, or every one ever designated;
    for a reader limited to ``npus``, only theirs).

    Parameters
    ----------
    store : the store.
    hotspot_ids : hotspots to judge; None for every one ever designated.
    today : the local day judged on (default: today in the force's time zone).
    grace_days : days a new hotspot has to get an agreed plan (default: the setting).
    npus : the reader's NPUs, when limited.

    Returns
    -------
    pandas.DataFrame
        :data:`hotspots.places.engagement.FLAG_COLUMNS`, one row per hotspot.
    """
    if npus:
        allowed = stored_sets.hotspots_in_areas(store, npus)
        hotspot_ids = sorted(allowed if hotspot_ids is None else set(hotspot_ids) & allowed)
    return _judged(store, hotspot_ids, today, grace_days)[0]


def _judged(store: Store, hotspot_ids, today: dt.date | None, grace_days: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The flags of ``hotspot_ids`` (None: every designated hotspot) and the current plans they were judged on."""
    designated = stored_sets.first_designated(store, hotspot_ids)
    plans = stored_sets.engagement(store, list(designated.index))
    flags = engagement_flags(designated, plans, today=today or local_today(),
                             grace_days=get_settings().engagement_grace_days if grace_days is None else grace_days)
    return flags, plans


def plans_with_flags(store: Store, hotspot_ids, *, today: dt.date | None = None) -> pd.DataFrame:
    """Current plans of ``hotspot_ids`` with each hotspot's flag; a hotspot with no plan has a row too
    (status "none recorded"), so its flag reaches the map."""
    flags, plans = _judged(store, list(hotspot_ids), today, None)
    merged = flags[["hotspot_id", "flag"]].merge(plans, on="hotspot_id", how="left")
    merged["status"] = merged["status"].fillna("none recorded")
    return merged


def visible_activities(store: Store, hotspot_id: str, npus: tuple[str, ...] = ()) -> pd.DataFrame:
    """A hotspot's logged activities, oldest first; none for a reader whose NPUs do not hold it."""
    if npus and hotspot_id not in stored_sets.hotspots_in_areas(store, npus):
        return stored_sets.activities(store, [])
    return stored_sets.activities(store, [hotspot_id])


def log_activity(store: Store, hotspot_id: str, *, kind: str, happened_on: dt.date, note: str = "", actor: str,
                 npus: tuple[str, ...] = ()) -> dict:
    """Log an engagement activity (meeting, survey, knife sweep, youth provision, update given), audited
    as ``actor``; a commander limited to NPUs may log only their own hotspots'.

    Parameters
    ----------
    store : the store.
    hotspot_id : a hotspot of any stored set.
    kind : one of :data:`hotspots.store.hotspot_sets.ACTIVITY_KINDS`.
    happened_on : the local day it happened.
    note : free text, no personal data.
    actor : who logs it, for the audit log.
    npus : the reader's NPUs, when limited.

    Returns
    -------
    dict
        The logged row, with its activity_id.
    """
    check_may_change_plan(store, hotspot_id, npus)
    row = stored_sets.add_activity(store, hotspot_id, kind=kind, happened_on=happened_on, note=note, recorded_by=actor)
    with store.engine.begin() as conn:
        record(conn, actor, "engagement.activity", "hotspot", hotspot_id,
               {"activity_id": row["activity_id"], "kind": kind, "happened_on": happened_on.isoformat()})
    return row
