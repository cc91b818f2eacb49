"""Cells × periods: counts and harm per H3 cell per period, by offence group, as a tidy table.

Month-only incidents are apportioned over the periods their month overlaps (aoristic), so a
cell's count in a tactical period may be fractional; the counts over all periods still add
up to the number of incidents.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_resolution
from hotspots.crime.offences import vocabulary
from hotspots.geo import cells as h3cells
from hotspots.geo.areas import NamedAreas
from hotspots.geo.periods import Calendar, local_day_numbers

log = logging.getLogger(__name__)

#: Columns of the cell table, in order.
CELL_COLUMNS = [
    "h3_cell", "period", "period_start", "period_end", "offence_group",
    "incidents", "harm", "knife_enabled", "victim_under_25",
]
#: Columns of an incident as counted (a stored incident read back; a data set keeps these).
INCIDENT_COLUMNS = ["incident_id", "occurred_from", "occurred_to", "time_precision", "lon", "lat", "x", "y",
                    "h3_cell", "offence", "offence_group", "knife_enabled", "victim_under_25", "harm_weight",
                    "location"]


def counted_groups(offence_groups: list[str] | None = None, name: str = "offence_group") -> list[str]:
    """The offence groups asked for, checked; by default every group of recorded crime that patrols
    do not find (anti-social behaviour and police-detected offences left out)."""
    vocab = vocabulary()
    groups = sorted(set(vocab.table["offence_group"]))
    if offence_groups:
        for g in offence_groups:
            if g not in groups:
                raise ValidationError(f"{name}={g!r} is not a group; use one of: {', '.join(groups)}", arguments=name)
        return list(offence_groups)
    # Anti-social behaviour is not a crime, and offences found by police activity measure patrols.
    left_out = set(vocab.table.loc[vocab.police_detected(), "offence_group"]) | {"anti_social_behaviour"}
    chosen = [g for g in groups if g not in left_out]
    log.info("offence groups counted (ASB and police-detected offences left out): %s", ", ".join(chosen))
    return chosen


def incident_days(frame: pd.DataFrame, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    """Local day interval ``[start_day, end_day)`` of each incident (exact times cover their day)."""
    start = local_day_numbers(frame["occurred_from"], timezone)
    end = local_day_numbers(frame["occurred_to"], timezone)
    # Intervals are half-open at a local midnight; an exact time has to == from and covers its day.
    exact = (frame["occurred_to"] == frame["occurred_from"]).to_numpy()
    end = np.where(exact, start + 1, end)
    return start, end


def aggregate_cells(
    frame: pd.DataFrame,
    calendar: Calendar,
    resolution: int = 10,
    by_offence_group: bool = True,
) -> pd.DataFrame:
    """Counts and harm per cell, period (and offence group); one row per non-empty combination.

    Parameters
    ----------
    frame : incidents with occurred_from/occurred_to (UTC), lon, lat, offence_group,
        harm_weight, knife_enabled, victim_under_25, shape (n, ...).
    calendar : the periods to count in.
    resolution : H3 resolution of the output cells (7 to 11).
    by_offence_group : one row per offence group (True) or all offences together ("all").
    """
    resolution = check_resolution(resolution)
    if frame.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    cells = h3cells.points_to_cells(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), resolution)
    start, end = incident_days(frame, calendar.timezone)
    rows, periods, weight = calendar.apportion(start, end)
    knife = frame["knife_enabled"].fillna(False).astype(bool).to_numpy()
    under25 = frame["victim_under_25"].fillna(False).astype(bool).to_numpy()
    long = pd.DataFrame(
        {
            "cell": cells[rows],
            "period": periods,
            "offence_group": frame["offence_group"].to_numpy(object)[rows] if by_offence_group else "all",
            "incidents": weight,
            "harm": weight * frame["harm_weight"].to_numpy(float)[rows],
            "knife_enabled": weight * knife[rows],
            "victim_under_25": weight * under25[rows],
        }
    )
    table = long.groupby(["cell", "period", "offence_group"], sort=True, as_index=False).sum()
    table.insert(0, "h3_cell", h3cells.to_strings(table.pop("cell").to_numpy(np.uint64)))
    bounds_start = calendar.start_day(table["period"].to_numpy()).astype("datetime64[D]")
    bounds_end = (calendar.end_day(table["period"].to_numpy()) - 1).astype("datetime64[D]")
    table.insert(2, "period_start", pd.to_datetime(bounds_start).date)
    table.insert(3, "period_end", pd.to_datetime(bounds_end).date)
    table["period"] = calendar.label(table["period"].to_numpy())
    return table[CELL_COLUMNS].sort_values(["period_start", "h3_cell", "offence_group"], ignore_index=True)


def top_cells(table: pd.DataFrame, n: int = 10, by: str = "incidents", names: NamedAreas | None = None) -> pd.DataFrame:
    """The ``n`` cells with the highest total ``by`` over all periods and groups, with shares and centres."""
    if by not in ("incidents", "harm", "knife_enabled", "victim_under_25"):
        raise ValidationError(f"by={by!r} is not a measure; use incidents, harm, knife_enabled or victim_under_25", arguments="by")
    totals = table.groupby("h3_cell", as_index=False)[["incidents", "harm"]].sum()
    grand = totals[["incidents", "harm"]].sum()
    ranked = totals.sort_values(["incidents" if by != "harm" else "harm", "h3_cell"], ascending=[False, True])
    ranked = ranked.head(n).reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    ranked["share_of_incidents"] = ranked["incidents"] / grand["incidents"] if grand["incidents"] else 0.0
    ranked["share_of_harm"] = ranked["harm"] / grand["harm"] if grand["harm"] else 0.0
    lon, lat = h3cells.cell_centres(h3cells.from_strings(ranked["h3_cell"]))
    ranked["lon"], ranked["lat"] = lon.round(6), lat.round(6)
    if names is not None:
        ranked["area"] = names.name_of(lon, lat)
    return ranked


def write_cell_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a table keyed by ``h3_cell`` as CSV, GeoParquet (.parquet) or GeoJSON (.geojson), by extension."""
    import geopandas as gpd

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table.to_csv(path, index=False, float_format="%.6g")
        return path
    if suffix not in (".parquet", ".geojson"):
        raise ValidationError(f"out={str(path)!r}: write .csv, .parquet (GeoParquet) or .geojson", arguments="out")
    cells = h3cells.from_strings(table["h3_cell"].unique())
    polygons = dict(zip(h3cells.to_strings(cells), h3cells.cell_polygons(cells), strict=True))
    frame = gpd.GeoDataFrame(
        table.astype({c: str for c in ("period_start", "period_end") if c in table.columns}),
        geometry=table["h3_cell"].map(polygons).to_numpy(),
        crs="EPSG:4326",
    )
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        if path.exists():
            path.unlink()
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def missing_months(occurred_from: pd.Series, timezone: str) -> list[str]:
    """Months (``YYYY-MM``, local) between the first and the last incident's that hold no incident at all:
    in police data a month with no crime is a month with no file, not a quiet month.

    Parameters
    ----------
    occurred_from : aware start times of the incidents, shape (n,).
    timezone : the zone months are read in.

    Returns
    -------
    list of str, sorted.
    """
    times = pd.to_datetime(pd.Series(occurred_from), utc=True).dropna()
    if times.empty:
        return []
    local = times.dt.tz_convert(timezone).dt.tz_localize(None)
    # Month numbers (year * 12 + month - 1) in NumPy: periods as text for a million rows cost seconds.
    held = np.unique(local.dt.year.to_numpy() * 12 + local.dt.month.to_numpy() - 1)
    span = np.arange(held[0], held[-1] + 1)
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in np.setdiff1d(span, held).tolist()]


def months_text(months: list[str], shown: int = 6) -> str:
    """'2024-02, 2024-03 (and 4 more)': a list of months for a one-line message."""
    more = f" (and {len(months) - shown} more)" if len(months) > shown else ""
    return ", ".join(months[:shown]) + more
