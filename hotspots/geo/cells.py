"""H3 cells: points to cells, regions to cells, areas, neighbourhoods, parents and children.

Cells are ``uint64`` arrays inside the engine and lower-case hex strings (the H3 standard
form) in tables, files and the store. The vectorised work is done by h3ronpy (Rust), one
call per array; scalar h3-py is used only where arrays are small (a neighbourhood ring).
"""

from __future__ import annotations

import h3ronpy
import numpy as np
import pyarrow as pa
import shapely
from h3ronpy import cells_area_m2, cells_parse, cells_to_string, change_resolution, grid_disk
from h3ronpy.vector import (
    ContainmentMode,
    cells_to_coordinates,
    cells_to_wkb_polygons,
    coordinates_to_cells,
    geometry_to_cells,
)

from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_resolution

#: Names the library that indexes cells, for keys of stored results that depend on it.
LIBRARY_VERSION = f"h3ronpy {h3ronpy.__version__}"

_CONTAINMENT = {
    # Every cell the region touches: narrow parts (a canal towpath, a thin ward arm) keep their cells.
    "overlap": ContainmentMode.IntersectsBoundary,
    # Cells whose centre lies inside: the classic polyfill, loses slivers.
    "centre": ContainmentMode.ContainsCentroid,
    # Only cells wholly inside the region.
    "inside": ContainmentMode.ContainsBoundary,
}


_FINEST = 15


def _np(arr) -> np.ndarray:
    return pa.array(arr).to_numpy(zero_copy_only=False)


def points_to_cells(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """Index WGS84 points (degrees, shape (n,)) to H3 cells at ``resolution``; uint64, shape (n,)."""
    resolution = check_resolution(resolution)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    if lon.shape != lat.shape:
        raise ValidationError(f"lon and lat differ in shape: {lon.shape} and {lat.shape}")
    if lon.size == 0:
        return np.zeros(0, dtype=np.uint64)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise ValidationError("points_to_cells: coordinates contain NaN or infinity; reject those rows first")
    return _np(coordinates_to_cells(lat, lon, resolution)).astype(np.uint64, copy=False)


def to_strings(cells: np.ndarray) -> np.ndarray:
    """uint64 cells to their hex strings (object array)."""
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.size == 0:
        return np.array([], dtype=object)
    return np.asarray(cells_to_string(pa.array(cells)).to_pylist(), dtype=object)


def from_strings(cells) -> np.ndarray:
    """Hex strings to uint64 cells; an invalid string raises a HotspotsError naming it."""
    strings = [str(c) for c in cells]
    if not strings:
        return np.zeros(0, dtype=np.uint64)
    parsed = cells_parse(pa.array(strings), set_failing_to_invalid=True)
    out = _np(parsed)
    if parsed.null_count:
        bad = next(s for s, v in zip(strings, parsed.to_pylist(), strict=True) if v is None)
        raise ValidationError(f"cell={bad!r} is not an H3 cell; cells look like '8a195c044667fff'", arguments="cell")
    return out.astype(np.uint64, copy=False)


def cell_centres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre of each cell as (lon, lat) in degrees."""
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.size == 0:
        return np.zeros(0), np.zeros(0)
    batch = cells_to_coordinates(pa.array(cells))
    return _np(batch.column("lng")), _np(batch.column("lat"))


def cell_areas_m2(cells: np.ndarray) -> np.ndarray:
    """Area of each cell on the sphere, in square metres."""
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.size == 0:
        return np.zeros(0)
    return _np(cells_area_m2(pa.array(cells)))


def cell_polygons(cells: np.ndarray) -> np.ndarray:
    """Cell outlines as shapely Polygons in WGS84 (object array)."""
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.size == 0:
        return np.array([], dtype=object)
    return shapely.from_wkb(np.asarray(cells_to_wkb_polygons(pa.array(cells)).to_pylist(), dtype=object))


def region_to_cells(geometry, resolution: int, contain: str = "overlap") -> np.ndarray:
    """Cells covering a WGS84 (Multi)Polygon, sorted and unique.

    ``contain="overlap"`` (the default) keeps every cell the region touches, so narrow parts
    are not lost; ``"centre"`` keeps cells whose centre is inside; ``"inside"`` only cells
    wholly inside.
    """
    resolution = check_resolution(resolution)
    if contain not in _CONTAINMENT:
        raise ValidationError(f"contain={contain!r} is not known; use one of: {', '.join(_CONTAINMENT)}", arguments="contain")
    if geometry is None or shapely.is_empty(geometry):
        return np.zeros(0, dtype=np.uint64)
    # Boundary files often carry a Z ordinate that the H3 parser refuses.
    parts = getattr(shapely.force_2d(geometry), "geoms", None) or [shapely.force_2d(geometry)]
    found = [_np(geometry_to_cells(p, resolution, containment_mode=_CONTAINMENT[contain])) for p in parts]
    return np.unique(np.concatenate(found).astype(np.uint64)) if found else np.zeros(0, dtype=np.uint64)


def k_ring(cells: np.ndarray, k: int) -> np.ndarray:
    """All cells within ``k`` steps of any of ``cells`` (the cells themselves included), unique."""
    cells = np.asarray(cells, dtype=np.uint64)
    if k < 0:
        raise ValidationError(f"k={k!r} must be zero or more rings", arguments="k")
    if cells.size == 0:
        return cells
    disks = grid_disk(pa.array(cells), k, flatten=True)
    return np.unique(_np(disks).astype(np.uint64))


def to_parent(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Each cell's ancestor at a coarser ``resolution`` (shape kept)."""
    resolution = check_resolution(resolution)
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.size == 0:
        return cells
    return _np(change_resolution(pa.array(cells), resolution)).astype(np.uint64)


def to_children(cells: np.ndarray, resolution: int) -> np.ndarray:
    """All descendants of ``cells`` at a finer ``resolution`` (up to H3's finest, 15), sorted and unique.

    Finer cells than the analysis resolutions are allowed here: kernel density bins incidents
    into children one or two resolutions below the cells it reports.
    """
    if isinstance(resolution, bool) or int(resolution) != resolution or not 0 <= int(resolution) <= _FINEST:
        raise ValidationError(f"resolution={resolution!r} must be a whole number from 0 to {_FINEST}", arguments="resolution")
    resolution = int(resolution)
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.size == 0:
        return cells
    return np.unique(_np(change_resolution(pa.array(cells), resolution)).astype(np.uint64))
