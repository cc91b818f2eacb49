"""The real data sets the predictor benchmark backtests: each read as an analyst would (its own
reader or mapping, periods, time zone, target), and the West Midlands LSOA-month counts as units.

Data sets live in ../shared/data/real; a set that is not there is left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.config import SHIPPED_DATA
from hotspots.crime.offences import vocabulary
from hotspots.geo import cells as h3cells
from hotspots.geo.periods import Calendar
from hotspots.ingest.files import IngestOptions, normalise_files
from models.features import CellHistory
from models.target import parse_target

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
MAPPINGS = Path(__file__).resolve().parent / "mappings"
VIOLENCE = "Violence and sexual offences,Robbery"


@dataclass
class RealSet:
    """A real data set as the benchmark backtests it: files read with their own options, periods, target."""

    name: str
    parts: list[tuple[list[Path], IngestOptions]]
    calendar: Calendar
    target: str
    periods: int

    def incidents(self, res: int) -> pd.DataFrame:
        frames = []
        for paths, opts in self.parts:
            opts.h3_resolution = res
            frame, _rejects, _ = normalise_files(paths, opts)
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        out.attrs = frames[0].attrs
        return out


def _mapped(path: Path, mapping: str, timezone: str | None = None) -> tuple[list[Path], IngestOptions]:
    return [path], IngestOptions(fmt="mapped-csv", mapping=str(MAPPINGS / mapping), **(
        {"timezone": timezone} if timezone else {}))


def real_sets() -> list[RealSet]:
    """Every real data set with enough history that is here (the shipped Birmingham sample always is)."""
    london = REAL / "police_uk_street_other_forces" / "city_of_london"
    other = REAL / "other_incidents" / "crimemappingdata"
    sets = []
    if london.is_dir():
        sets.append(RealSet("City of London street crime 2018-01..2021-09 (police.uk, months)",
                            [([london], IngestOptions())], Calendar("month"), VIOLENCE, 12))
    sets.append(RealSet("Birmingham city centre 2017-01..11 (police API, months; short)",
                        [([SHIPPED_DATA / "samples" / "birmingham_city_centre_police_api_2017-01_to_2017-11.csv.gz"],
                          IngestOptions())], Calendar("month"), VIOLENCE, 4))
    if not other.is_dir():
        return sets
    sets += [
        RealSet("Cincinnati burglary 2016..2018 (exact dates, 28-day periods)",
                [_mapped(other / "cincinnati_burglary.csv.gz", "cincinnati.toml", "America/New_York")],
                Calendar("tactical", dt.date(2016, 1, 4), 28, "America/New_York"), "Burglary", 12),
        RealSet("Vancouver thefts from and of vehicles 2020 (minutes over five date columns, 28-day periods)",
                [_mapped(other / "vancouver_thefts.csv.gz", "vancouver.toml", "America/Vancouver")],
                Calendar("tactical", dt.date(2020, 1, 6), 28, "America/Vancouver"), "Vehicle crime", 12),
        RealSet("Nottingham burglary and robbery 2022 (police.uk, months)",
                [_mapped(other / "nottingham_burglary.csv.gz", "nottingham_burglary.toml"),
                 _mapped(other / "nottingham_robbery.csv.gz", "nottingham_robbery.toml")],
                Calendar("month"), "Burglary,Robbery", 12),
        RealSet("Lancashire anti-social behaviour 2022 (police.uk, months)",
                [_mapped(other / "lancashire_asb.tab", "police_uk_asb.toml")], Calendar("month"),
                "Anti-social behaviour", 12),
        RealSet("Northumbria anti-social behaviour 2022-01..11 (police.uk, months)",
                [_mapped(other / "northumbria_asb.tab", "police_uk_asb.toml")], Calendar("month"),
                "Anti-social behaviour", 12),
    ]
    return sets


def real_history(rs: RealSet, res: int) -> CellHistory:
    """The set's incidents counted on their cells and the two rings around them."""
    frame = rs.incidents(res)
    cells = h3cells.k_ring(np.unique(h3cells.points_to_cells(frame["lon"].to_numpy(), frame["lat"].to_numpy(), res)), 2)
    return CellHistory(frame, cells, rs.calendar, parse_target(rs.target), frame.attrs["projected_crs"])


#: The West Midlands LSOA-month counts' runs of twelve complete months (README.txt beside the data).
LSOA_RUNS = (("2023-09", "2024-08"), ("2025-04", "2026-03"))


def lsoa_history(first: str, last: str, target: str = VIOLENCE) -> CellHistory | None:
    """West Midlands police.uk counts per LSOA and month, one LSOA per unit: each count becomes that many
    incidents at its LSOA's representative point (one resolution-10 cell each), and the units' areas are
    the LSOAs' own, so PAI is a share of the force area. None when the data is not here."""
    import geopandas as gpd

    from hotspots.geo.areas import read_boundaries

    folder = REAL / "west_midlands" / "lsoa_month_counts"
    boundaries = REAL / "boundaries" / "west_midlands" / "lsoa.geojson.gz"
    if not folder.is_dir() or not boundaries.is_file():
        return None
    months = pd.period_range(first, last, freq="M")
    rows = pd.concat([pd.read_csv(folder / f"{m}.csv.gz") for m in months], ignore_index=True)
    lsoas = read_boundaries(boundaries)
    code = next(c for c in lsoas.columns if c.lower().startswith("lsoa") and c.lower().endswith("cd"))
    points = lsoas.geometry.representative_point()
    lookup = pd.DataFrame({"lon": points.x.to_numpy(), "lat": points.y.to_numpy(),
                           "area_m2": gpd.GeoSeries(lsoas.geometry, crs="EPSG:4326").to_crs("EPSG:27700").area.to_numpy()},
                          index=lsoas[code].astype(str))
    rows = rows[rows["lsoa_code"].isin(lookup.index) & (rows["crime_count"] > 0)]
    rows = rows.loc[rows.index.repeat(rows["crime_count"].astype(int))].reset_index(drop=True)
    codes, _known = vocabulary().lookup(rows["category"].to_numpy(object))
    start = pd.to_datetime(rows["year"].astype(str) + "-" + rows["month"].astype(str).str.zfill(2) + "-01")
    frame = pd.DataFrame({
        "incident_id": np.arange(len(rows)).astype(str), "offence": codes,
        "offence_group": vocabulary().group_of(codes),
        "occurred_from": start.dt.tz_localize("Europe/London").dt.tz_convert("UTC"),
        "occurred_to": (start + pd.offsets.MonthBegin(1)).dt.tz_localize("Europe/London").dt.tz_convert("UTC"),
        "lon": lookup["lon"].reindex(rows["lsoa_code"]).to_numpy(), "lat": lookup["lat"].reindex(rows["lsoa_code"]).to_numpy(),
        "harm_weight": np.nan, "knife_enabled": False, "victim_under_25": np.nan})
    cells = h3cells.points_to_cells(lookup["lon"].to_numpy(), lookup["lat"].to_numpy(), 10)
    history = CellHistory(frame, cells, Calendar("month"), parse_target(target), "EPSG:27700")
    # Each unit is an LSOA: its area, not its cell's (two LSOAs never share a resolution-10 cell here).
    order = np.argsort(cells)
    if np.unique(cells).size != cells.size:
        raise ValueError("two LSOAs share a cell; use a finer resolution")
    history.__dict__["areas_m2"] = lookup["area_m2"].to_numpy()[order]
    return history
