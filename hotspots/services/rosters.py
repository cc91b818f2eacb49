"""The tasking board's job: plan and issue a randomised roster for a stored hotspot set, and read
issued rosters back (checked against their fingerprints).

The CLI (``hotspots patrol plan``) and the API's tasking route both call ``issue_roster``, so the
risk profiles, the dosage priority and the trial's control arms are chosen in one place.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from hotspots.core.errors import IntegrityError, NotReadyError, ValidationError
from hotspots.core.validate import check_choice
from hotspots.patrol import assign_npus, hour_of_week_profiles, patrol_roster, read_arms
from hotspots.patrol.clock import PeriodClock
from hotspots.patrol.dosage import PRIORITIES
from hotspots.patrol.exports import roster_stem, write_ics, write_json
from hotspots.patrol.exports import write_csv as write_roster_csv
from hotspots.patrol.resources import PatrolResources
from hotspots.patrol.roster import DOSAGE_COLUMNS, VISIT_COLUMNS, Roster, with_shortfall
from hotspots.places.selection import HotspotSet
from hotspots.services.ingest import stored_incidents
from hotspots.services.weekly import load_set
from hotspots.store import rosters as stored_rosters
from hotspots.store.audit import record
from hotspots.store.incidents import projected_crs
from maps.briefing import write_briefings


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
    check_choice(priority, PRIORITIES, "priority")
    if priority == "risk" and cell_scores is None:
        raise ValidationError("priority risk needs cell_scores, a CSV of h3_cell,score such as 'hotspots model forecast' "
                              "writes", arguments=("priority", "cell_scores"))
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
                           crs=projected_crs(store), seed=seed, visit_minutes=visit_minutes,
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
            raise ValidationError(f"set {hs.parameters['set_id']} records no harm per hotspot; use priority score or risk",
                                  arguments="priority")
        return harm.fillna(0.0).to_numpy(float)
    per_cell = cell_scores.groupby(level=0).sum()
    summed = hs.members.assign(score=hs.members["h3_cell"].map(per_cell).fillna(0.0)).groupby("hotspot_id")["score"].sum()
    if not summed.any():
        raise ValidationError("the scores score none of the set's cells; are they at the set's resolution?")
    return summed.reindex(hot["hotspot_id"], fill_value=0.0).to_numpy(float)


def save_roster(store, roster: Roster, *, set_id: int, issued_by: str, reason: str = "",
                resources: dict | None = None) -> int:
    """Issue ``roster`` as the next version for its set and start day (one transaction, audited).

    Parameters
    ----------
    store : where the roster is issued.
    roster : the planned roster; ``roster.issue`` is filled in.
    set_id : the hotspot set it patrols.
    issued_by : who issues it (a role or token name, never a person).
    reason : why a new version replaces an earlier one.
    resources : the resources document it was planned on, kept with it.

    Returns
    -------
    int
        The roster id.
    """
    summary = {"units": roster.units.to_dict("records"), "npus": roster.npus.to_dict("records"),
               "warnings": roster.warnings}
    roster.issue = stored_rosters.save_roster(
        store, set_id=set_id, issued_by=issued_by, reason=reason, resources=resources or {},
        parameters=roster.parameters, fingerprint=roster.fingerprint, summary=summary, visits=roster.visits,
        dosage=roster.dosage)
    return roster.issue["roster_id"]


def load_roster(store, roster_id: int | None = None) -> Roster:
    """A stored roster by id, or the latest issued; visits carry their hotspots' names and centroids.
    A roster that no longer matches its fingerprint is refused."""
    got = stored_rosters.load_roster(store, roster_id)
    visits = _visits_with_places(got.visits, got.places, got.parameters)
    dosage = got.dosage.merge(got.places[["hotspot_id", "hotspot_name"]], on="hotspot_id", how="left")
    dosage = with_shortfall(dosage)
    order = {h: i for i, h in enumerate(got.places["hotspot_id"])}
    dosage = dosage.sort_values("hotspot_id", key=lambda s: s.map(order), ignore_index=True)
    roster = Roster(visits=visits, dosage=dosage[DOSAGE_COLUMNS], units=pd.DataFrame(got.summary["units"]),
                    npus=pd.DataFrame(got.summary["npus"]), parameters=got.parameters,
                    warnings=got.summary["warnings"])
    if roster.fingerprint != got.fingerprint:
        raise IntegrityError(f"roster {got.issue['roster_id']} does not match its fingerprint: the store was altered "
                            "outside hotspots; do not issue it, reissue from the plan")
    roster.issue = got.issue
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


def export_roster(store, roster: Roster, hs: HotspotSet, out_dir: str | Path, formats: list[str],
                  actor: str) -> list[Path]:
    """Write an issued roster's files, after its audit event is committed: no event, no file.

    Parameters
    ----------
    store : where the event is recorded.
    roster : the issued roster (its fingerprint already checked by :func:`load_roster`).
    hs : its hotspot set, for the geofences on the briefings.
    out_dir : the folder written to.
    formats : any of csv, ics, html, json.
    actor : who exports it (``cli:`` and the account).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    NotReadyError
        When the event cannot be recorded (the store is locked or unreachable); nothing is written.
    """
    out_dir = Path(out_dir)
    roster_id = roster.issue["roster_id"]
    try:
        with store.engine.begin() as conn:
            record(conn, actor, "roster.export", "roster", roster_id,
                   {"formats": formats, "folder": str(out_dir.resolve())})
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise NotReadyError(f"roster {roster_id}: the export could not be recorded in the audit log ({reason}); "
                            "nothing was written, try again") from None
    stem = roster_stem(roster)
    written: list[Path] = []
    if "csv" in formats:
        written.append(write_roster_csv(roster, out_dir / f"{stem}.csv"))
    if "ics" in formats:
        written += write_ics(roster, out_dir / "calendars")
    if "html" in formats:
        geofences = dict(zip(hs.hotspots["hotspot_id"], hs.hotspots["geofence"], strict=True))
        written += write_briefings(roster, geofences, out_dir / "briefings")
    if "json" in formats:
        written.append(write_json(roster, out_dir / f"{stem}.json"))
    return written
