"""Crimes per place and period: the outcome table every trial estimate starts from.

An incident counts in a place if its point falls in one of the place's H3 cells (the cells that
make the hotspot's geofence), and in a period if its whole time interval lies inside that
period's local days. Month-only records (data.police.uk) cannot be placed in a week: they are
left out of weekly or daily panels and counted, never spread or guessed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.crime.aggregate import incident_days
from hotspots.geo import cells as h3cells
from hotspots.geo.periods import day_number

log = logging.getLogger(__name__)


@dataclass
class PlaceCounts:
    """Crimes and harm per place and period.

    counts, harm : (n_places, before + during) float.
    harm_squared : the same shape, Σ w² of the harm weights: a harm sum's variance if crimes are
        Poisson (Var Σ w N = Σ w² N), as the counts are their own.
    left_out_imprecise : incidents in the places and window whose dates span more than a period.
    first_day : local date of period 0 of the table (``before`` periods before the trial starts).
    """

    place_ids: list[str]
    counts: np.ndarray
    harm: np.ndarray
    before: int
    during: int
    period_days: int
    first_day: dt.date
    left_out_imprecise: int = 0
    harm_squared: np.ndarray | None = None

    def outcome(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, Poisson variances) of ``name``: count, or harm (Cambridge Crime Harm Index days)."""
        if name == "count":
            return self.counts, self.counts
        if self.harm_squared is None:  # a zero variance would make any harm interval falsely exact
            raise ValidationError("harm_squared is unknown: count the places with place_counts, which sums Σ w²")
        return self.harm, self.harm_squared


def cell_lookup(members: pd.DataFrame, place_ids: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """Sorted uint64 cells, the place index of each, and their H3 resolution."""
    if members.empty:
        raise ValidationError("the places have no cells; is the hotspot set empty?")
    index = {p: i for i, p in enumerate(place_ids)}
    keep = members["hotspot_id"].isin(index)
    cells = h3cells.from_strings(members.loc[keep, "h3_cell"].tolist())
    place = members.loc[keep, "hotspot_id"].map(index).to_numpy(int)
    order = np.argsort(cells)
    import h3

    resolution = h3.get_resolution(members["h3_cell"].iloc[0])
    return cells[order], place[order], resolution


def locate(lon: np.ndarray, lat: np.ndarray, cells: np.ndarray, owner: np.ndarray, resolution: int) -> np.ndarray:
    """Index into ``owner`` of the cell holding each point, or -1 where none does.

    Parameters
    ----------
    lon, lat : float (n,), WGS84 degrees.
    cells : sorted uint64 H3 cells at ``resolution``.
    owner : (len(cells),) int, the place index of each cell.
    resolution : H3 resolution of ``cells``.

    Returns
    -------
    numpy.ndarray
        (n,) int64.
    """
    if len(lon) == 0 or len(cells) == 0:
        return np.full(len(lon), -1)
    at = h3cells.points_to_cells(np.asarray(lon, float), np.asarray(lat, float), resolution)
    pos = np.searchsorted(cells, at).clip(max=len(cells) - 1)
    return np.where(cells[pos] == at, owner[pos], -1)


def place_counts(incidents: pd.DataFrame, members: pd.DataFrame, place_ids: list[str], *, start: dt.date,
                 before: int, during: int, period_days: int = 7, timezone: str = "Europe/London") -> PlaceCounts:
    """Count crimes and sum harm per place and period around a trial starting on local day ``start``.

    Parameters
    ----------
    incidents : occurred_from, occurred_to (aware), lon, lat and harm_weight, as
        :func:`hotspots.services.ingest.stored_incidents` returns them.
    members : hotspot_id and h3_cell. place_ids : the places, in row order.
    start : the trial's first local day.
    before, during : periods before the start and from it.
    period_days : length of a period in days (7: weeks).
    timezone : the force's time zone, for local days.

    Returns
    -------
    PlaceCounts
        (n_places, before + during) counts and harm, and the incidents left out because their dates
        span more than a period.
    """
    if period_days < 1 or before < 0 or during < 1:
        raise ValidationError(f"period_days={period_days!r}, before={before!r}, during={during!r}: need "
                            "period_days >= 1, before >= 0 and during >= 1", arguments="period_days")
    n, t = len(place_ids), before + during
    counts, harm, harm_squared = np.zeros((n, t)), np.zeros((n, t)), np.zeros((n, t))
    first = day_number(start) - before * period_days
    cells, owner, res = cell_lookup(members, place_ids)
    imprecise = 0
    if len(incidents):
        place = locate(incidents["lon"].to_numpy(), incidents["lat"].to_numpy(), cells, owner, res)
        start_day, end_day = incident_days(incidents, timezone)
        p_first = (start_day - first) // period_days
        p_last = (end_day - 1 - first) // period_days
        in_window = (p_last >= 0) & (p_first < t) & (place >= 0)
        precise = p_first == p_last
        imprecise = int((in_window & ~precise).sum())
        ok = in_window & precise
        weight = incidents["harm_weight"].to_numpy(float)
        np.add.at(counts, (place[ok], p_first[ok]), 1.0)
        np.add.at(harm, (place[ok], p_first[ok]), weight[ok])
        np.add.at(harm_squared, (place[ok], p_first[ok]), weight[ok] ** 2)
    if imprecise:
        log.warning("%d incidents in the places have dates wider than a %d-day period (month-only records) "
                    "and are left out", imprecise, period_days)
    return PlaceCounts(place_ids=list(place_ids), counts=counts, harm=harm, before=before, during=during,
                       period_days=period_days, first_day=start - dt.timedelta(days=before * period_days),
                       left_out_imprecise=imprecise, harm_squared=harm_squared)
