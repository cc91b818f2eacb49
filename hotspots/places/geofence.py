"""Geofences: the outline of a hotspot's cells, its centroid, area and a readable name.

A name is what a patrol officer recognises: the commonest real street among the hotspot's
incidents and the ward ("Broad Street, Ladywood"). police.uk's anonymised placeholders
("On or near Pedestrian Subway", "Parking Area", "Supermarket", ...) name no street and are never
used. Names are unique in a set: where two hotspots would share one, each adds its next street,
then a grid reference.

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
PLACEHOLDERS = frozenset({
    "", "no location", "parking area", "supermarket", "petrol station", "nightclub", "sports/recreation area",
    "shopping area", "park/open space", "further/higher educational building", "pedestrian subway",
    "theatre/concert hall", "hospital", "police station", "bus/coach station", "train station", "airport/airfield",
    "conference/exhibition centre", "prison", "place of worship", "hotel", "cinema", "school", "university",
    "nursery", "leisure centre", "sports ground", "motorway", "car park", "shopping centre"})


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


def streets_by_count(locations: pd.Series | None) -> list[str]:
    """Real streets among incident locations ("On or near Corporation Street"), commonest first
    (ties alphabetical, so names are stable); placeholders left out."""
    if locations is None:
        return []
    streets = [_ON_OR_NEAR.sub("", str(v)).strip() for v in locations.dropna()]
    counts = Counter(s for s in streets if s.lower() not in PLACEHOLDERS)
    return sorted(counts, key=lambda s: (-counts[s], s))


def street_name(locations: pd.Series | None) -> str | None:
    """The commonest real street among incident locations, or None."""
    streets = streets_by_count(locations)
    return streets[0] if streets else None


def unique_names(locations: list[pd.Series | None], wards: list[str | None], lon: np.ndarray,
                 lat: np.ndarray) -> list[str]:
    """A name per hotspot, unique in the set: "Street, Ward"; where names clash, the next street
    ("Street and Other Street, Ward"), then a grid reference.

    Parameters
    ----------
    locations : each hotspot's incident locations (or None).
    wards : each hotspot's ward (or None).
    lon, lat : each hotspot's centroid, WGS84 degrees.

    Returns
    -------
    list of str
    """
    streets = [streets_by_count(loc) for loc in locations]

    def name(i: int, depth: int) -> str:
        grid = f"{lat[i]:.4f}, {lon[i]:.4f}"
        parts = [" and ".join(streets[i][:depth + 1])] if streets[i] else []
        parts += [str(wards[i])] if wards[i] else []
        if not parts or depth > len(streets[i]) - 1 and depth > 0:
            parts.append(grid)  # no (further) street tells them apart
        return ", ".join(parts)

    depth = [0] * len(streets)
    names = [name(i, 0) for i in range(len(streets))]
    for _ in range(4):
        clash = Counter(names)
        if max(clash.values(), default=1) == 1:
            break
        for i, n in enumerate(names):
            if clash[n] > 1:
                depth[i] += 1
                names[i] = name(i, depth[i])
    return names
