"""Plan and issue a roster for a stored hotspot set: ``issue_roster``.

The CLI (``hotspots patrol plan``) and the API's tasking route both call this, so the risk
profiles, the dosage priority and the trial's control arms are chosen in one place.
"""

from __future__ import annotations

import secrets

import numpy as np
import pandas as pd

from hotspots.errors import HotspotsError
from hotspots.patrol.resources import PatrolResources

def issue_roster(store, spec: PatrolResources, *, set_id: int | None = None, start=None, days: int = 28,
                 seed: int | None = None, priority: str = "harm", cell_scores: pd.Series | None = None,
                 visit_minutes: int = 15, visits_per_day: int = 3, min_gap_minutes: int = 60,
                 floor_minutes: float | None = None, arms: pd.DataFrame | None = None, npu_areas=None,
                 history_days: int = 365, offence_groups: list[str] | None = None, reason: str = "",
                 notes: dict | None = None, actor: str, timezone: str = "Europe/London"):
    """Plan a randomised roster for the set (default: the latest), store it (never changed) and audit it.

    Parameters
    ----------
    spec : NPUs, units, shifts and funded hours.
    start : first day (default: the set's first day); ``days`` long.
    seed : seed of every random choice (default: a fresh one, recorded with the roster).
    priority : dosage in proportion to harm, score (the set's), risk (``cell_scores`` summed per hotspot) or equal.
    cell_scores : score per H3 cell id (text), for ``priority='risk'``.
    arms : hotspot_id, arm[, date] rows; control hotspots (or days) get no visits.
    npu_areas : NamedAreas of NPUs, or None to take NPUs from the resources.
    history_days : days of incidents before ``start`` that the hour-of-week risk profiles learn from.
    notes : extra parameters recorded with the roster.

    Returns
    -------
    (Roster, HotspotSet)
    """
    from hotspots.aggregate import stored_incidents
    from hotspots.patrol import assign_npus, hour_of_week_profiles, patrol_roster, read_arms
    from hotspots.patrol.clock import PeriodClock
    from hotspots.patrol.dosage import PRIORITIES
    from hotspots.store.hotspot_sets import load_set
    from hotspots.store.rosters import save_roster
    from hotspots.validate import check_choice

    check_choice(priority, PRIORITIES, "--priority")
    if priority == "risk" and cell_scores is None:
        raise HotspotsError("--priority risk needs --scores, a CSV of h3_cell,score such as 'hotspots model forecast' writes")
    hs = load_set(store, set_id)
    first = start or hs.parameters["period_start"]
    clock = PeriodClock(first, days, timezone)
    hot = hs.hotspots.copy()
    hot["npu"] = assign_npus(hot, spec, npu_areas)
    weights = priority_weights(hs, priority, cell_scores)
    # With no history in the window every hotspot takes the flat profile.
    until = clock.origin
    incidents = stored_incidents(store, offence_groups, until - pd.Timedelta(days=history_days), until,
                                 allow_empty=True, name="--offence-group")
    profiles, timed = hour_of_week_profiles(incidents, hs.members, hot["hotspot_id"].tolist(), timezone)
    control = read_arms(arms, hot["hotspot_id"].tolist(), clock) if arms is not None else None
    seed = secrets.randbits(48) if seed is None else seed
    roster = patrol_roster(hot, spec, profiles, weights, start=first, days=days, timezone=timezone,
                           crs=store.meta("projected_crs") or "EPSG:27700", seed=seed, visit_minutes=visit_minutes,
                           min_gap_minutes=min_gap_minutes, visits_per_day=visits_per_day,
                           floor_minutes_per_day=floor_minutes, control=control)
    roster.parameters.update(priority=priority, history_days=history_days, profile_incidents=int(timed.sum()),
                             **(notes or {}))
    save_roster(store, roster, set_id=int(hs.parameters["set_id"]), issued_by=actor, reason=reason,
                resources=spec.to_dict())
    return roster, hs


def priority_weights(hs, priority: str, cell_scores: pd.Series | None) -> np.ndarray:
    """Each hotspot's share of the dosage, in the set's order."""
    hot = hs.hotspots
    if priority == "equal":
        return np.ones(len(hot))
    if priority == "score":
        return hot["score"].to_numpy(float)
    if priority == "harm":
        harm = pd.to_numeric(hot["harm"], errors="coerce")
        if harm.isna().all():
            raise HotspotsError(f"set {hs.parameters['set_id']} records no harm per hotspot; use --priority score or risk")
        return harm.fillna(0.0).to_numpy(float)
    per_cell = cell_scores.groupby(level=0).sum()
    summed = hs.members.assign(score=hs.members["h3_cell"].map(per_cell).fillna(0.0)).groupby("hotspot_id")["score"].sum()
    if not summed.any():
        raise HotspotsError("the scores score none of the set's cells; are they at the set's resolution?")
    return summed.reindex(hot["hotspot_id"], fill_value=0.0).to_numpy(float)
