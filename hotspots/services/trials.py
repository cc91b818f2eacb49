"""The evaluator's job: randomise and register allocations, load GPS patrol logs, measure dosage
against plan, and evaluate a registered trial on the stored incidents.

The CLI (``hotspots trial ...``) and the API's evaluator routes both call these, so the draw, the
trial window, the GPS visits and the incidents counted are chosen in one place.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.errors import IntegrityError, NotReadyError, ValidationError
from hotspots.core.validate import check_choice
from hotspots.ingest.files import file_sha256
from hotspots.services.detection import detected_groups
from hotspots.services.ingest import stored_incidents
from hotspots.services.weekly import load_set
from hotspots.store import trials as stored_trials
from hotspots.store.audit import record
from hotspots.store.rosters import planned_dosage
from hotspots.store.trials import last_ping, read_pings
from hotspots.trials.allocation import PLACE_COLUMNS, Allocation, allocate, places_from_set
from hotspots.trials.compliance import compliance
from hotspots.trials.detection import detection_effect
from hotspots.trials.evaluate import evaluate_trial
from hotspots.trials.gps import pings_to_visits, read_gps_log


def save_allocation(store, alloc: Allocation, *, trial: str, set_id: int, created_by: str, reason: str = "") -> int:
    """Register ``alloc`` as the next version of ``trial`` (audited in the same transaction).

    Parameters
    ----------
    store : where the allocation is registered.
    alloc : the randomised allocation; its ``issue`` record is filled in.
    trial : the trial's name. set_id : the hotspot set whose places were allocated.
    created_by : who registers it (a role or token name). reason : needed for a second version.

    Returns
    -------
    int
        The allocation id.
    """
    alloc.issue = stored_trials.save_allocation(
        store, trial=trial, set_id=set_id, created_by=created_by, reason=reason, design=alloc.design, seed=alloc.seed,
        start=alloc.start, fingerprint=alloc.fingerprint, parameters=alloc.parameters, places=alloc.places,
        treated=alloc.treated)
    return alloc.issue["allocation_id"]


def load_allocation(store, allocation_id: int | None = None) -> Allocation:
    """A registered allocation by id, or the latest; refused if it no longer matches its fingerprint."""
    got = stored_trials.load_allocation(store, allocation_id)
    places = got.places.reindex(columns=PLACE_COLUMNS)
    places["place_id"] = places["place_id"].astype(str)
    places["npu"] = places["npu"].fillna("").astype(str)
    alloc = Allocation(places=places, treated=got.treated, design=got.design, seed=got.seed,
                       parameters=got.parameters)
    if alloc.fingerprint != got.fingerprint:
        raise IntegrityError(f"allocation {got.issue['allocation_id']} does not match its fingerprint: the store was "
                            "altered outside hotspots; do not evaluate against it")
    alloc.issue = got.issue
    return alloc


def register_allocation(store, *, trial: str, set_id: int | None, design: str, seed: int | None, share: float,
                        strata: tuple[str, ...], bands: int, risk: str, start: dt.date | None, periods: int,
                        period_days: int, created_by: str, reason: str = "") -> tuple[Allocation, int]:
    """Randomise a stored set's places to patrol and control and register the allocation (never changed).

    Parameters
    ----------
    trial : the trial's name; a new allocation under a registered name is a new version and needs ``reason``.
    set_id : the hotspot set whose places are allocated (None: the latest).
    design : simple, blocked, pair or crossover.
    seed : seed of the draw (None: a fresh one, recorded).
    share : share of places patrolled (or starting patrolled, for crossover), 0 to 1.
    strata, bands : blocking variables (npu, risk_band) and the number of risk bands.
    risk : the set's measure that ranks places for bands and pairs: harm, score or incidents.
    start : first day of the trial (None: the set's first day).
    periods, period_days : crossover periods and their length in days.

    Returns
    -------
    (Allocation, int)
        The registered allocation (``issue`` filled in) and its set_id.
    """
    hs = load_set(store, set_id)
    seed = secrets.randbits(48) if seed is None else seed
    alloc = allocate(places_from_set(hs, risk), design, seed=seed, share=share, strata=strata, bands=bands,
                     start=start or hs.parameters["period_start"], periods=periods, period_days=period_days)
    alloc.parameters.update(risk=risk)
    set_id = int(hs.parameters["set_id"])
    save_allocation(store, alloc, trial=trial, set_id=set_id, created_by=created_by, reason=reason)
    return alloc, set_id


def load_gps_log(store, path: str | Path, *, loaded_by: str, timezone: str = "Europe/London") -> dict:
    """Store one GPS log's pings and rejected rows in one transaction; a file loaded before adds nothing."""
    path = Path(path)
    sha = file_sha256(path)
    earlier = stored_trials.gps_batch_of(store, sha)
    if earlier is not None:
        return {"file": str(path), "batch_id": earlier, "already_loaded": True, "read": 0, "loaded": 0,
                "already_stored": 0, "rejected": 0}
    pings, rejects = read_gps_log(path, timezone)
    counts = stored_trials.save_gps_log(store, source_file=str(path), sha256=sha, pings=pings, rejects=rejects,
                                        loaded_by=loaded_by)
    return {"file": str(path), "already_loaded": False, **counts, "rejects": rejects}


@dataclass
class TrialVisits:
    """A trial's window and what was delivered and planned in it."""

    alloc: Allocation
    members: pd.DataFrame  #: the set's hotspot cells (hotspot_id, h3_cell)
    set_id: int
    weeks: int | None  #: weeks measured (None for crossover designs: their own periods)
    end: dt.date  #: first day after the window
    visits: pd.DataFrame  #: GPS visits to the set's hotspots (see trials.gps.pings_to_visits)
    planned: pd.DataFrame  #: planned minutes and visits per hotspot (store.rosters.planned_dosage)


def trial_visits(store, allocation_id: int | None, weeks: int | None = None, *, max_gap_s: float = 180.0,
                 min_visit_s: float = 120.0, timezone: str = "Europe/London") -> TrialVisits:
    """GPS visits and planned dosage over the trial's window.

    The window is the crossover's periods, else ``weeks`` from the start, else the weeks up to the
    last stored ping.

    Parameters
    ----------
    store : the store to read.
    allocation_id : the registered allocation; None means the latest.
    weeks : weeks measured from the start (parallel designs).
    max_gap_s, min_visit_s : seconds between pings that still count as one stay, and the shortest
        stay that counts as a visit.
    timezone : the force's time zone, for local days.

    Returns
    -------
    TrialVisits
    """
    alloc = load_allocation(store, allocation_id)
    return _window_visits(store, alloc, load_set(store, alloc.issue["set_id"]), weeks, max_gap_s, min_visit_s,
                          timezone)


def _window_visits(store, alloc: Allocation, hs, weeks, max_gap_s, min_visit_s, timezone) -> TrialVisits:
    """:func:`trial_visits` for an allocation and set already loaded."""
    since = _utc(alloc.start, timezone)
    if alloc.design == "crossover":
        weeks = None
        end = alloc.start + dt.timedelta(days=alloc.treated.shape[1] * alloc.period_days)
    else:
        if weeks is None:
            last = last_ping(store, since)
            if last is None:
                raise NotReadyError(f"no GPS pings are stored from {alloc.start} on; load the patrols' GPS logs "
                                    "first ('hotspots trial dosage --gps FILE', or POST /patrol-logs)")
            weeks = max(1, int(np.ceil((last.tz_convert(timezone).date() - alloc.start).days / 7 + 1e-9)))
        elif weeks < 1:
            raise ValidationError(f"weeks={weeks}: measure at least 1 week of the trial")
        end = alloc.start + dt.timedelta(weeks=weeks)
    pings = read_pings(store, since, _utc(end, timezone))
    visits = pings_to_visits(pings, hs.members, max_gap_s=max_gap_s, min_visit_s=min_visit_s, timezone=timezone)
    set_id = int(hs.parameters["set_id"])
    return TrialVisits(alloc, hs.members, set_id, weeks, end, visits, planned_dosage(store, set_id, alloc.start, end))


def trial_compliance(store, allocation_id: int | None, weeks: int | None = None, *, max_gap_s: float = 180.0,
                     min_visit_s: float = 120.0, timezone: str = "Europe/London"):
    """Planned against delivered patrol per place of the trial.

    Parameters
    ----------
    store, allocation_id, weeks, max_gap_s, min_visit_s, timezone : as for :func:`trial_visits`.

    Returns
    -------
    (TrialVisits, pandas.DataFrame, dict)
        The window, the per-hotspot table and the summary of ``trials.compliance.compliance``.
    """
    got = trial_visits(store, allocation_id, weeks, max_gap_s=max_gap_s, min_visit_s=min_visit_s, timezone=timezone)
    alloc = got.alloc
    arms = pd.DataFrame({"hotspot_id": alloc.places["place_id"],
                         "arm": "crossover" if alloc.design == "crossover" else
                         np.where(alloc.treated[:, 0], "treatment", "control")})
    table, summary = compliance(got.visits[got.visits["hotspot_id"].isin(arms["hotspot_id"])], arms, got.planned)
    return got, table, summary


def evaluate_stored_trial(store, allocation_id: int | None, *, weeks: int | None = None, weeks_before: int = 12,
                          outcome: str = "count", draws: int = 1000, rings: int = 2, seed: int = 0,
                          max_gap_s: float = 180.0, min_visit_s: float = 120.0,
                          offence_groups: list[str] | None = None, timezone: str = "Europe/London",
                          actor: str, detail: dict | None = None) -> dict:
    """Evaluate a registered trial on the stored incidents (and GPS visits, if any); audited as ``actor``.

    Parameters
    ----------
    store : the store to read and audit in.
    allocation_id : the registered allocation; None means the latest.
    weeks : weeks of the trial so far; None for a parallel design means every whole week up to
        the last stored incident.
    weeks_before : weeks before the start that the estimates compare with (parallel designs).
    outcome : count (crimes) or harm (Cambridge Crime Harm Index days).
    draws : randomisation-inference draws. rings : H3 rings of the displacement buffer.
    seed : seed of the draws.
    max_gap_s, min_visit_s : as for :func:`trial_visits`.
    offence_groups : the crimes counted; None for recorded crime except police-detected offences.
    timezone : the force's time zone.
    actor : who asked, for the audit event. detail : added to the audit event.

    Returns
    -------
    dict
        The report of :func:`hotspots.trials.evaluate.evaluate_trial`.
    """
    check_choice(outcome, ("count", "harm"), "outcome")
    alloc = load_allocation(store, allocation_id)
    hs = load_set(store, alloc.issue["set_id"])
    incidents = stored_incidents(store, offence_groups, _utc(alloc.start - dt.timedelta(weeks=weeks_before), timezone))
    if alloc.design != "crossover" and weeks is None:
        last = incidents["occurred_to"].max().tz_convert(timezone).date()
        weeks = (last - alloc.start).days // 7
        if weeks < 1:
            raise NotReadyError(f"the stored incidents end on {last}, before a whole week of the trial (from "
                                f"{alloc.start}); load newer incidents or give the weeks to evaluate")
    visits = planned = None
    if last_ping(store, _utc(alloc.start, timezone)) is not None:
        got = _window_visits(store, alloc, hs, weeks, max_gap_s, min_visit_s, timezone)
        visits, planned = got.visits, got.planned
    report = evaluate_trial(alloc, hs.members, incidents, before=weeks_before, during=weeks, outcome=outcome,
                            visits=visits, planned=planned, draws=draws, rings=rings, seed=seed, timezone=timezone)
    if alloc.design != "crossover":
        groups = detected_groups()
        detected = stored_incidents(store, groups, _utc(alloc.start - dt.timedelta(weeks=weeks_before), timezone),
                                    allow_empty=True)
        report["detection"] = detection_effect(alloc, hs.members, detected, before=weeks_before, during=weeks,
                                               offences=groups, timezone=timezone)
        report["reading"].append(report["detection"]["reading"])
    with store.engine.begin() as conn:
        record(conn, actor, "trial.evaluate", "allocation", alloc.issue["allocation_id"],
               {"outcome": outcome, "weeks": weeks, "draws": draws, **(detail or {})})
    return report


def report_json(report: dict) -> str:
    """The report as strict JSON: NumPy scalars as numbers, dates as ISO text, NaN and infinities as null."""
    def plain(value):
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple | np.ndarray):
            return [plain(v) for v in value]
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            return None
        if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
            return value.isoformat()
        return value

    return json.dumps(plain(report), indent=1, allow_nan=False)


def _utc(day: dt.date, timezone: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz=timezone).tz_convert("UTC")
