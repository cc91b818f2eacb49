"""Hotspots from crime counted per area and month (counts placed on cells, see
:mod:`hotspots.ingest.area_counts`), for forces that publish counts but not street rows.

The score of a cell is its expected count next month: the mean of its monthly counts over the
history, each month weighted by ``0.5 ** (age / half_life_months)``. The evidence floor, the
budgets (ceilings, never quotas), quotas per area (districts), ids and hysteresis are those of the
weekly job (:func:`hotspots.places.selection.hotspot_select`). Coverage is of the last month of the
history, in the counted offences and in their harm.

A month missing from the history (a month with no file, or one set aside as incomplete) is not a
month without crime: selection refuses such a history and names the months.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.geo import cells as h3cells
from hotspots.places.coverage import COVERAGE_COLUMNS, MEASURES, coverage_sentence
from hotspots.places.evidence import DEFAULT_FDR, DEFAULT_FLOOR_RULE, DEFAULT_MIN_EXPECTED, evidence_floor
from hotspots.places.gistar import hotspot_gistar
from hotspots.places.selection import HotspotSet, hotspot_select

log = logging.getLogger(__name__)

DEFAULT_HISTORY_MONTHS = 12
DEFAULT_HALF_LIFE_MONTHS = 3.0


@dataclass
class CountHotspots:
    """A month's hotspots chosen from counts, with what a commander reads beside them."""

    hotspot_set: HotspotSet
    month: str
    period_start: dt.date
    period_end: dt.date
    last_month: str
    history: list[str]
    coverage: pd.DataFrame
    sentence: str
    scores: pd.Series
    score_source: str
    gistar: pd.DataFrame


def _month_start(label: str) -> dt.date:
    return dt.date(int(label[:4]), int(label[5:7]), 1)


def _shift(label: str, months: int) -> str:
    n = int(label[:4]) * 12 + int(label[5:7]) - 1 + months
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def history_months(month: str, available: list[str], n: int) -> list[str]:
    """The ``n`` months before ``month``; ValidationError naming any the counts do not hold."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(month)):
        raise ValidationError(f"month={month!r} is not a month; give YYYY-MM, e.g. 2026-04", arguments="month")
    if int(n) < 1:
        raise ValidationError(f"history_months={n!r} must be 1 or more", arguments="history_months")
    wanted = [_shift(month, -k) for k in range(n, 0, -1)]
    missing = [m for m in wanted if m not in set(available)]
    if missing:
        raise ValidationError(
            f"month={month!r}: the counts hold no complete data for {', '.join(missing)} in the {n} months before "
            f"it (a month without data is not a month without crime); choose a later month or fewer history "
            f"months", arguments=("month", "history_months"))
    return wanted


def count_hotspots(
    counts: pd.DataFrame,
    cells: np.ndarray,
    *,
    month: str,
    months: list[str],
    crs: str,
    harm: dict[str, float] | None = None,
    history_months_n: int = DEFAULT_HISTORY_MONTHS,
    half_life_months: float = DEFAULT_HALF_LIFE_MONTHS,
    gi_k: int = 1,
    permutations: int = 999,
    seed: int = 0,
    evidence: str = DEFAULT_FLOOR_RULE,
    fdr: float = DEFAULT_FDR,
    min_expected: float = DEFAULT_MIN_EXPECTED,
    rule: str = "",
    **selection,
) -> CountHotspots:
    """Select the hotspots of ``month`` from the counts of the months before it.

    Parameters
    ----------
    counts : h3_cell, month (``YYYY-MM``), category and count (fractional), as
        :func:`hotspots.ingest.area_counts.read_area_counts` places them.
    cells : sorted uint64 cells of the region (every area's cells).
    month : the month to select for, ``YYYY-MM``.
    months : the complete months the counts hold.
    crs : projected CRS (metres) of geofences.
    harm : harm weight (CCHI days) per category; None leaves harm out of the coverage.
    history_months_n, half_life_months : months scored, and the half-life of their weights.
    gi_k, permutations, seed : Gi* neighbourhood (grid steps), permutations and their seed.
    evidence, fdr, min_expected : the evidence floor (:func:`hotspots.places.evidence.evidence_floor`);
        ``min_expected`` is in crimes a month.
    rule : how the counts were placed on cells, in words (kept with the set).
    **selection : passed to :func:`hotspots.places.selection.hotspot_select`.

    Returns
    -------
    CountHotspots
    """
    history = history_months(month, months, history_months_n)
    cells = np.asarray(cells, dtype=np.uint64)
    hexes = h3cells.to_strings(cells)
    used = counts[counts["month"].isin(history)]
    by_month = used.pivot_table(index="h3_cell", columns="month", values="count", aggfunc="sum", fill_value=0.0)
    by_month = by_month.reindex(index=hexes, columns=history, fill_value=0.0)
    age = np.arange(len(history), 0, -1) - 1  # the latest month has age 0
    weights = 0.5 ** (age / half_life_months)
    expected = by_month.to_numpy(float) @ weights / weights.sum()
    scores = pd.Series(expected, index=hexes)
    totals = by_month.sum(axis=1).to_numpy(float)
    gistar = hotspot_gistar(totals, cells, k=gi_k, permutations=permutations, seed=seed)
    floor = evidence_floor(evidence, expected, totals, gi_star_z=gistar["gi_star_z"].to_numpy(float),
                           q_value=gistar["q_value"].to_numpy(float), fdr=fdr, min_expected=min_expected)
    source = (f"expected crimes a month: the {len(history)} months {history[0]} to {history[-1]}, weighted with a "
              f"half-life of {half_life_months:g} months")
    hs = hotspot_select(scores[scores > 0], cells, crs=crs, floor=floor, **selection)
    hs.parameters.update(count_placement=rule, history_months=history, half_life_months=half_life_months)
    last = history[-1]
    coverage = count_coverage(hs, cells, used[used["month"] == last], harm)
    _add_measures(hs, used[used["month"] == last], harm)
    hot = set(gistar.loc[gistar["gi_class"].isin(["hot 99%", "hot 95%"]), "h3_cell"])
    hs.hotspots["gi_hot_cells"] = hs.hotspots["hotspot_id"].map(
        hs.members.assign(hot=hs.members["h3_cell"].isin(hot)).groupby("hotspot_id")["hot"].sum()).fillna(0).astype(int)
    sentence = coverage_sentence(len(hs.hotspots), coverage)
    log.info("month %s: %s; selection stopped: %s", month, sentence, hs.parameters["stopped"])
    start = _month_start(month)
    return CountHotspots(hotspot_set=hs, month=month, period_start=start,
                         period_end=_month_start(_shift(month, 1)) - dt.timedelta(days=1), last_month=last,
                         history=history, coverage=coverage, sentence=sentence, scores=scores, score_source=source,
                         gistar=gistar)


def _harm_of(rows: pd.DataFrame, harm: dict[str, float] | None) -> np.ndarray | None:
    if harm is None:
        return None
    return rows["count"].to_numpy(float) * rows["category"].map(harm).fillna(0.0).to_numpy(float)


def count_coverage(hs: HotspotSet, cells: np.ndarray, month_rows: pd.DataFrame,
                   harm: dict[str, float] | None) -> pd.DataFrame:
    """Coverage of one month's counts (COVERAGE_COLUMNS): area, crimes and harm inside the hotspots;
    the measures counts do not carry (victim age, knife flag) are NaN."""
    region = h3cells.to_strings(np.asarray(cells, dtype=np.uint64))
    areas = pd.Series(h3cells.cell_areas_m2(np.asarray(cells, dtype=np.uint64)), index=region)
    hot = set(hs.members["h3_cell"])
    area_in, area_all = float(areas[areas.index.isin(hot)].sum()), float(areas.sum())
    area_share = area_in / area_all if area_all else np.nan
    rows = [{"measure": "area (m²)", "in_hotspots": area_in, "total": area_all, "share": area_share, "pai": 1.0}]
    inside = month_rows["h3_cell"].isin(hot).to_numpy()
    values = {"incidents": month_rows["count"].to_numpy(float), "harm": _harm_of(month_rows, harm)}
    for key, label in MEASURES:
        v = values.get(key)
        if v is None:
            rows.append({"measure": label, "in_hotspots": np.nan, "total": np.nan, "share": np.nan, "pai": np.nan})
            continue
        total, within = float(v.sum()), float(v[inside].sum())
        share = within / total if total > 0 else np.nan
        rows.append({"measure": label, "in_hotspots": within, "total": total, "share": share,
                     "pai": share / area_share if area_share else np.nan})
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


def _add_measures(hs: HotspotSet, month_rows: pd.DataFrame, harm: dict[str, float] | None) -> None:
    """Each hotspot's crimes (and harm) in the last month, as the weekly job's sets carry them."""
    owner = hs.members.set_index("h3_cell")["hotspot_id"]
    which = month_rows["h3_cell"].map(owner)
    frame = hs.hotspots.set_index("hotspot_id")
    frame["incidents"] = month_rows["count"].groupby(which).sum().reindex(frame.index, fill_value=0.0)
    weighted = _harm_of(month_rows, harm)
    frame["harm"] = (pd.Series(weighted, index=month_rows.index).groupby(which).sum()
                     .reindex(frame.index, fill_value=0.0) if weighted is not None else np.nan)
    frame["knife_enabled"] = np.nan
    frame["serious_youth_violence"] = np.nan
    hs.hotspots = frame.reset_index()
