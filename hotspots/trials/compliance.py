"""Were patrols delivered? Planned against delivered minutes and visits, per hotspot.

Planned dosage comes from issued rosters (``roster_dosage``); delivered dosage from GPS visits
(:func:`hotspots.trials.gps.pings_to_visits`). A visit is "of Koper length" when it lasts
``koper_minutes`` (default 10 to 20: Koper (1995) found disorder stayed away longest after
stops of about 15 minutes). Visits to control places are contamination: they dilute the contrast
the trial measures, so they are counted apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COMPLIANCE_COLUMNS = ["hotspot_id", "arm", "planned_minutes", "delivered_minutes", "delivered_share",
                      "planned_visits", "delivered_visits", "koper_share"]


def delivered_by_period(visits: pd.DataFrame, place_ids: list[str], first_day, periods: int,
                        period_days: int) -> np.ndarray:
    """Delivered patrol minutes per place and period, each visit in the period of its local start date.

    Parameters
    ----------
    visits : VISIT_COLUMNS of :mod:`hotspots.trials.gps` (hotspot_id, minutes, date, ...).
    place_ids : the places, in row order.
    first_day : the local date period 0 starts on.
    periods, period_days : how many periods, and their length in days.

    Returns
    -------
    numpy.ndarray
        (n_places, periods) float, minutes.
    """
    out = np.zeros((len(place_ids), periods))
    if visits.empty:
        return out
    index = {p: i for i, p in enumerate(place_ids)}
    day = (pd.to_datetime(visits["date"]).dt.date - first_day).map(lambda d: d.days).to_numpy()
    period = day // period_days
    place = visits["hotspot_id"].map(index)
    ok = place.notna().to_numpy() & (period >= 0) & (period < periods)
    np.add.at(out, (place[ok].astype(int).to_numpy(), period[ok]), visits["minutes"].to_numpy(float)[ok])
    return out


#: A visit of Koper length lasts this many minutes (see the module docstring).
KOPER_MINUTES = (10.0, 20.0)


def compliance(visits: pd.DataFrame, arms: pd.DataFrame, planned: pd.DataFrame | None = None,
               koper_minutes: tuple[float, float] = KOPER_MINUTES) -> tuple[pd.DataFrame, dict]:
    """Per hotspot (COMPLIANCE_COLUMNS) and overall: delivery against plan, Koper share, contamination.

    arms : hotspot_id and arm (treatment, control, or crossover).
    planned : hotspot_id, planned_minutes, visits (summed over the rosters of the trial), or None.
    """
    low, high = koper_minutes
    table = arms[["hotspot_id", "arm"]].drop_duplicates("hotspot_id").copy()
    got = visits.assign(koper=visits["minutes"].between(low, high)).groupby("hotspot_id").agg(
        delivered_minutes=("minutes", "sum"), delivered_visits=("minutes", "size"), koper=("koper", "sum"))
    table = table.merge(got, left_on="hotspot_id", right_index=True, how="left")
    if planned is not None and len(planned):
        plan = planned.groupby("hotspot_id").agg(planned_minutes=("planned_minutes", "sum"),
                                                 planned_visits=("visits", "sum"))
        table = table.merge(plan, left_on="hotspot_id", right_index=True, how="left")
    else:
        table["planned_minutes"] = np.nan
        table["planned_visits"] = np.nan
    table[["delivered_minutes", "delivered_visits", "koper"]] = table[
        ["delivered_minutes", "delivered_visits", "koper"]].fillna(0)
    table["delivered_share"] = np.where(table["planned_minutes"] > 0,
                                        table["delivered_minutes"] / table["planned_minutes"], np.nan)
    table["koper_share"] = np.where(table["delivered_visits"] > 0, table["koper"] / table["delivered_visits"], np.nan)
    patrolled = table["arm"] != "control"
    control = table[~patrolled]
    summary = {
        "planned_minutes": float(table.loc[patrolled, "planned_minutes"].sum(min_count=1))
        if table["planned_minutes"].notna().any() else None,
        "delivered_minutes_patrolled": float(table.loc[patrolled, "delivered_minutes"].sum()),
        "delivered_visits_patrolled": int(table.loc[patrolled, "delivered_visits"].sum()),
        "koper_share": float(table.loc[patrolled, "koper"].sum() / max(table.loc[patrolled, "delivered_visits"].sum(), 1)),
        "control_visits": int(control["delivered_visits"].sum()),
        "control_minutes": float(control["delivered_minutes"].sum()),
        "koper_minutes": [low, high],
    }
    if summary["planned_minutes"]:
        summary["delivered_share"] = summary["delivered_minutes_patrolled"] / summary["planned_minutes"]
    return table[COMPLIANCE_COLUMNS].reset_index(drop=True), summary
