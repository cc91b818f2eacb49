"""Each hotspot's hour-of-week risk profile, learned from its incidents.

A hotspot has few incidents (tens a year), so its own 168-bin histogram is noisy. The profile
shrinks it toward the force-wide profile of the same offences (empirical Bayes: ``prior_weight``
pseudo-incidents of the force profile), then mixes in ``uniform_share`` of a flat profile so
that no hour is ever ruled out and patrol times stay unpredictable. Incidents with an exact
time count in their hour; incidents known only to the day spread over that weekday's 24 hours;
month-only incidents (data.police.uk) say nothing about the hour and are left out.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hotspots.geo import cells as h3cells

log = logging.getLogger(__name__)

HOURS_OF_WEEK = 168
DEFAULT_PRIOR_WEIGHT = 20.0
DEFAULT_UNIFORM_SHARE = 0.1


def incident_hour_weights(incidents: pd.DataFrame, timezone: str) -> np.ndarray:
    """(n, 168) weight of each incident in each local hour of the week; rows sum to 1, or 0 if untimed."""
    n = len(incidents)
    weights = np.zeros((n, HOURS_OF_WEEK))
    if n == 0:
        return weights
    precision = incidents["time_precision"].to_numpy(object)
    local = pd.DatetimeIndex(incidents["occurred_from"]).tz_convert(timezone)
    how = (local.day_of_week * 24 + local.hour).to_numpy()
    exact = np.flatnonzero(precision == "exact")
    weights[exact, how[exact]] = 1.0
    day = np.flatnonzero(precision == "day")
    first = (local.day_of_week.to_numpy() * 24)[day]
    weights[day[:, None], first[:, None] + np.arange(24)[None, :]] = 1.0 / 24
    return weights


def hour_of_week_profiles(
    incidents: pd.DataFrame,
    members: pd.DataFrame,
    hotspot_ids: list[str],
    timezone: str,
    *,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    uniform_share: float = DEFAULT_UNIFORM_SHARE,
) -> tuple[np.ndarray, np.ndarray]:
    """Risk profile per hotspot over the 168 hours of the week.

    Parameters
    ----------
    incidents : stored incidents (``h3_cell``, ``occurred_from``, ``time_precision``, and ``lon``,
        ``lat`` to place incidents indexed finer than the hotspots), the history the profiles are
        learned from (callers pass only what came before the period).
    members : ``hotspot_id, h3_cell`` of the hotspot set, at any resolution at or above the incidents'.
    hotspot_ids : the order of the rows returned.

    Returns
    -------
    profiles : (n_hotspots, 168) float, each row sums to 1.
    timed : (n_hotspots,) float, the number of timed incidents each profile learned from.
    """
    w = incident_hour_weights(incidents, timezone)
    force = w.sum(0)
    flat = np.full(HOURS_OF_WEEK, 1.0 / HOURS_OF_WEEK)
    force_profile = (force + prior_weight * flat) / (force.sum() + prior_weight)
    index = {h: i for i, h in enumerate(hotspot_ids)}
    counts = np.zeros((len(hotspot_ids), HOURS_OF_WEEK))
    if len(incidents) and len(members):
        member_cells = h3cells.from_strings(members["h3_cell"])
        resolution = int(_resolution(member_cells[0]))
        cells = h3cells.from_strings(incidents["h3_cell"])
        finer = _resolution(cells[0]) - resolution
        if finer > 0 and {"lon", "lat"} <= set(incidents.columns):
            # By position: a cell's H3 parent does not hold all of its points (about 7% of points
            # at resolution 10 lie outside their cell's resolution-9 parent).
            cells = h3cells.points_to_cells(incidents["lon"].to_numpy(float), incidents["lat"].to_numpy(float),
                                            resolution)
        elif finer > 0:  # without positions, the parent is the nearest placing there is
            cells = h3cells.to_parent(cells, resolution)
        elif finer < 0:  # cannot place an incident inside a cell finer than its own
            log.warning("incidents are indexed coarser than the hotspots' cells; profiles use the force-wide profile")
            cells = np.zeros(0, np.uint64)
            w = w[:0]
        lookup = pd.Series([index.get(h, -1) for h in members["hotspot_id"]], index=member_cells)
        row = lookup.reindex(cells).fillna(-1).to_numpy(np.int64)
        inside = row >= 0
        np.add.at(counts, row[inside], w[inside])
    timed = counts.sum(1)
    shrunk = (counts + prior_weight * force_profile) / (timed + prior_weight)[:, None]
    profiles = (1 - uniform_share) * shrunk + uniform_share * flat
    log.info("hour-of-week profiles from %d timed incidents (median %.0f a hotspot; prior weight %g, flat share %g)",
             int(force.sum()), float(np.median(timed)) if len(timed) else 0.0, prior_weight, uniform_share)
    return profiles / profiles.sum(1, keepdims=True), timed


def _resolution(cell: np.uint64) -> int:
    import h3

    return h3.get_resolution(h3.int_to_str(int(cell)))
