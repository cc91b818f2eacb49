"""Kernel density at national scale: cells split by H3 parent, each part computed on a Dask worker.

A part holds the cells under one parent cell and only the incidents within the kernel's reach of
them (its halo): the square around the part's cell centres widened by ``reach × bandwidth``. Every
incident whose kernel touches a cell of the part is in its halo, so each cell gets exactly the
terms the single-machine :func:`hotspots.kde.cell_density` gives it; only the order the terms are
added in can differ (a few units in the last place). A part never needs the whole data set.
"""

from __future__ import annotations

import logging

import numpy as np

from hotspots import cells as h3cells
from hotspots.errors import HotspotsError
from hotspots.kde import CellDensity, _coords, _weights, cell_density
from hotspots.kernels import DEFAULT_KERNEL, DEFAULT_TRUNCATE, get_kernel
from hotspots.projection import check_crs, project

log = logging.getLogger(__name__)

#: Parent cells this many resolutions coarser than the cells by default (resolution 10 → 6, ~36 km²).
DEFAULT_PARENT_OFFSET = 4


def partitioned_cell_density(x, y, cells, *, crs: str, bandwidth: float, kernel: str = DEFAULT_KERNEL,
                             weights=None, truncate: float = DEFAULT_TRUNCATE, parent_resolution: int | None = None,
                             client=None) -> CellDensity:
    """Exact kernel density at H3 cells, computed part by part on a Dask cluster.

    Parameters are those of :func:`hotspots.kde.cell_density` (exact mode), and:

    parent_resolution : H3 resolution of the parent cells that define the parts (default: four
        resolutions coarser than ``cells``).
    client : a ``dask.distributed.Client``; ``None`` runs the parts one after another here (the
        same arithmetic, for checking and for small regions).

    Returns
    -------
    CellDensity
        As :func:`hotspots.kde.cell_density` returns it; ``notes`` records the parts and the
        largest halo (incidents).
    """
    k = get_kernel(kernel, truncate)
    crs = check_crs(crs, "crs")
    x, y = _coords(x, y, "incidents")
    w = _weights(weights, x.size)
    cells = h3cells.from_strings(cells) if np.asarray(cells).dtype.kind in "OUS" else np.asarray(cells, np.uint64)
    cells = np.unique(cells)
    resolution = int((cells[0] >> np.uint64(52)) & np.uint64(0xF)) if cells.size else 0
    parent = max(0, resolution - DEFAULT_PARENT_OFFSET) if parent_resolution is None else parent_resolution
    if isinstance(parent, bool) or not isinstance(parent, int) or not 0 <= parent <= resolution:
        raise HotspotsError(f"parent_resolution={parent_resolution!r} must be a whole number from 0 to the cells' "
                            f"resolution ({resolution})")
    parts = _parts(cells, parent)
    lon, lat = h3cells.cell_centres(cells)
    tx, ty = project(lon, lat, crs)
    reach = k.reach * float(bandwidth)
    # Incidents sorted by x once, so each halo is a slice and a test on y, not a pass over all of them.
    by_x = np.argsort(x, kind="stable")
    sorted_x = x[by_x]
    tasks, halos = [], []
    for rows in parts:
        lo = np.searchsorted(sorted_x, tx[rows].min() - reach, side="left")
        hi = np.searchsorted(sorted_x, tx[rows].max() + reach, side="right")
        near = by_x[lo:hi]
        keep = np.sort(near[(y[near] >= ty[rows].min() - reach) & (y[near] <= ty[rows].max() + reach)])
        halos.append(int(keep.size))
        tasks.append((x[keep], y[keep], w[keep], cells[rows]))
    options = {"crs": crs, "bandwidth": bandwidth, "kernel": kernel, "truncate": truncate}
    if client is None:
        results = [_part(*task, options) for task in tasks]
    else:
        futures = [client.submit(_part, *task, options, pure=False) for task in tasks]
        results = client.gather(futures)
    density, expected = np.zeros(cells.size), np.zeros(cells.size)
    for rows, (part_density, part_expected) in zip(parts, results, strict=True):
        density[rows], expected[rows] = part_density, part_expected
    log.info("kernel density in %d parts (parent resolution %d); the largest halo held %d incidents", len(parts),
             parent, max(halos, default=0))
    return CellDensity(cells, density, expected, k.name, float(bandwidth), "exact", float(w.sum()),
                       notes={"parts": len(parts), "parent_resolution": parent,
                              "largest_halo_incidents": max(halos, default=0)})


def parent_cells(cells: np.ndarray, resolution: int) -> np.ndarray:
    """The H3 parents of ``cells`` at ``resolution`` (any coarser one, 0 to 15), by the index's bits:
    the resolution field set, and the digits of the finer resolutions set to 7 (unused)."""
    cells = np.asarray(cells, np.uint64)
    parents = (cells & ~np.uint64(0xF << 52)) | np.uint64(resolution << 52)
    for finer in range(resolution + 1, 16):
        parents |= np.uint64(7 << ((15 - finer) * 3))
    return parents


def _parts(cells: np.ndarray, parent: int) -> list[np.ndarray]:
    """Row numbers of ``cells`` (sorted) grouped by parent cell."""
    if cells.size == 0:
        return []
    parents = parent_cells(cells, parent)
    order = np.argsort(parents, kind="stable")
    cuts = np.flatnonzero(np.diff(parents[order])) + 1
    return [np.sort(rows) for rows in np.split(order, cuts)]


def _part(x, y, w, cells, options) -> tuple[np.ndarray, np.ndarray]:
    """One part on a worker: the single-machine exact density of its cells from its halo."""
    got = cell_density(x, y, cells, weights=w, mode="exact", **options)
    return got.density_per_km2, got.expected
