"""Writing a hotspot set: GeoJSON, GeoPackage, KML (for geofencing devices) or CSV, by extension.

Every format carries the same columns: the hotspot table without the geometry, plus the
geofence (as geometry, or as WKT in CSV). Coordinates are WGS84 longitude/latitude.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from hotspots.core.errors import ValidationError
from hotspots.core.tables import write_csv
from hotspots.places.selection import HotspotSet

FORMATS = {".geojson": "GeoJSON", ".gpkg": "GPKG", ".kml": "KML", ".csv": "CSV"}


def hotspot_frame(hs: HotspotSet) -> gpd.GeoDataFrame:
    """The set as a GeoDataFrame in WGS84, one row per hotspot, geometry = geofence."""
    table = hs.hotspots.drop(columns="geofence")
    return gpd.GeoDataFrame(table, geometry=list(hs.hotspots["geofence"]), crs="EPSG:4326")


def write_hotspots(hs: HotspotSet, path: str | Path, layer: str = "hotspots") -> Path:
    """Write the set to ``path``; the format follows the extension (see FORMATS)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValidationError(f"out={str(path)!r}: write one of {', '.join(FORMATS)} (the extension picks the format)", arguments="out")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = hotspot_frame(hs)
    if suffix == ".csv":
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table["geofence_wkt"] = shapely.to_wkt(frame.geometry.values, rounding_precision=7)
        return write_csv(table, path, float_format="%.7g")
    if path.exists():
        path.unlink()  # GDAL appends to an existing GeoPackage or KML rather than replacing it
    if suffix == ".kml":
        # KML shows "Name" as the placemark title and "Description" in its balloon.
        frame = frame.assign(Name=frame["hotspot_id"] + " " + frame["name"],
                             Description=frame["rank"].map(lambda r: f"rank {r}"))
    frame.to_file(path, driver=FORMATS[suffix], layer=layer if suffix in (".gpkg", ".kml") else None, engine="pyogrio")
    return path
