"""A registered trial measured from the store: dosage against plan, and the evaluation.

The CLI (``hotspots trial dosage | evaluate``) and the API's evaluator routes both call these, so
the trial window, the GPS visits and the incidents counted are chosen in one place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.errors import HotspotsError, NotReadyError
from hotspots.trials.allocation import Allocation


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
    last stored ping. ``allocation_id`` None means the latest allocation.
    """
    from hotspots.store.hotspot_sets import load_set
    from hotspots.store.trials import load_allocation

    alloc = load_allocation(store, allocation_id)
    return _window_visits(store, alloc, load_set(store, alloc.issue["set_id"]), weeks, max_gap_s, min_visit_s,
                          timezone)


def _window_visits(store, alloc: Allocation, hs, weeks, max_gap_s, min_visit_s, timezone) -> TrialVisits:
    """:func:`trial_visits` for an allocation and set already loaded."""
    from hotspots.store.rosters import planned_dosage
    from hotspots.store.trials import last_ping, read_pings
    from hotspots.trials.gps import pings_to_visits

    since = _utc(alloc.start, timezone)
    if alloc.design == "crossover":
        weeks = None
        end = alloc.start + dt.timedelta(days=alloc.treated.shape[1] * alloc.period_days)
    else:
        if weeks is None:
            last = last_ping(store, since)
            if last is None:
                raise NotReadyError(f"no GPS pings are stored from {alloc.start} on; load the patrols' GPS logs "
                                    "first (--gps FILE, or POST /patrol-logs)")
            weeks = max(1, int(np.ceil((last.tz_convert(timezone).date() - alloc.start).days / 7 + 1e-9)))
        elif weeks < 1:
            raise HotspotsError(f"weeks={weeks}: measure at least 1 week of the trial")
        end = alloc.start + dt.timedelta(weeks=weeks)
    pings = read_pings(store, since, _utc(end, timezone))
    visits = pings_to_visits(pings, hs.members, max_gap_s=max_gap_s, min_visit_s=min_visit_s, timezone=timezone)
    set_id = int(hs.parameters["set_id"])
    return TrialVisits(alloc, hs.members, set_id, weeks, end, visits, planned_dosage(store, set_id, alloc.start, end))


def trial_compliance(store, allocation_id: int | None, weeks: int | None = None, *, max_gap_s: float = 180.0,
                     min_visit_s: float = 120.0, timezone: str = "Europe/London"):
    """Planned against delivered patrol per place of the trial.

    Returns
    -------
    (TrialVisits, pandas.DataFrame, dict)
        The window, the per-hotspot table and the summary of ``trials.compliance.compliance``.
    """
    from hotspots.trials.compliance import compliance

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

    ``weeks`` None for a parallel design means every whole week up to the last stored incident.
    Returns the report of ``trials.evaluate.evaluate_trial``; ``detail`` is added to the audit event.
    """
    from hotspots.aggregate import stored_incidents
    from hotspots.store.audit import record
    from hotspots.store.hotspot_sets import load_set
    from hotspots.store.trials import last_ping, load_allocation
    from hotspots.trials.evaluate import evaluate_trial
    from hotspots.validate import check_choice

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
    with store.engine.begin() as conn:
        record(conn, actor, "trial.evaluate", "allocation", alloc.issue["allocation_id"],
               {"outcome": outcome, "weeks": weeks, "draws": draws, **(detail or {})})
    return report


def report_json(report: dict) -> str:
    """The report as strict JSON: NumPy scalars as numbers, dates as ISO text, NaN and infinities as null."""
    import json

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
