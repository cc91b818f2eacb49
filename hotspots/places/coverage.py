"""Coverage of a hotspot set: what share of the area holds what share of the crime.

The Predictive Accuracy Index (Chainey, Tompson and Uhlig 2008) is the share of incidents in
the hotspots divided by the share of the area they cover: 1 is no better than chance, and
Project Guardian's 57 hotspots (1.4% of the area, 19% of serious youth violence) scored about 13.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspots.crime.offences import serious_youth_violence, vocabulary
from hotspots.geo import cells as h3cells

#: Measures of the coverage table, in order: (key, label).
MEASURES = (
    ("incidents", "all incidents"),
    ("serious_youth_violence", "serious youth violence"),
    ("knife_enabled", "knife-enabled incidents"),
    ("harm", "harm (CCHI days)"),
)
COVERAGE_COLUMNS = ["measure", "in_hotspots", "total", "share", "pai"]


def coverage_table(hotspot_cells: np.ndarray, region_cells: np.ndarray, incidents: pd.DataFrame,
                   resolution: int) -> pd.DataFrame:
    """Share of area and of each measure inside the hotspot cells, with the PAI of each.

    Parameters
    ----------
    hotspot_cells : uint64 cells of the hotspots.
    region_cells : sorted uint64 cells of the region (the force area); incidents outside it are not counted.
    incidents : lon, lat, offence, knife_enabled, victim_under_25, harm_weight; optional offence_group,
        and period_weight (the share of each incident's time interval inside the period counted).
    resolution : H3 resolution of the cells.

    Returns
    -------
    DataFrame with COVERAGE_COLUMNS: first the area row (square metres), then one row per
    measure. A measure the data does not record (victim age, knife flag) has NaN share and PAI.
    """
    region_cells = np.asarray(region_cells, dtype=np.uint64)
    hot = np.isin(region_cells, np.asarray(hotspot_cells, dtype=np.uint64))
    areas = h3cells.cell_areas_m2(region_cells)
    area_in, area_all = float(areas[hot].sum()), float(areas.sum())
    area_share = area_in / area_all if area_all else np.nan
    rows = [{"measure": "area (m²)", "in_hotspots": area_in, "total": area_all, "share": area_share, "pai": 1.0}]

    values = incident_measures(incidents)
    if len(incidents) and region_cells.size:
        cell = h3cells.points_to_cells(incidents["lon"].to_numpy(float), incidents["lat"].to_numpy(float), resolution)
        pos = np.searchsorted(region_cells, cell).clip(max=region_cells.size - 1)
        in_region = region_cells[pos] == cell
        in_hot = in_region & hot[pos]
    else:
        in_region = in_hot = np.zeros(len(incidents), bool)
    for key, label in MEASURES:
        v, known = values[key]
        total = float(v[in_region].sum())
        inside_sum = float(v[in_hot].sum())
        share = inside_sum / total if known and total > 0 else np.nan
        rows.append({"measure": label, "in_hotspots": inside_sum if known else np.nan,
                     "total": total if known else np.nan, "share": share,
                     "pai": share / area_share if area_share else np.nan})
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


def coverage_sentence(n_hotspots: int, table: pd.DataFrame) -> str:
    """'57 hotspots, 1.4% of the area, 19% of serious youth violence, 18.4% of harm', from what the data records."""
    share = table.set_index("measure")["share"]
    parts = [f"{n_hotspots} hotspots", f"{_pct(share['area (m²)'])} of the area"]
    for _, label in MEASURES:
        if np.isfinite(share[label]):
            parts.append(f"{_pct(share[label])} of {label.replace(' (CCHI days)', '')}")
        else:
            parts.append(f"{label} not recorded in this data")
    return ", ".join(parts)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def incident_measures(incidents: pd.DataFrame) -> dict[str, tuple[np.ndarray, bool]]:
    """Each measure's value per incident, and whether the data records it at all."""
    frame = incidents
    if "offence_group" not in frame.columns:
        frame = frame.assign(offence_group=vocabulary().group_of(frame["offence"].to_numpy(object)))
    syv, syv_known = serious_youth_violence(frame) if len(frame) else (np.zeros(0, bool), False)
    knife = frame["knife_enabled"]
    # An incident known only to a month counts in a period by the share of its month inside it.
    share = frame["period_weight"].to_numpy(float) if "period_weight" in frame.columns else np.ones(len(frame))
    return {
        "incidents": (share, True),
        "serious_youth_violence": (share * syv, syv_known),
        "knife_enabled": (share * knife.fillna(False).astype(float).to_numpy(), bool(knife.notna().any())),
        "harm": (share * frame["harm_weight"].to_numpy(float), True),
    }


def hotspot_measures(members: pd.DataFrame, incidents: pd.DataFrame, resolution: int) -> pd.DataFrame:
    """Each measure summed over each hotspot's cells; NaN for a measure the data does not record.

    members : hotspot_id and h3_cell (a HotspotSet's members).
    Returns one row per hotspot_id with a column per measure key.
    """
    keys = [k for k, _ in MEASURES]
    ids = members["hotspot_id"].drop_duplicates().to_numpy()
    out = pd.DataFrame({"hotspot_id": ids})
    values = incident_measures(incidents)
    if len(incidents):
        cell = h3cells.to_strings(h3cells.points_to_cells(incidents["lon"].to_numpy(float),
                                                          incidents["lat"].to_numpy(float), resolution))
        owner = pd.Series(members["hotspot_id"].to_numpy(), index=members["h3_cell"].to_numpy())
        which = owner.reindex(cell).to_numpy()
    else:
        which = np.zeros(0, dtype=object)
    for key in keys:
        v, known = values[key]
        sums = pd.Series(v).groupby(which).sum() if len(v) else pd.Series(dtype=float)
        out[key] = sums.reindex(ids, fill_value=0.0).to_numpy() if known else np.nan
    return out
