"""A month's hotspots from crime counted per area (police.uk counts per LSOA), stored like the
weekly job's sets: with ids and hysteresis following last month's set, the rule that placed the
counts on cells, and the surface they were chosen from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hotspots.crime.offences import harm_weights, vocabulary
from hotspots.geo.areas import NamedAreas
from hotspots.ingest.area_counts import AreaCounts, read_area_counts
from hotspots.places.area_counts import CountHotspots, count_hotspots
from hotspots.places.evidence import DEFAULT_FDR, DEFAULT_FLOOR_RULE, DEFAULT_MIN_EXPECTED
from hotspots.places.selection import DEFAULT_AREA_SHARE, DEFAULT_MAX_HOTSPOTS
from hotspots.places.weekly import DEFAULT_HYSTERESIS
from hotspots.services.weekly import next_hotspot_number, previous_set, save_set
from hotspots.store.db import Store
from hotspots.store.incidents import projected_crs


@dataclass
class CountSelection:
    """A month's set chosen from counts and stored: the engine's result, the counts, its set id."""

    result: CountHotspots
    counts: AreaCounts
    set_id: int


def category_harm(categories: list[str]) -> dict[str, float]:
    """Harm weight (CCHI days) of each police.uk category, from the shipped harm tables."""
    codes, known = vocabulary().lookup(np.asarray(categories, dtype=object))
    weights = harm_weights()
    return {c: weights[code] for c, code, ok in zip(categories, codes, known, strict=True) if ok}


def next_month(months: list[str]) -> str:
    """The month after the last of ``months`` (``YYYY-MM``)."""
    year, month = int(months[-1][:4]), int(months[-1][5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def select_from_counts(store: Store, counts_path: str | Path, area_file: str | Path, *, districts: NamedAreas,
                       categories: list[str], month: str | None = None, code_field: str | None = None,
                       resolution: int | None = None, incomplete_months: dict[str, str] | None = None,
                       names: NamedAreas | None = None, area_share: float = DEFAULT_AREA_SHARE,
                       max_hotspots: int = DEFAULT_MAX_HOTSPOTS, district_min: int | None = 1,
                       min_cells: int = 1, max_cells: int = 20, hysteresis: float = DEFAULT_HYSTERESIS,
                       evidence: str = DEFAULT_FLOOR_RULE, fdr: float = DEFAULT_FDR,
                       min_expected: float = DEFAULT_MIN_EXPECTED) -> CountSelection:
    """Read the counts, select the hotspots of ``month`` (default: the month after the last complete
    one) with ``districts`` as the areas that get quotas, and store the set.

    Parameters
    ----------
    store : where the set is stored (and the previous month's set is found).
    counts_path, area_file, code_field, resolution, incomplete_months : as for
        :func:`hotspots.ingest.area_counts.read_area_counts`.
    districts : the areas each hotspot is counted in (per-area quotas, rosters).
    categories : the police.uk categories scored.
    month : ``YYYY-MM``; the months before it must all be complete.
    names : named areas (wards) to name hotspots by.
    area_share, max_hotspots, district_min, min_cells, max_cells, hysteresis : the budgets
        (ceilings), the fewest hotspots per district, hotspot size in cells, and how much more last
        month's cells count.
    evidence, fdr, min_expected : the evidence floor (min_expected in crimes a month).

    Returns
    -------
    CountSelection
    """
    counts = read_area_counts(counts_path, area_file, code_field=code_field, categories=categories,
                              resolution=resolution, incomplete_months=incomplete_months)
    month = month or next_month(counts.months)
    first_day = dt.date.fromisoformat(f"{month}-01")
    previous = previous_set(store, first_day, "month")
    result = count_hotspots(
        counts.counts, counts.cells, month=month, months=counts.months, crs=projected_crs(store),
        harm=category_harm(categories), evidence=evidence, fdr=fdr, min_expected=min_expected, rule=counts.rule,
        area_share=area_share, max_hotspots=max_hotspots, min_cells=min_cells, max_cells=max_cells, areas=districts,
        area_min=district_min, previous=previous, hysteresis=hysteresis,
        next_number=next_hotspot_number(store, before=first_day), names=names)
    hs = result.hotspot_set
    hs.parameters.update(period_kind="month", counts_file=Path(counts_path).name, categories=list(categories),
                         incomplete_months=counts.incomplete)
    set_id = save_set(store, hs, period_label=month, period_start=result.period_start, period_end=result.period_end,
                      resolution=counts.resolution, score_source=result.score_source, coverage=result.coverage,
                      scores=result.scores)
    return CountSelection(result, counts, set_id)
