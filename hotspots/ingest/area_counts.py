"""Crime counted per area and month (police.uk counts per LSOA, say), placed on H3 cells.

A counts table has one row per area, category and month: an area code, a police.uk category, a
month (``YYYY-MM``, or ``year`` and ``month`` columns) and a count. A boundary file gives each
area's polygon. Counts known per area say nothing about where in the area the crimes were, so the
rule that places them on cells is stated, logged and kept with everything built on them:

``uniform``: each area's count is shared equally among the cells whose centre lies in the area;
an area too small to hold a cell centre gives its count to the cell holding its own centre.

The resolution is the coarsest whose cells are no larger than the median area
(:func:`implied_resolution`): finer cells only repeat their area's value.

Months a source names as incomplete, and months whose total is under ``INCOMPLETE_SHARE`` of the
median month's, are set aside with the reason: a partial pull is not a month with less crime.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from hotspots.core.errors import FormatError, ValidationError
from hotspots.core.textfile import csv_line, read_csv_rows
from hotspots.core.validate import check_resolution
from hotspots.geo import cells as h3cells
from hotspots.geo.areas import NamedAreas, read_boundaries
from hotspots.geo.projection import choose_crs

log = logging.getLogger(__name__)

PLACEMENT_RULES = ("uniform",)
#: A month whose total is under this share of the median month's total is taken for a partial pull.
INCOMPLETE_SHARE = 0.75
_ALIASES = {"area": ("lsoa_code", "lsoa21cd", "area_code", "code", "area"),
            "category": ("category", "crime_type", "crime type", "offence"),
            "count": ("crime_count", "count", "crimes", "n")}
COUNT_COLUMNS = ["h3_cell", "month", "category", "count"]


@dataclass
class AreaCounts:
    """Counts placed on cells, and what was set aside.

    Attributes
    ----------
    counts : COUNT_COLUMNS, one row per cell, month and category with a positive count (a share of
        an area's count: fractional).
    months : the complete months, sorted (``YYYY-MM``).
    incomplete : month -> why it was set aside.
    rejects : rows of the counts file that were not used: line, reason, raw.
    resolution : the H3 resolution of the cells.
    rule : the placement rule, in words.
    areas : number of areas in the boundary file; ``unplaced`` of them hold no cell centre.
    cells : sorted uint64 cells of every area (the region the counts cover), zero counts included.
    """

    counts: pd.DataFrame
    months: list[str]
    incomplete: dict[str, str]
    rejects: pd.DataFrame
    resolution: int
    rule: str
    areas: int
    unplaced: int
    cells: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))


def implied_resolution(area_m2: np.ndarray, lon: float = -1.9, lat: float = 52.5) -> int:
    """The coarsest H3 resolution (7 to 10) whose cells, at (``lon``, ``lat``), are no larger than the
    median area: finer cells only repeat their area's value, coarser ones blur areas together."""
    median = float(np.median(area_m2)) if len(area_m2) else 0.0
    for resolution in (7, 8, 9):
        cell = h3cells.points_to_cells(np.array([lon]), np.array([lat]), resolution)
        if float(h3cells.cell_areas_m2(cell)[0]) <= median:
            return resolution
    return 10


def _column(header: list[str], need: str, path: Path) -> int:
    lower = {h.strip().lower(): i for i, h in enumerate(header)}
    found = next((lower[n] for n in _ALIASES[need] if n in lower), None)
    if found is None:
        raise FormatError(f"{path.name}: a counts table needs an area code, a category, a month and a count; it has no "
                          f"{need} column (one of {', '.join(_ALIASES[need])}); columns: {', '.join(header[:12])}")
    return found


def read_area_counts(counts_path: str | Path, boundaries: str | Path, *, code_field: str | None = None,
                     categories: list[str] | None = None, resolution: int | None = None,
                     incomplete_months: dict[str, str] | None = None, rule: str = "uniform") -> AreaCounts:
    """Read a counts table and place its counts on H3 cells by ``rule``.

    Parameters
    ----------
    counts_path : CSV (gzipped or not) with an area code, category, month and count per row.
    boundaries : boundary file of the areas the codes name.
    code_field : the boundary file's column holding the codes; default: the first column whose
        values match the table's codes.
    categories : keep only these categories (police.uk names); None keeps all.
    resolution : H3 resolution; None for :func:`implied_resolution` of the areas.
    incomplete_months : months the source names as incomplete, with why (``YYYY-MM`` -> text).
    rule : how an area's count is placed on its cells (PLACEMENT_RULES).

    Returns
    -------
    AreaCounts
    """
    if rule not in PLACEMENT_RULES:
        raise ValidationError(f"rule={rule!r} is not known; use one of: {', '.join(PLACEMENT_RULES)}", arguments="rule")
    path = Path(counts_path)
    if not path.is_file():
        raise ValidationError(f"counts: no such file {str(path)!r}", arguments="counts")
    table = read_csv_rows(path)
    header = [h.strip().lower() for h in table.header]
    area_i, category_i, count_i = (_column(table.header, k, path) for k in ("area", "category", "count"))
    month_i = header.index("month") if "month" in header else None
    year_i = header.index("year") if "year" in header else None
    if month_i is None:
        raise FormatError(f"{path.name}: a counts table needs a month column (YYYY-MM, or year and month)")
    frame = pd.DataFrame(table.rows, columns=range(len(table.header))) if table.rows else pd.DataFrame(
        columns=range(len(table.header)))
    month_text = frame[month_i].astype(str).str.strip()
    if year_i is not None:
        month_text = frame[year_i].astype(str).str.strip() + "-" + month_text.str.zfill(2)
    month = pd.to_datetime(month_text, format="%Y-%m", errors="coerce")
    count = pd.to_numeric(frame[count_i], errors="coerce")
    reason = np.full(len(frame), "", dtype=object)
    reason[month.isna().to_numpy()] = "unparseable month (YYYY-MM)"
    bad_count = (count.isna() | (count < 0) | ~np.isfinite(count.fillna(0))).to_numpy() & (reason == "")
    reason[bad_count] = "count is not a number of crimes (0 or more)"
    areas = read_boundaries(boundaries)
    codes = frame[area_i].astype(str).str.strip()
    code_field = code_field or _code_field(areas, set(codes[:1000]))
    known = codes.isin(set(areas[code_field].astype(str)))
    reason[(~known).to_numpy() & (reason == "")] = f"area code not in the boundary file's {code_field}"
    rejects = pd.DataFrame({"line": table.lines, "reason": reason, "raw": [csv_line(r) for r in table.rows]})
    rejects = pd.concat([pd.DataFrame(table.rejected, columns=["line", "reason", "raw"]), rejects[reason != ""]],
                        ignore_index=True).sort_values("line", ignore_index=True)
    ok = reason == ""
    rows = pd.DataFrame({"area": codes[ok].to_numpy(), "category": frame.loc[ok, category_i].astype(str).str.strip(),
                         "month": month[ok].dt.strftime("%Y-%m").to_numpy(), "count": count[ok].to_numpy(float)})
    if categories:
        missing = sorted(set(categories) - set(rows["category"]))
        if missing:
            raise ValidationError(f"categories: {', '.join(map(repr, missing))} not in {path.name}; it has "
                                  f"{', '.join(sorted(rows['category'].unique()))}", arguments="categories")
        rows = rows[rows["category"].isin(categories)]
    incomplete = _incomplete(rows, incomplete_months or {})
    for month_label, why in sorted(incomplete.items()):
        log.info("%s: %s set aside: %s", path.name, month_label, why)
    rows = rows[~rows["month"].isin(incomplete)]
    area_m2, lon, lat = _areas_m2(areas)
    resolution = implied_resolution(area_m2, lon, lat) if resolution is None else check_resolution(resolution)
    placed, region, unplaced = _uniform(rows, areas, code_field, resolution)
    words = (f"counts known per area, not per street: each area's count is shared equally among the "
             f"resolution-{resolution} cells whose centre lies in it (median area "
             f"{np.median(area_m2) / 1e6:.2f} km², {unplaced} areas too small to hold a cell centre give their "
             f"count to the cell holding their own centre)")
    log.info("%s: %s", path.name, words)
    return AreaCounts(counts=placed, months=sorted(rows["month"].unique()), incomplete=incomplete, rejects=rejects,
                      resolution=resolution, rule=words, areas=len(areas), unplaced=unplaced, cells=region)


def _code_field(areas, sample: set[str]) -> str:
    for column in areas.columns:
        if column != "geometry" and sample & set(areas[column].astype(str)):
            return column
    raise ValidationError("code_field: no column of the boundary file holds the counts' area codes; name it",
                          arguments="code_field")


def _areas_m2(areas) -> tuple[np.ndarray, float, float]:
    """Each area's size in m² (in the projection the store would choose for them) and their centre."""
    centre = areas.geometry.union_all().centroid
    return areas.to_crs(choose_crs(np.array([centre.x]), np.array([centre.y]))).area.to_numpy(float), centre.x, centre.y


def _incomplete(rows: pd.DataFrame, named: dict[str, str]) -> dict[str, str]:
    """Months named incomplete by the source, and months whose total is under INCOMPLETE_SHARE of the median."""
    totals = rows.groupby("month")["count"].sum()
    out = {m: f"named incomplete by the source ({why})" for m, why in named.items() if m in totals.index}
    if len(totals):
        median = float(totals.median())
        for month_label, total in totals.items():
            if total < INCOMPLETE_SHARE * median and month_label not in out:
                out[month_label] = (f"{total:,.0f} crimes against a median month's {median:,.0f}: under "
                                    f"{100 * INCOMPLETE_SHARE:g}%, taken for a partial pull")
    return out


def _uniform(rows: pd.DataFrame, areas, code_field: str, resolution: int) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Each area's count shared equally among the cells whose centre lies in it; also the cells of
    every area and how many areas held no cell centre."""
    geometry = shapely.union_all(areas.geometry.to_numpy())
    candidates = h3cells.region_to_cells(geometry, resolution, contain="overlap")
    lon, lat = h3cells.cell_centres(candidates)
    named = NamedAreas(areas[[code_field, "geometry"]].reset_index(drop=True), code_field)
    owner = pd.Series(named.name_of(lon, lat), index=h3cells.to_strings(candidates)).dropna()
    members = pd.DataFrame({"area": owner.to_numpy().astype(str), "h3_cell": owner.index.to_numpy()})
    empty = sorted(set(areas[code_field].astype(str)) - set(members["area"]))
    if empty:
        inside = areas.set_index(areas[code_field].astype(str)).loc[empty].geometry.representative_point()
        cell = h3cells.points_to_cells(inside.x.to_numpy(), inside.y.to_numpy(), resolution)
        members = pd.concat([members, pd.DataFrame({"area": empty, "h3_cell": h3cells.to_strings(cell)})],
                            ignore_index=True)
    share = 1.0 / members.groupby("area")["h3_cell"].transform("size")
    members = members.assign(share=share.to_numpy(float))
    placed = rows.merge(members, on="area", how="inner")
    placed["count"] = placed["count"] * placed["share"]
    out = placed.groupby(["h3_cell", "month", "category"], as_index=False)["count"].sum()
    out = out[out["count"] > 0][COUNT_COLUMNS].reset_index(drop=True)
    region = np.unique(h3cells.from_strings(members["h3_cell"].unique().tolist()))
    return out, region, len(empty)
