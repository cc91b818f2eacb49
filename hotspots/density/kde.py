"""Kernel density of incidents at H3 cells: the surface every hotspot map and forecast starts from.

Two modes give the same quantity:

* ``exact`` — every incident adds its kernel to every cell centre within the kernel's reach.
* ``binned`` — incidents are first summed into the children of the cells ``bin_offset``
  resolutions finer, then each occupied child spreads its total from its centre with the same
  kernel. An incident snaps to the child nearest the centre of the small square pixel it falls
  in (a table built once per region), so it moves at most ``max_displacement_m``, under 1.4 child
  circumradii; for a kernel with a finite slope the surface is then off by at most
  ``error_bound_per_km2`` at each cell, which is reported with every binned result. Measured
  errors are far smaller (``benchmarks/results/kde.md``). Incidents in no labelled pixel
  (outside the region) are not snapped but kept exactly where they are.

Coordinates are projected metres; the density is weight per km², and ``expected`` is the
density at the cell centre times the cell's area: incidents (or harm) expected in the cell.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.core.numba_config import threads
from hotspots.core.validate import check_choice, check_positive
from hotspots.density._kde_numba import bucket_sort, density_sums, lookup_labels, nearest_centre, weight_near
from hotspots.density.kernels import DEFAULT_KERNEL, DEFAULT_TRUNCATE, Kernel, get_kernel
from hotspots.geo import cells as h3cells
from hotspots.geo.projection import check_crs, project

log = logging.getLogger(__name__)

MODES = ("exact", "binned")
DEFAULT_BIN_OFFSET = 1
#: Columns of the density table, in order.
KDE_COLUMNS = ["h3_cell", "lon", "lat", "density_per_km2", "expected"]

# Buckets half the kernel's reach wide: a target reads ~1.7x the sources it needs in ~5 runs.
# Narrower buckets read fewer but shorter runs; 2 to 4 per reach timed the same within noise on
# 1M incidents, and wider buckets sort faster.
_BUCKETS_PER_REACH = 2
# Targets taken by a thread at a time; consecutive targets share most of their sources.
_TARGETS_PER_BLOCK = 256
# Runs the counting sort is cut into (any number gives the same order; this many keeps both
# cores busy without a large count table).
_SORT_CHUNKS = 8
_M2_PER_KM2 = 1e6


@dataclass(frozen=True)
class _Grid:
    x0: float
    y0: float
    size: float
    ncols: int
    nrows: int


def _grid_around(tx: np.ndarray, ty: np.ndarray, radius: float, size: float, most: int) -> _Grid:
    """A grid of ``size``-metre squares covering the points ``tx, ty`` plus ``radius``, coarser if
    it would need more than ``most`` squares."""
    x0, y0 = float(tx.min()) - radius, float(ty.min()) - radius
    width, height = float(tx.max()) + radius - x0, float(ty.max()) + radius - y0
    if (width / size + 1) * (height / size + 1) > most:
        size = math.sqrt(width * height / most) + 1e-9 * max(width, height)
    return _Grid(x0, y0, size, int(width / size) + 1, int(height / size) + 1)


def _spatial_order(tx: np.ndarray, ty: np.ndarray) -> np.ndarray:
    """Targets in 256 m strips from south to north, west to east within a strip: consecutive
    targets are neighbours and share most of their sources."""
    return np.lexsort((tx, np.floor(ty / 256.0)))


def _block_order(n_targets: int) -> np.ndarray:
    """Blocks dealt round-robin, so each thread's static share is spread over the whole map."""
    n_blocks = -(-n_targets // _TARGETS_PER_BLOCK)
    t = max(threads(), 1)
    return np.concatenate([np.arange(j, n_blocks, t) for j in range(t)]).astype(np.int64)


def _kernel_sums(x, y, w, tx, ty, kernel: Kernel, bandwidth: float, ordered: bool = False) -> np.ndarray:
    """Unnormalised kernel sums at the targets (validated float64 arrays in, shape (len(tx),) out).

    ``ordered``: the targets are already in :func:`_spatial_order` (cached for a region's cells).
    """
    if tx.size == 0 or x.size == 0:
        return np.zeros(tx.size)
    radius = kernel.reach * bandwidth
    # A few widely spread targets with a small radius would otherwise need millions of empty buckets.
    grid = _grid_around(tx, ty, radius, radius / _BUCKETS_PER_REACH, 4 * (x.size + tx.size) + 1024)
    sx, sy, sw, starts = bucket_sort(x, y, w, grid.x0, grid.y0, grid.size, grid.ncols, grid.nrows, _SORT_CHUNKS)
    order = None if ordered else _spatial_order(tx, ty)
    if order is not None:
        tx, ty = np.ascontiguousarray(tx[order]), np.ascontiguousarray(ty[order])
    sums = density_sums(tx, ty, _block_order(tx.size), _TARGETS_PER_BLOCK, sx, sy, sw, starts, grid.x0, grid.y0,
                        grid.size, grid.ncols, grid.nrows, kernel.code, float(bandwidth), kernel.reach)
    if order is None:
        return sums
    return _unsort(sums, order)


def _coords(x, y, name: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    y = np.ascontiguousarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValidationError(f"{name}: x has {x.size} values but y has {y.size}; give one x and one y per point", arguments=name)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValidationError(f"{name}: {int((~np.isfinite(x) | ~np.isfinite(y)).sum())} coordinates are NaN or infinite; drop those points first", arguments=name)
    return x, y


def _weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.ascontiguousarray(weights, dtype=np.float64).ravel()
    if w.size != n:
        raise ValidationError(f"weights: {w.size} values for {n} points; give one weight per point", arguments="weights")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError("weights must be finite and not negative (a harm weight is days of imprisonment, >= 0)")
    return w


def _bandwidth(bandwidth) -> float:
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, int | float | np.floating | np.integer):
        raise ValidationError(f"bandwidth={bandwidth!r} must be a distance in metres, e.g. 400", arguments="bandwidth")
    return float(check_positive(float(bandwidth), "bandwidth", "metres (e.g. 400)"))


def density_at(x, y, target_x, target_y, *, bandwidth: float, kernel: str = DEFAULT_KERNEL, weights=None,
               truncate: float = DEFAULT_TRUNCATE) -> np.ndarray:
    """Exact kernel density at arbitrary points.

    Parameters
    ----------
    x, y : incident coordinates in projected metres, shape (n,).
    target_x, target_y : where to evaluate, projected metres, shape (m,).
    bandwidth : kernel bandwidth in metres (the radius of compact kernels, the SD of the Gaussian).
    kernel : a name from :data:`hotspots.density.kernels.KERNEL_NAMES`.
    weights : weight of each incident, shape (n,); ``None`` for one each.
    truncate : where the Gaussian is cut, in bandwidths.

    Returns
    -------
    density : weight per square metre at each target, shape (m,).
    """
    k = get_kernel(kernel, truncate)
    h = _bandwidth(bandwidth)
    x, y = _coords(x, y, "incidents")
    tx, ty = _coords(target_x, target_y, "targets")
    return _kernel_sums(x, y, _weights(weights, x.size), tx, ty, k, h) * (k.norm / (h * h))


@dataclass
class CellDensity:
    """A kernel-density surface on H3 cells.

    Attributes
    ----------
    cells : H3 cells (uint64), shape (m,).
    density_per_km2 : weight per km² at each cell centre, shape (m,).
    expected : density times cell area: weight expected in each cell, shape (m,).
    kernel, bandwidth_m, mode : how it was computed.
    total_weight : the summed incident weight that went in.
    bin_resolution : H3 resolution incidents were binned at (binned mode only).
    max_displacement_m : furthest any incident was moved by binning (binned mode only).
    error_bound_per_km2 : worst-case |binned - exact| at each cell, shape (m,), from the kernel's
        steepest slope, ``max_displacement_m`` and the weight binned near the cell; ``None`` in
        exact mode or for kernels with a jump (uniform, truncated Gaussian).
    """

    cells: np.ndarray
    density_per_km2: np.ndarray
    expected: np.ndarray
    kernel: str
    bandwidth_m: float
    mode: str
    total_weight: float
    bin_resolution: int | None = None
    max_displacement_m: float | None = None
    error_bound_per_km2: np.ndarray | None = None
    notes: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The density table (:data:`KDE_COLUMNS`), one row per cell, highest density first."""
        lon, lat = h3cells.cell_centres(self.cells)
        frame = pd.DataFrame({
            "h3_cell": h3cells.to_strings(self.cells),
            "lon": lon.round(6),
            "lat": lat.round(6),
            "density_per_km2": self.density_per_km2,
            "expected": self.expected,
        })
        frame = frame.sort_values(["density_per_km2", "h3_cell"], ascending=[False, True], ignore_index=True)
        frame.attrs.update({"kernel": self.kernel, "bandwidth_m": self.bandwidth_m, "mode": self.mode,
                            "total_weight": self.total_weight, **self.notes})
        if self.mode == "binned":
            frame.attrs.update(bin_resolution=self.bin_resolution, max_displacement_m=self.max_displacement_m)
        return frame


class _CellSet:
    """A cell array hashed by content, so lattices can be cached per region."""

    def __init__(self, cells: np.ndarray):
        self.cells = cells
        self.digest = hashlib.blake2b(cells.tobytes(), digest_size=16).hexdigest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other) -> bool:
        return isinstance(other, _CellSet) and other.digest == self.digest


@dataclass(frozen=True)
class _Targets:
    """A region's cell centres (projected) and areas (m²), in spatial order; ``order[i]`` is the
    position in the region's cell array of the i-th target."""

    x: np.ndarray
    y: np.ndarray
    area_m2: np.ndarray
    order: np.ndarray


@lru_cache(maxsize=4)
def _targets(region: _CellSet, crs: str) -> _Targets:
    """Kept for the next surface of the same region."""
    lon, lat = h3cells.cell_centres(region.cells)
    tx, ty = project(lon, lat, crs)
    order = _spatial_order(tx, ty)
    return _Targets(np.ascontiguousarray(tx[order]), np.ascontiguousarray(ty[order]),
                    h3cells.cell_areas_m2(region.cells[order]), order)


@dataclass(frozen=True)
class _Lattice:
    """Bin centres (children of the region's cells) and a pixel table giving each pixel's bin."""

    x: np.ndarray
    y: np.ndarray
    table: np.ndarray
    grid: _Grid


# Pixels a third of the snapping distance wide: a point moves at most snap + pixel / √2 =
# 1.1 (1 + 1 / (3√2)) ≈ 1.36 child circumradii. The table is capped at this many pixels
# (64 MiB of int32); beyond that, pixels grow.
_PIXELS_PER_SNAP = 3
_MAX_PIXELS = 1 << 24


@lru_cache(maxsize=4)
def _lattice(region: _CellSet, resolution: int, crs: str) -> _Lattice:
    children = h3cells.to_children(region.cells, resolution)
    lon, lat = h3cells.cell_centres(children)
    cx, cy = (np.ascontiguousarray(a) for a in project(lon, lat, crs))
    # The circumradius of a regular hexagon of the largest child's area, plus 10% for H3's
    # irregular shapes and projection scale: a point inside a child is never farther than this
    # from its nearest centre, and one farther than this from every centre is outside the region.
    area = float(h3cells.cell_areas_m2(children).max())
    snap = 1.1 * math.sqrt(2.0 * area / (3.0 * math.sqrt(3.0)))
    pixels = _grid_around(cx, cy, snap, snap / _PIXELS_PER_SNAP, _MAX_PIXELS)
    # Label each pixel with the child nearest its centre, if one is within the snapping distance.
    half = pixels.size / 2.0
    col, row = np.meshgrid(np.arange(pixels.ncols), np.arange(pixels.nrows))
    px = (pixels.x0 + half + col * pixels.size).ravel()
    py = (pixels.y0 + half + row * pixels.size).ravel()
    coarse = _grid_around(cx, cy, snap, 2.0 * snap, 4 * cx.size + 1024)
    bx, by, bi, starts = bucket_sort(cx, cy, np.arange(1.0, cx.size + 1.0), coarse.x0, coarse.y0, coarse.size,
                                     coarse.ncols, coarse.nrows, _SORT_CHUNKS)
    sorted_label, _ = nearest_centre(px, py, np.ones(px.size), bx, by, starts, coarse.x0, coarse.y0, coarse.size,
                                     coarse.ncols, coarse.nrows, snap, _SORT_CHUNKS)
    # bucket_sort carried each child's index + 1 as its weight; map sorted positions back.
    original = bi.astype(np.int64) - 1
    table = np.where(sorted_label >= 0, original[np.maximum(sorted_label, 0)], -1).astype(np.int32)
    return _Lattice(cx, cy, table, pixels)


@dataclass(frozen=True)
class _Binned:
    x: np.ndarray  # occupied lattice centres, then incidents left where they are; shape (k,)
    y: np.ndarray
    w: np.ndarray
    n_occupied: int
    moved_m: float


def _bin(x, y, w, lattice: _Lattice) -> _Binned:
    """Sum incidents into their pixel's lattice centre; those in no labelled pixel stay as they are."""
    g = lattice.grid
    label, moved = lookup_labels(x, y, w, lattice.table, g.x0, g.y0, g.size, g.ncols, g.nrows, lattice.x,
                                 lattice.y, _SORT_CHUNKS)
    binned = np.bincount(label + 1, weights=w, minlength=lattice.x.size + 1)[1:]
    occupied = np.flatnonzero(binned)
    free = np.flatnonzero(label < 0)
    return _Binned(np.concatenate([lattice.x[occupied], x[free]]), np.concatenate([lattice.y[occupied], y[free]]),
                   np.concatenate([binned[occupied], w[free]]), occupied.size, float(moved))


def _binning_bound(b: _Binned, tx, ty, k: Kernel, h: float) -> np.ndarray | None:
    """Largest possible |binned - exact| density (per m²) at each target, or None for kernels that jump.

    An incident moved by at most d changes its kernel value by at most L d / h (L the profile's
    steepest slope), and only incidents whose bin lies within reach + d of a target can touch it.
    """
    if k.lipschitz is None:
        return None
    if b.moved_m == 0.0 or b.n_occupied == 0:
        return np.zeros(tx.size)
    ox, oy, ow = b.x[:b.n_occupied], b.y[:b.n_occupied], b.w[:b.n_occupied]
    radius = k.reach * h + b.moved_m
    grid = _grid_around(tx, ty, radius, radius / _BUCKETS_PER_REACH, 4 * (ox.size + tx.size) + 1024)
    _, _, sw, starts = bucket_sort(ox, oy, ow, grid.x0, grid.y0, grid.size, grid.ncols, grid.nrows, _SORT_CHUNKS)
    near = weight_near(tx, ty, np.concatenate([[0.0], np.cumsum(sw)]), starts, grid.x0, grid.y0, grid.size,
                       grid.ncols, grid.nrows, radius)
    return k.norm / (h * h) * k.lipschitz * (b.moved_m / h) * near


def cell_density(x, y, cells, *, crs: str, bandwidth: float, kernel: str = DEFAULT_KERNEL, weights=None,
                 truncate: float = DEFAULT_TRUNCATE, mode: str = "exact", bin_offset: int = DEFAULT_BIN_OFFSET
                 ) -> CellDensity:
    """Kernel density of incidents at the centres of H3 cells.

    Parameters
    ----------
    x, y : incident coordinates in metres in ``crs``, shape (n,). Incidents outside the cells
        still count where their kernel reaches the cells.
    cells : the H3 cells to evaluate (uint64 or hex strings), shape (m,), any one resolution.
    crs : the projected CRS of ``x`` and ``y``, used to place the cell centres.
    bandwidth : metres. kernel, truncate : see :func:`density_at`.
    weights : per incident, shape (n,) (harm weights, time-decay weights); ``None`` for one each.
    mode : ``"exact"`` or ``"binned"``.
    bin_offset : binned mode bins into children this many resolutions finer than ``cells`` (0 to 3).

    Returns
    -------
    CellDensity
    """
    check_choice(mode, MODES, "mode")
    k = get_kernel(kernel, truncate)
    h = _bandwidth(bandwidth)
    crs = check_crs(crs, "crs")
    x, y = _coords(x, y, "incidents")
    w = _weights(weights, x.size)
    cells, resolutions = region_cells(cells)
    region = _CellSet(cells)
    targets = _targets(region, crs)
    per_m2 = k.norm / (h * h)
    result = CellDensity(cells, np.zeros(cells.size), np.zeros(cells.size), k.name, h, mode, float(w.sum()))
    if mode == "exact":
        sums = _kernel_sums(x, y, w, targets.x, targets.y, k, h, ordered=True)
    else:
        if isinstance(bin_offset, bool) or bin_offset not in (0, 1, 2, 3):
            raise ValidationError(f"bin_offset={bin_offset!r} must be 0, 1, 2 or 3 resolutions finer than the cells", arguments="bin_offset")
        result.bin_resolution = int(resolutions[0]) + bin_offset if cells.size else 0
        if result.bin_resolution > 15:
            raise ValidationError(f"bin_offset={bin_offset} goes past H3's finest resolution (15); use a smaller offset", arguments="bin_offset")
        sums, bound = np.zeros(cells.size), np.zeros(cells.size) if k.lipschitz is not None else None
        result.max_displacement_m = 0.0
        if cells.size and x.size:
            b = _bin(x, y, w, _lattice(region, result.bin_resolution, crs))
            sums = _kernel_sums(b.x, b.y, b.w, targets.x, targets.y, k, h, ordered=True)
            bound = _binning_bound(b, targets.x, targets.y, k, h)
            result.max_displacement_m = b.moved_m
            result.notes["incidents_not_binned"] = int(b.x.size - b.n_occupied)
        if bound is not None:
            result.error_bound_per_km2 = _unsort(bound * _M2_PER_KM2, targets.order)
    result.density_per_km2 = _unsort(sums * per_m2 * _M2_PER_KM2, targets.order)
    result.expected = _unsort(sums * per_m2 * targets.area_m2, targets.order)
    return result


def region_cells(cells) -> tuple[np.ndarray, np.ndarray]:
    """Cells (uint64 or hex strings) as sorted unique uint64, and each one's resolution; mixed
    resolutions are a user error."""
    cells = h3cells.from_strings(cells) if np.asarray(cells).dtype.kind in "OUS" else np.asarray(cells, np.uint64)
    if cells.size > 1 and not (cells[1:] > cells[:-1]).all():  # regions come sorted; sorting is the slow part
        cells = np.unique(cells)
    resolutions = (cells >> np.uint64(52)) & np.uint64(0xF)
    if cells.size and resolutions.min() != resolutions.max():
        raise ValidationError(f"cells: mixed H3 resolutions {np.unique(resolutions).tolist()}; evaluate one resolution "
                            "at a time", arguments="cells")
    return cells, resolutions


def _unsort(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Values in spatial order back in the order of the region's cells."""
    out = np.empty(values.size)
    out[order] = values
    return out
