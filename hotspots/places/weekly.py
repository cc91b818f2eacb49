"""The commander's weekly job: this period's hotspots, their coverage, significance and trend.

``weekly_hotspots`` ties the pieces together for one period: it scores every cell of the force
area from what happened before the period starts (a time-decayed kernel density, or any score
such as the predictor's risk), selects hotspots within the budgets from the cells over the
evidence floor (by default Gi* hot over the history after FDR; :mod:`hotspots.places.evidence`),
keeps last period's ids, and describes the set: coverage of the last complete period (one the
data covers to its last day), each hotspot's counts and harm in it, how many of its cells are
Gi* hot spots over the history, and its emerging-hotspot class.
Nothing here reads or writes the store; the CLI and the API do that around it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.core.errors import NotReadyError
from hotspots.crime.aggregate import aggregate_cells, incident_days
from hotspots.density.surface import hotspot_kde
from hotspots.geo import cells as h3cells
from hotspots.geo.periods import Calendar, day_from_number
from hotspots.places.coverage import coverage_sentence, coverage_table, hotspot_measures
from hotspots.places.emerging import EMERGING_CLASSES, hotspot_emerging
from hotspots.places.evidence import DEFAULT_FDR, DEFAULT_FLOOR_RULE, DEFAULT_MIN_EXPECTED, evidence_floor
from hotspots.places.gistar import DEFAULT_PERMUTATIONS, hotspot_gistar
from hotspots.places.selection import HotspotSet, hotspot_select

log = logging.getLogger(__name__)

DEFAULT_HISTORY_DAYS = 365
DEFAULT_HALF_LIFE_DAYS = 56.0
DEFAULT_BANDWIDTH_M = 300.0
DEFAULT_EMERGING_PERIODS = 12
# The weekly job's budgets for a force (Project Guardian: hotspots of a few streets, stable week to week).
DEFAULT_MIN_CELLS = 3
DEFAULT_MAX_CELLS = 40
DEFAULT_HYSTERESIS = 0.2
DEFAULT_SMOOTH_M = 20.0


@dataclass
class WeeklyHotspots:
    """One period's hotspot set and everything a commander reads beside it."""

    hotspot_set: HotspotSet
    period: int
    period_label: str
    period_start: dt.date
    period_end: dt.date  # last day, inclusive
    last_period_label: str  # the last complete period before this one, whose coverage is reported
    coverage: pd.DataFrame
    sentence: str
    scores: pd.Series  # score per cell (hex index) the set was chosen from
    score_source: str
    gistar: pd.DataFrame
    emerging: pd.DataFrame | None
    last_period_incidents: pd.DataFrame
    data_through: dt.date | None = None  # the last local day the history covers
    explanation: pd.DataFrame | None = None  # per hotspot: why it is in (see ``explain``)


def period_weights(incidents: pd.DataFrame, calendar: Calendar, period: int) -> np.ndarray:
    """Share of each incident's occurrence interval that falls in ``period`` (1 for an exact time inside)."""
    if incidents.empty:
        return np.zeros(0)
    start, end = incident_days(incidents, calendar.timezone)
    lo = np.maximum(start, calendar.start_day(np.array([period]))[0])
    hi = np.minimum(end, calendar.end_day(np.array([period]))[0])
    return np.clip(hi - lo, 0, None) / (end - start)


def _history(incidents: pd.DataFrame, start_utc: pd.Timestamp, history_days: int) -> pd.DataFrame:
    """Incidents that began before the period and ended within ``history_days`` of its start."""
    history_start = start_utc - pd.Timedelta(days=history_days)
    history = incidents[(incidents["occurred_from"] < start_utc) & (incidents["occurred_to"] >= history_start)]
    if history.empty:
        raise NotReadyError(f"no incidents in the {history_days} days before {start_utc.date()}; choose a period "
                            "the data covers or load more incidents")
    return history


def _in_period(incidents: pd.DataFrame, calendar: Calendar, period: int) -> pd.DataFrame:
    """Incidents overlapping ``period``, each with the share of it inside as ``period_weight``."""
    weighted = incidents.assign(period_weight=period_weights(incidents, calendar, period))
    return weighted[weighted["period_weight"] > 0]


def _kde_scores(history: pd.DataFrame, cells: np.ndarray, crs: str, reference: pd.Timestamp, bandwidth: float,
                weight: str, half_life_days: float | None) -> tuple[pd.Series, str]:
    surface = hotspot_kde(history, cells, bandwidth=bandwidth, weight=weight, half_life_days=half_life_days,
                          reference_time=reference, crs=crs)
    a = surface.attrs
    source = (f"kde: {a['kernel']} kernel, {a['bandwidth_m']:g} m, {weight} weights"
              + (f", half-life {half_life_days:g} days" if half_life_days else ""))
    return surface.set_index("h3_cell")["expected"], source


def _modal_class(members: pd.DataFrame, emerging: pd.DataFrame) -> pd.Series:
    """Each hotspot's emerging class: the commonest among its cells, the earlier class on ties."""
    classes = emerging.set_index("h3_cell")["emerging_class"]
    rank = {c: i for i, c in enumerate(EMERGING_CLASSES)}
    out = {}
    for hid, group in members.groupby("hotspot_id"):
        counts = Counter(classes.reindex(group["h3_cell"]).dropna())
        out[hid] = min(counts, key=lambda c: (-counts[c], rank[c])) if counts else "no pattern"
    return pd.Series(out, dtype=object)


def weekly_hotspots(
    incidents: pd.DataFrame,
    cells: np.ndarray,
    *,
    calendar: Calendar,
    period: int,
    resolution: int,
    crs: str,
    scores: pd.Series | None = None,
    score_source: str = "",
    bandwidth_m: float = DEFAULT_BANDWIDTH_M,
    weight: str = "count",
    history_days: int = DEFAULT_HISTORY_DAYS,
    half_life_days: float | None = DEFAULT_HALF_LIFE_DAYS,
    gi_k: int = 2,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    emerging_periods: int = DEFAULT_EMERGING_PERIODS,
    evidence: str = DEFAULT_FLOOR_RULE,
    fdr: float = DEFAULT_FDR,
    min_expected: float = DEFAULT_MIN_EXPECTED,
    gistar_cache: MutableMapping[str, np.ndarray] | None = None,
    **selection,
) -> WeeklyHotspots:
    """Select and describe the hotspots of ``period`` from the incidents before it.

    Parameters
    ----------
    incidents : stored incidents (see :func:`hotspots.services.ingest.stored_incidents`), any dates.
    cells : sorted uint64 cells of the force area at ``resolution``.
    calendar, period : the period to select for (an index of ``calendar``).
    resolution, crs : H3 resolution of ``cells``; projected CRS (metres) of geofences and distances.
    score_source : what scored the cells, in words, when ``scores`` is given.
    scores : a score per cell (hex index) to select from, e.g. the predictor's risk; by default
        a kernel density of the last ``history_days`` before the period, decayed by
        ``half_life_days``, with ``bandwidth_m`` and ``weight`` (count or harm).
    gi_k, permutations, seed : Gi* neighbourhood (grid steps), permutations and their seed.
    emerging_periods : periods of history for the emerging-hotspot classes (fewer if the data
        holds fewer; under two, no classes).
    evidence, fdr, min_expected : the evidence floor (gistar, expected or none) and its value
        (:func:`hotspots.places.evidence.evidence_floor`).
    gistar_cache : the emerging classes' per-period Gi* p-values kept from earlier runs
        (:func:`hotspots.places.gistar.gistar_periods`): last week's job drew all but the newest week.
    **selection : passed to :func:`hotspots.places.selection.hotspot_select` (budgets, areas,
        previous set, hysteresis, names, ...).

    Returns
    -------
    WeeklyHotspots
        The set with its measures (counts, harm, trend, Gi*, emerging class), the period's dates,
        the coverage table of the last complete period and the sentence that sums it up.
    """
    start, _ = calendar.bounds(period)
    start_utc = start.tz_convert("UTC")
    history = _history(incidents, start_utc, history_days)
    if scores is None:
        scores, score_source = _kde_scores(history, cells, crs, start_utc, bandwidth_m, weight, half_life_days)
    locations = None
    if "location" in history.columns:
        located = history.dropna(subset=["location"])
        locations = pd.DataFrame({"h3_cell": h3cells.to_strings(h3cells.points_to_cells(
            located["lon"].to_numpy(float), located["lat"].to_numpy(float), resolution)),
            "location": located["location"].to_numpy()})
    table = aggregate_cells(history, calendar, resolution, by_offence_group=False)
    table = table[table["period_start"] < start.date()]
    counts = table.groupby("h3_cell")["incidents"].sum()
    gistar = hotspot_gistar(counts, cells, k=gi_k, permutations=permutations, seed=seed)
    hex_cells = h3cells.to_strings(cells)
    by_cell = gistar.set_index("h3_cell").reindex(hex_cells)
    floor = evidence_floor(evidence, scores.groupby(level=0).sum().reindex(hex_cells, fill_value=0.0).to_numpy(float),
                           counts.reindex(hex_cells, fill_value=0).to_numpy(float),
                           gi_star_z=by_cell["gi_star_z"].fillna(0.0).to_numpy(float),
                           q_value=by_cell["q_value"].fillna(1.0).to_numpy(float), fdr=fdr, min_expected=min_expected)
    hs = hotspot_select(scores, cells, crs=crs, locations=locations, floor=floor, **selection)

    data_through = _last_day(history, calendar.timezone)
    last = _last_complete_period(calendar, period, data_through)
    last_incidents = _in_period(history, calendar, last)
    coverage = coverage_table(hs.cells_of(), cells, last_incidents, resolution)
    measures = hotspot_measures(hs.members, last_incidents, resolution).set_index("hotspot_id")

    hot = set(gistar.loc[gistar["gi_class"].isin(["hot 99%", "hot 95%"]), "h3_cell"])
    emerging = None
    starts = sorted(table["period_start"].unique())[-emerging_periods:]
    if len(starts) >= 2:
        emerging = hotspot_emerging(table[table["period_start"].isin(starts)], cells, k=gi_k,
                                    permutations=min(permutations, 9_999), seed=seed, cache=gistar_cache)
    frame = hs.hotspots.set_index("hotspot_id")
    for col in measures.columns:
        frame[col] = measures[col]
    frame["gi_hot_cells"] = hs.members.assign(hot=hs.members["h3_cell"].isin(hot)).groupby("hotspot_id")["hot"].sum()
    frame["emerging_class"] = _modal_class(hs.members, emerging) if emerging is not None else None
    hs.hotspots = frame.reset_index()
    label = str(calendar.label(np.array([period]))[0])
    sentence = coverage_sentence(len(hs.hotspots), coverage)
    log.info("period %s: %s; selection stopped: %s", label, sentence, hs.parameters["stopped"])
    return WeeklyHotspots(
        hotspot_set=hs, period=period, period_label=label, period_start=start.date(),
        period_end=day_from_number(int(calendar.end_day(np.array([period]))[0]) - 1),
        last_period_label=str(calendar.label(np.array([last]))[0]), coverage=coverage,
        sentence=sentence, scores=scores, score_source=score_source,
        gistar=gistar, emerging=emerging, last_period_incidents=last_incidents, data_through=data_through,
        explanation=explain(hs, gistar, counts))


def _last_day(history: pd.DataFrame, timezone: str) -> dt.date:
    """The last local day the incidents cover (the day of the latest end)."""
    _, end = incident_days(history, timezone)
    return day_from_number(int(end.max()) - 1)


def _last_complete_period(calendar: Calendar, period: int, data_through: dt.date) -> int:
    """The latest period before ``period`` that the data covers to its last day.

    A week holding one day of data is not complete: its coverage would be a seventh of a week's.
    """
    last = period - 1
    while last > period - 60 and day_from_number(int(calendar.end_day(np.array([last]))[0]) - 1) > data_through:
        last -= 1
    return last


def explain(hs: HotspotSet, gistar: pd.DataFrame, history_counts: pd.Series) -> pd.DataFrame:
    """Why each hotspot is in: its rank and score, its incidents over the scoring history, how many
    of its cells clear the evidence floor's Gi* test, and its best cell's Gi* class and q-value.

    Parameters
    ----------
    hs : the selected set.
    gistar : GISTAR_COLUMNS of the region's cells over the scoring history.
    history_counts : incidents per cell (hex index) over the scoring history.

    Returns
    -------
    pandas.DataFrame
        hotspot_id, rank, name, score, history_incidents, cells, best_cell_gi_class, best_cell_q_value.
    """
    cols = ["hotspot_id", "rank", "name", "score", "history_incidents", "cells", "best_cell_gi_class",
            "best_cell_q_value"]
    if hs.members.empty:
        return pd.DataFrame(columns=cols)
    gi = gistar.set_index("h3_cell")
    members = hs.members.assign(incidents=history_counts.reindex(hs.members["h3_cell"], fill_value=0).to_numpy(),
                                z=gi["gi_star_z"].reindex(hs.members["h3_cell"]).to_numpy(),
                                q=gi["q_value"].reindex(hs.members["h3_cell"]).to_numpy(),
                                gi_class=gi["gi_class"].reindex(hs.members["h3_cell"]).to_numpy())
    best = members.sort_values(["q", "z"], ascending=[True, False]).drop_duplicates("hotspot_id").set_index("hotspot_id")
    per = members.groupby("hotspot_id").agg(history_incidents=("incidents", "sum"), cells=("h3_cell", "size"))
    frame = hs.hotspots.set_index("hotspot_id")[["rank", "name", "score"]].join(per)
    frame["best_cell_gi_class"] = best["gi_class"]
    frame["best_cell_q_value"] = best["q"]
    return frame.reset_index().sort_values("rank", ignore_index=True)[cols]


@dataclass
class MapContext:
    """What the map of a stored set needs besides the set: the surface, last period's incidents, the sentence."""

    scores: pd.Series | None
    incidents: pd.DataFrame
    sentence: str


def map_context(incidents: pd.DataFrame, hs: HotspotSet, calendar: Calendar,
                scores: pd.Series | None = None) -> MapContext:
    """What a stored set's map draws beside its hotspots: the surface it was chosen from (``scores``,
    as stored with it) and the incidents of the period before it, with the coverage sentence.

    ``hs.parameters`` are as a stored set carries them (period_start, coverage, history_days).
    """
    p = hs.parameters
    start_utc = pd.Timestamp(p["period_start"], tz=calendar.timezone).tz_convert("UTC")
    history = _history(incidents, start_utc, int(p.get("history_days", DEFAULT_HISTORY_DAYS)))
    last = _in_period(history, calendar, calendar.period_of(p["period_start"]) - 1)
    return MapContext(scores=scores, incidents=last, sentence=coverage_sentence(len(hs.hotspots), p["coverage"]))
