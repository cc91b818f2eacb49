"""The predictor's runs on counted incidents: a run's settings checked, its calendar, its region and its history.

Runs on stored incidents (training, backtests, forecasts of the promoted model) are
:mod:`hotspots.services.models`'s; ``hotspots model predict`` runs straight from files.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_choice, check_resolution
from hotspots.crime.aggregate import missing_months, months_text
from hotspots.geo import cells as h3cells
from hotspots.geo.periods import PERIOD_KINDS, Calendar
from models.features import CellHistory, PointLayer
from models.target import parse_target

log = logging.getLogger(__name__)


def run_calendar(period: str, cutoff: dt.date | None, anchor: dt.date, period_days: int, timezone: str) -> Calendar:
    """The calendar of a run: periods start on the cutoff when one is given (months on the 1st).

    Parameters
    ----------
    period : tactical, week or month.
    cutoff : the first day of the forecast period, or None.
    anchor : the day periods are counted from without a cutoff.
    period_days : length of a tactical period in days.
    timezone : the force's time zone.

    Returns
    -------
    Calendar
    """
    if cutoff is not None and period == "month" and cutoff.day != 1:
        raise ValidationError(f"cutoff={cutoff} with period month: a month forecast starts on the 1st; "
                              f"use {cutoff.replace(day=1)} or a later 1st", arguments=("cutoff", "period"))
    return Calendar(period, cutoff if cutoff is not None and period != "month" else anchor, period_days, timezone)


def region_cells(area, frame: pd.DataFrame, resolution: int) -> np.ndarray:
    """The cells a run scores: the area's, or (no area) those holding incidents and two rings around them."""
    if area is not None:
        return area.cells(resolution)
    cells = h3cells.points_to_cells(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), resolution)
    return h3cells.k_ring(np.unique(cells), 2)


def check_run(period: str, resolution: int, target: str, allow_police_detected: bool = False):
    """Check a run's settings before any data is read; returns the parsed target."""
    check_choice(period, PERIOD_KINDS, "period")
    check_resolution(resolution)
    return parse_target(target, allow_police_detected)


#: Months before the cutoff (or the end of the data) that must all hold incidents for a model to train.
RECENT_MONTHS = 3


def check_no_recent_gap(frame: pd.DataFrame, cutoff: dt.date | None, timezone: str) -> None:
    """Warn of months inside the data's span with no incident; refuse when one is among the
    RECENT_MONTHS before ``cutoff`` (default: the end of the data), where the model learns what
    comes next: a missing file there reads as crime falling to zero."""
    times = frame["occurred_from"] if cutoff is None else frame.loc[
        frame["occurred_from"] < pd.Timestamp(cutoff, tz=timezone).tz_convert("UTC"), "occurred_from"]
    if times.empty:
        return
    last = pd.Timestamp(times.max()).tz_convert(timezone).tz_localize(None).to_period("M")
    end = pd.Period(cutoff, "M") - 1 if cutoff is not None else last
    trailing = [str(p) for p in pd.period_range(last + 1, end, freq="M")] if end > last else []
    gaps = missing_months(times, timezone) + trailing
    if not gaps:
        return
    recent = [m for m in gaps if pd.Period(m, "M") > end - RECENT_MONTHS]
    if recent:
        raise ValidationError(f"the incidents hold no crime in {', '.join(recent)}, among the {RECENT_MONTHS} months "
                              "before the cutoff: load the missing month(s), or choose an earlier cutoff",
                              arguments="cutoff")
    log.warning("the incidents hold no crime in %s inside their span; the model reads those months as quiet",
                months_text(gaps, 12))


def build_history(frame: pd.DataFrame, crs: str, *, period: str, resolution: int, target: str,
                  cutoff: dt.date | None, area, anchor: dt.date, period_days: int, timezone: str,
                  layers: tuple[PointLayer, ...] = (), allow_police_detected: bool = False):
    """Count ``frame``'s incidents per cell and period.

    Parameters
    ----------
    frame : incidents (INCIDENT_COLUMNS). crs : the projected CRS of their x/y.
    period, resolution, target, cutoff, layers, allow_police_detected : as for
        :func:`hotspots.services.models.stored_history`.
    area : the force area, or None (cells around the incidents).
    anchor, period_days, timezone : as for :func:`run_calendar`.

    Returns
    -------
    (CellHistory, int | None)
        The history, and the period that starts on ``cutoff`` (None without a cutoff).
    """
    spec = check_run(period, resolution, target, allow_police_detected)
    check_no_recent_gap(frame, cutoff, timezone)
    calendar = run_calendar(period, cutoff, anchor, period_days, timezone)
    history = CellHistory(frame, region_cells(area, frame, resolution), calendar, spec, crs, layers=layers)
    return history, calendar.period_of(cutoff) if cutoff else None
