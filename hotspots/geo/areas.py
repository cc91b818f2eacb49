"""Force area and named areas (NPUs, wards, local authorities) from boundary files.

Boundaries are read with pyogrio (GeoPackage, GeoJSON, shapefile, anything GDAL reads) and
kept in WGS84. Point-in-area tests first look points up among the H3 cells wholly inside
the area, and run the exact polygon test only for points in cells that straddle its edge,
which is what makes a 50,000-vertex force outline cheap for a million points.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from hotspots.core.errors import FormatError, ValidationError
from hotspots.geo import cells as h3cells

log = logging.getLogger(__name__)

# Resolution of the interior-cell lookup: 9 cells (~0.1 km²) leave few points on the edge.
_LOOKUP_RESOLUTION = 9


def read_boundaries(path: str | Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a boundary file (any GDAL format; gzipped with ``.gz``) into WGS84; a missing or unreadable
    file is a user error."""
    p = Path(path)
    if not p.exists():
        raise ValidationError(f"boundary file {str(p)!r} does not exist; check the path")
    source = f"/vsigzip/{p.resolve()}" if p.suffix == ".gz" else p  # GDAL reads a gzipped file through itself
    try:
        frame = gpd.read_file(source, layer=layer, engine="pyogrio")
    except Exception as exc:  # GDAL raises many types; all mean "not a boundary file"
        raise FormatError(f"{str(p)!r} is not a readable boundary file ({type(exc).__name__}: {exc})") from None
    if frame.empty or frame.geometry.isna().all():
        raise FormatError(f"{str(p)!r} holds no geometries")
    if frame.crs is None:
        log.warning("%s has no CRS; assuming WGS84 longitude/latitude", p)
        frame = frame.set_crs("EPSG:4326")
    frame = frame.to_crs("EPSG:4326")
    frame["geometry"] = shapely.force_2d(shapely.make_valid(frame.geometry.values))
    return frame


@dataclass
class Area:
    """One polygonal area in WGS84 with a fast vectorised point-in-area test.

    ``store``, when given, keeps the area's cell sets between processes (an
    :class:`~hotspots.core.filecache.ArrayFileCache`): covering the West Midlands outline with
    resolution-9 cells takes 1.4 s, which every ``hotspots ingest`` paid before its first row.
    """

    geometry: shapely.Geometry
    name: str = "area"
    store: MutableMapping[str, np.ndarray] | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_file(cls, path: str | Path, layer: str | None = None,
                  store: MutableMapping[str, np.ndarray] | None = None) -> Area:
        frame = read_boundaries(path, layer)
        return cls(geometry=shapely.union_all(frame.geometry.values), name=Path(path).stem, store=store)

    @cached_property
    def _digest(self) -> hashlib.blake2b:
        """What the area's cells depend on: its outline, and the H3 library that covers it."""
        return hashlib.blake2b(shapely.to_wkb(self.geometry) + h3cells.LIBRARY_VERSION.encode(), digest_size=16)

    @cached_property
    def _lookup(self) -> tuple[np.ndarray, np.ndarray]:
        inside = self.cells(_LOOKUP_RESOLUTION, contain="inside")
        touching = self.cells(_LOOKUP_RESOLUTION, contain="overlap")
        shapely.prepare(self.geometry)
        return inside, touching

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Boolean array: is each WGS84 point inside (or on the edge of) the area?"""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        result = np.zeros(lon.shape, dtype=bool)
        finite = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        if not finite.any():
            return result
        inside, touching = self._lookup
        idx = np.flatnonzero(finite)
        cells = h3cells.points_to_cells(lon[idx], lat[idx], _LOOKUP_RESOLUTION)
        surely_in = _isin_sorted(cells, inside)
        maybe = ~surely_in & _isin_sorted(cells, touching)
        result[idx[surely_in]] = True
        check = idx[maybe]
        result[check] = shapely.intersects_xy(self.geometry, lon[check], lat[check])
        return result

    def cells(self, resolution: int, contain: str = "overlap") -> np.ndarray:
        """The H3 cells of the area (cached per resolution and containment)."""
        key = (resolution, contain)
        if key not in self._cache:
            self._cache[key] = self._stored_cells(resolution, contain)
        return self._cache[key]

    def _stored_cells(self, resolution: int, contain: str) -> np.ndarray:
        if self.store is None:
            return h3cells.region_to_cells(self.geometry, resolution, contain)
        digest = self._digest.copy()
        digest.update(f"{resolution}:{contain}".encode())
        key = digest.hexdigest()
        try:
            return self.store[key]
        except KeyError:
            cells = h3cells.region_to_cells(self.geometry, resolution, contain)
            self.store[key] = cells
            return cells


def _isin_sorted(values: np.ndarray, sorted_unique: np.ndarray) -> np.ndarray:
    if sorted_unique.size == 0:
        return np.zeros(values.shape, dtype=bool)
    pos = np.searchsorted(sorted_unique, values).clip(max=sorted_unique.size - 1)
    return sorted_unique[pos] == values


@dataclass
class NamedAreas:
    """A set of named polygons (wards, NPUs, ...) for labelling points and cells."""

    frame: gpd.GeoDataFrame
    name_field: str

    @classmethod
    def from_file(cls, path: str | Path, name_field: str | None = None, layer: str | None = None) -> NamedAreas:
        frame = read_boundaries(path, layer)
        if name_field is None:
            candidates = [c for c in frame.columns if c.lower().endswith("nm") or c.lower() in {"name", "npu"}]
            if not candidates:
                raise ValidationError(
                    f"name_field: cannot tell which column of {str(path)!r} names the areas; "
                    f"pass one of: {', '.join(c for c in frame.columns if c != 'geometry')}", arguments="name_field"
                )
            name_field = candidates[0]
        if name_field not in frame.columns:
            raise ValidationError(
                f"name_field={name_field!r} is not a column of {str(path)!r}; "
                f"use one of: {', '.join(c for c in frame.columns if c != 'geometry')}", arguments="name_field"
            )
        return cls(frame=frame[[name_field, "geometry"]].reset_index(drop=True), name_field=name_field)

    @property
    def names(self) -> list[str]:
        return [str(n) for n in self.frame[self.name_field]]

    def name_of(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Name of the area containing each point, or None where no area does (object array)."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        out = np.full(lon.shape, None, dtype=object)
        if lon.size == 0:
            return out
        # Area by area, each prepared, on the points inside its bounds not yet named: a few areas of
        # many vertices (NPU outlines) against tens of thousands of cell centres. A point on a shared
        # border belongs to the first area listed, deterministically.
        for name, geom in zip(self.names, self.frame.geometry.values, strict=True):
            if geom is None or shapely.is_empty(geom):
                continue
            x0, y0, x1, y1 = shapely.bounds(geom)
            todo = np.flatnonzero((out == None) & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))  # noqa: E711
            if todo.size:
                shapely.prepare(geom)
                out[todo[shapely.intersects_xy(geom, lon[todo], lat[todo])]] = name
        return out
