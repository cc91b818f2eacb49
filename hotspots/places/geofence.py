"""Geofences: the outline of a hotspot's cells, its centroid, area and a readable name.

A geofence is the union of the hotspot's H3 cells, computed in the projected metric CRS and
optionally smoothed by a morphological closing (buffer out, then back in by the same distance):
closing fills the notches between hexagons and small gaps but never uncovers a cell, so every
incident counted in a cell is inside its geofence.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
import shapely

from hotspots.geo import cells as h3cells
from hotspots.geo.projection import project, unproject

_ON_OR_NEAR = re.compile(r"^\s*on or near\s+", re.IGNORECASE)
# police.uk anonymised locations that name no street are no help as a name.
_NOT_A_STREET = {"", "no location", "parking area", "supermarket", "petrol station", "nightclub",
                 "sports/recreation area", "shopping area", "park/open space", "further/higher educational building"}


def geofence(cells: np.ndarray, crs: str, smooth_m: float = 0.0) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Outline of ``cells`` as (WGS84 geometry, projected geometry), smoothed by ``smooth_m`` metres."""
    polygons = h3cells.cell_polygons(np.asarray(cells, dtype=np.uint64))
    projected = _transform(polygons, crs, forward=True)
    # Adjacent hexagons share edges only to within floating error after projection; a tiny
    # buffer makes the union seamless (no slivers between cells).
    shape = shapely.union_all(shapely.buffer(projected, 0.01, join_style="mitre"))
    if smooth_m > 0:
        shape = shape.buffer(smooth_m, quad_segs=4).buffer(-smooth_m, quad_segs=4)
    shape = shapely.make_valid(shape.simplify(0.05))
    return _transform(np.array([shape], dtype=object), crs, forward=False)[0], shape


def _transform(geoms: np.ndarray, crs: str, forward: bool) -> np.ndarray:
    def move(coords: np.ndarray) -> np.ndarray:
        if forward:
            x, y = project(coords[:, 0], coords[:, 1], crs)
        else:
            x, y = unproject(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([x, y])

    return shapely.transform(geoms, move)


def street_name(locations: pd.Series) -> str | None:
    """The most common street among incident locations ("On or near Corporation Street")."""
    streets = [_ON_OR_NEAR.sub("", str(v)).strip() for v in locations.dropna()]
    streets = [s for s in streets if s.lower() not in _NOT_A_STREET]
    if not streets:
        return None
    counts = Counter(streets)
    best = max(counts.values())
    return min(s for s, c in counts.items() if c == best)  # ties: alphabetical, so names are stable


def hotspot_name(street: str | None, area: str | None, centroid_lon: float, centroid_lat: float) -> str:
    """Street and area, e.g. "Corporation Street, Ladywood"; what is known of the two, else a grid reference."""
    parts = [str(p) for p in (street, area) if p]
    return ", ".join(parts) if parts else f"{centroid_lat:.4f}, {centroid_lon:.4f}"
