"""Write a synthetic city in the formats the readers read, and draw synthetic NPU areas."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.core.errors import ValidationError
from hotspots.crime.offences import vocabulary
from hotspots.geo.areas import Area
from hotspots.geo.cells import cell_centres
from hotspots.geo.projection import BRITISH_NATIONAL_GRID, project, unproject
from hotspots.synth.city import SyntheticCity

FORMATS = ("police-street", "mapped-csv", "geoparquet", "geojson")
#: Offence codes of the synthetic force export (the mapped-CSV format), as a force's own system might use.
EXPORT_CODES = {
    "violence_with_injury": "VWI", "violence_without_injury": "VWO", "robbery_of_personal_property": "ROB-P",
    "homicide": "HOM", "possession_of_weapons": "POW", "public_order": "PO", "criminal_damage": "CD",
    "theft_from_the_person": "TFP", "shoplifting": "SHOP", "vehicle_crime": "VEH",
}
_MAPPING_TOML = """# Column mapping for the synthetic city's force-export CSV (the format of a CONNECT extract).
[columns]
source_id = "URN"
datetime = "Committed"
offence_code = "Offence Code"
lon = "Longitude"
lat = "Latitude"
knife = "Knife Flag"
victim_age = "Victim Age Band"

[format]
datetime = "%Y-%m-%d %H:%M"
timezone = "Europe/London"

[knife]
true = ["Y"]

[offences]
{offences}
"""


def _age_bands(under25: pd.Series, rng: np.random.Generator) -> np.ndarray:
    young = np.array(["10-17", "18-24"])
    old = np.array(["25-34", "35-44", "45-54", "55+"])
    bands = np.full(len(under25), "", dtype=object)
    yes = (under25 == True).to_numpy()  # noqa: E712  (object column holding True/False/None)
    no = (under25 == False).to_numpy()  # noqa: E712
    bands[yes] = rng.choice(young, yes.sum())
    bands[no] = rng.choice(old, no.sum())
    return bands


def write_city(city: SyntheticCity, folder: str | Path, fmt: str = "police-street") -> list[Path]:
    """Write the incidents to ``folder`` as ``fmt``; returns the files written.

    police-street : one data.police.uk street CSV per month (month-only times, as published).
    mapped-csv : one force-export CSV with exact times, offence codes, knife flag and victim age
        band, plus the mapping file the reader needs.
    geoparquet / geojson : points with canonical properties (source_id, datetime, offence, ...).
    """
    if fmt not in FORMATS:
        raise ValidationError(f"format={fmt!r} is not a synthetic output; use one of: {', '.join(FORMATS)}", arguments="format")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    inc = city.incidents
    seed = city.params.seed
    if fmt == "police-street":
        vocab = vocabulary()
        group = vocab.group_of(inc["offence"].to_numpy())
        label = pd.Series(group).map(vocab.table["label"]).to_numpy()
        crime_id = [hashlib.sha256(i.encode()).hexdigest() for i in inc["incident_id"]]
        month = inc["occurred_at"].dt.strftime("%Y-%m")
        out = pd.DataFrame({
            "Crime ID": crime_id, "Month": month, "Reported by": "Synthetic City Police",
            "Falls within": "Synthetic City Police", "Longitude": inc["lon"].round(6), "Latitude": inc["lat"].round(6),
            "Location": "On or near Synthetic Street", "LSOA code": "", "LSOA name": "", "Crime type": label,
            "Last outcome category": "", "Context": "",
        })
        files = []
        for m, part in out.groupby("Month", sort=True):
            path = folder / f"{m}-synthetic-city-street.csv"
            part.to_csv(path, index=False)
            files.append(path)
        return files
    if fmt == "mapped-csv":
        rng = np.random.default_rng(seed + 1)
        out = pd.DataFrame({
            "URN": inc["incident_id"], "Committed": inc["occurred_at"].dt.strftime("%Y-%m-%d %H:%M"),
            "Offence Code": inc["offence"].map(EXPORT_CODES), "Longitude": inc["lon"].round(6),
            "Latitude": inc["lat"].round(6), "Knife Flag": np.where(inc["knife_enabled"], "Y", "N"),
            "Victim Age Band": _age_bands(inc["victim_under_25"], rng),
        })
        path = folder / f"synthetic-city-export-seed{seed}.csv"
        out.to_csv(path, index=False)
        mapping = folder / "synthetic-city-export.toml"
        mapping.write_text(_MAPPING_TOML.format(offences="\n".join(f'"{v}" = "{k}"' for k, v in EXPORT_CODES.items())))
        return [path, mapping]
    frame = gpd.GeoDataFrame(
        {
            "source_id": inc["incident_id"], "datetime": inc["occurred_at"].map(lambda t: t.isoformat()),
            "offence": inc["offence"], "knife": np.where(inc["knife_enabled"], "true", "false"),
            "victim_under_25": inc["victim_under_25"].map({True: "true", False: "false"}).fillna(""),
        },
        geometry=gpd.points_from_xy(inc["lon"], inc["lat"]), crs="EPSG:4326",
    )
    if fmt == "geoparquet":
        path = folder / f"synthetic-city-seed{seed}.parquet"
        frame.to_parquet(path, index=False)
    else:
        path = folder / f"synthetic-city-seed{seed}.geojson"
        if path.exists():
            path.unlink()
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return [path]


def synthetic_npus(area: Area, n: int = 8, seed: int = 0) -> gpd.GeoDataFrame:
    """Split the force area into ``n`` compact synthetic NPU areas (Voronoi of k-means centres).

    No real NPU boundaries are available, so these are labelled synthetic in every row.
    """
    rng = np.random.default_rng(seed)
    cells = area.cells(8, "centre")

    lon, lat = cell_centres(cells)
    pts = np.column_stack(project(lon, lat, BRITISH_NATIONAL_GRID))
    centres = pts[rng.choice(len(pts), n, replace=False)]
    for _ in range(50):  # Lloyd's k-means; 50 rounds is plenty for a few thousand points
        label = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        centres = np.array([pts[label == k].mean(0) if (label == k).any() else centres[k] for k in range(n)])
    clon, clat = unproject(centres[:, 0], centres[:, 1], BRITISH_NATIONAL_GRID)
    cells_voronoi = shapely.voronoi_polygons(shapely.multipoints(np.column_stack([clon, clat])),
                                            extend_to=shapely.buffer(area.geometry, 0.1))
    polys = []
    for k in range(n):
        seed_pt = shapely.Point(clon[k], clat[k])
        region = next(g for g in cells_voronoi.geoms if g.contains(seed_pt))
        polys.append(shapely.intersection(region, area.geometry))
    order = np.argsort(-clat * 10 + clon)  # number them north-west first, for readable names
    return gpd.GeoDataFrame(
        {"npu": [f"Synthetic NPU {i + 1}" for i in range(n)], "synthetic": True},
        geometry=[polys[k] for k in order], crs="EPSG:4326",
    )
