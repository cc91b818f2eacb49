"""Kernel density at national scale: cells split by H3 parent, each part computed on a Dask worker.

A part holds the cells under one parent cell and only the incidents within the kernel's reach of
them (its halo): the square around the part's cell centres widened by ``reach × bandwidth``. Every
incident whose kernel touches a cell of the part is in its halo, so each cell gets exactly the
terms the single-machine :func:`hotspots.density.kde.cell_density` gives it; only the order the terms are
added in can differ (a few units in the last place). A part never needs the whole data set.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import pandas as pd

from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.core.validate import check_choice
from hotspots.crime.aggregate import counted_groups
from hotspots.density.kde import CellDensity, _bandwidth, _coords, _weights, cell_density, region_cells
from hotspots.density.kernels import DEFAULT_KERNEL, DEFAULT_TRUNCATE, get_kernel
from hotspots.density.weighting import WEIGHTS, base_weights, incident_midpoints, time_weights, utc_timestamp
from hotspots.geo import cells as h3cells
from hotspots.geo.projection import check_crs, project
from hotspots.national.dataset import IncidentDataset

log = logging.getLogger(__name__)

#: Parent cells this many resolutions coarser than the cells by default (resolution 10 → 6, ~36 km²).
DEFAULT_PARENT_OFFSET = 4
STORED_XY_SLACK_M = 1.0


def partitioned_cell_density(x, y, cells, *, crs: str, bandwidth: float, kernel: str = DEFAULT_KERNEL,
                             weights=None, truncate: float = DEFAULT_TRUNCATE, parent_resolution: int | None = None,
                             client=None) -> CellDensity:
    """Exact kernel density at H3 cells, computed part by part on a Dask cluster.

    Parameters
    ----------
    x, y, cells, crs, bandwidth, kernel, weights, truncate : as for
        :func:`hotspots.density.kde.cell_density` (exact mode): projected metres, sorted uint64
        cells, bandwidth in metres, one weight per incident.
    parent_resolution : H3 resolution of the parent cells that define the parts (default: four
        resolutions coarser than ``cells``).
    client : a ``dask.distributed.Client``; ``None`` runs the parts one after another here (the
        same arithmetic, for checking and for small regions).

    Returns
    -------
    CellDensity
        As :func:`hotspots.density.kde.cell_density` returns it; ``notes`` records the parts and the
        largest halo (incidents).
    """
    k = get_kernel(kernel, truncate)
    crs = check_crs(crs, "crs")
    x, y = _coords(x, y, "incidents")
    w = _weights(weights, x.size)
    cells, resolutions = region_cells(cells)
    resolution = int(resolutions[0]) if cells.size else 0
    parent = check_parent_resolution(parent_resolution, resolution)
    reach = k.reach * _bandwidth(bandwidth)
    parts, boxes = part_boxes(cells, parent, crs, reach)
    tiles = TileIndex(x, y, reach)
    tasks, halos = [], []
    for rows, box in zip(parts, boxes, strict=True):
        keep = tiles.within(*box)
        halos.append(int(keep.size))
        tasks.append((x[keep], y[keep], w[keep], cells[rows]))
    options = {"crs": crs, "bandwidth": bandwidth, "kernel": kernel, "truncate": truncate}
    if client is None:
        results = [_part(*task, options) for task in tasks]
    else:
        # Scattered, each part's arrays go straight to a worker rather than through the scheduler's graph.
        data = client.scatter(tasks)
        results = client.gather([client.submit(_packed_part, part, options, pure=False) for part in data])
    density, expected = np.zeros(cells.size), np.zeros(cells.size)
    for rows, (part_density, part_expected) in zip(parts, results, strict=True):
        density[rows], expected[rows] = part_density, part_expected
    log.info("kernel density in %d parts (parent resolution %d); the largest halo held %d incidents", len(parts),
             parent, max(halos, default=0))
    return CellDensity(cells, density, expected, k.name, float(bandwidth), "exact", float(w.sum()),
                       notes={"parts": len(parts), "parent_resolution": parent,
                              "largest_halo_incidents": max(halos, default=0)})


def dataset_kde(dataset: IncidentDataset, cells, *, bandwidth: float, kernel: str = DEFAULT_KERNEL,
                weight: str = "count", half_life_days: float | None = None, reference_time=None, since=None,
                offence_groups: list[str] | None = None, forces: list[str] | None = None,
                truncate: float = DEFAULT_TRUNCATE, parent_resolution: int | None = None,
                client=None) -> pd.DataFrame:
    """The density table of :func:`hotspots.density.surface.hotspot_kde` (exact mode), from a data set:
    each part's worker reads its own halo from the GeoParquet files, so neither the driver nor a
    worker ever holds the whole data set.

    Parameters
    ----------
    dataset : the incident data set; incidents are chosen as
        :func:`hotspots.national.dataset.dataset_incidents` chooses them (``offence_groups``,
        ``since``, ``forces``).
    cells, bandwidth, kernel, weight, half_life_days, reference_time, truncate : as for
        :func:`hotspots.density.surface.hotspot_kde` (bandwidth in metres, half-life in days); a
        time-weighted surface without a reference time stands for the latest incident chosen.
    parent_resolution, client : as for :func:`partitioned_cell_density`.

    Returns
    -------
    pandas.DataFrame
        KDE_COLUMNS (h3_cell, lon, lat, density_per_km2, expected), one row per cell, densest first;
        ``attrs`` record the kernel, bandwidth, mode, total weight and the parts.
    """
    k = get_kernel(kernel, truncate)
    reach = k.reach * _bandwidth(bandwidth)
    check_choice(weight, WEIGHTS, "weight")
    cells, resolutions = region_cells(cells)
    if cells.size == 0:
        raise ValidationError("cells: the region has no cells; check the area and resolution", arguments="cells")
    parent = check_parent_resolution(parent_resolution, int(resolutions[0]))
    selection = {"forces": dataset.check_forces(forces), "offence_groups": counted_groups(offence_groups), "since": since}
    ref = None if reference_time is None else utc_timestamp(reference_time, "reference_time")
    if ref is None and half_life_days is not None:
        ref = max((incident_midpoints(t.to_pandas()).max() for t in dataset.batches(
            ["occurred_from", "occurred_to"], **selection)), default=None)
        log.info("reference time chosen automatically: %s (the latest incident)", ref)
    weighting = {"weight": weight, "reference_time": ref, "half_life_days": half_life_days}
    # One streaming pass for what the table records of all incidents; no batch outlives its sum.
    total, counted = 0.0, 0
    for table in dataset.batches(["occurred_from", "occurred_to", "harm_weight"], **selection):
        w = _dataset_weights(table.to_pandas(), weighting)
        total, counted = total + float(w.sum()), counted + int((w > 0).sum())
    if counted == 0:
        raise NotReadyError("the data set holds no incidents of those forces, offence groups and dates")
    parts, boxes = part_boxes(cells, parent, dataset.crs, reach)
    options = {"crs": dataset.crs, "bandwidth": bandwidth, "kernel": kernel, "truncate": truncate}
    key = (str(dataset.root), len(dataset.files))
    tasks = [(key, box, cells[rows], options, selection, weighting) for rows, box in zip(parts, boxes, strict=True)]
    if client is None:
        results = [_dataset_part(*task) for task in tasks]
    else:
        results = client.gather([client.submit(_dataset_part, *task, pure=False) for task in tasks])
    density, expected = np.zeros(cells.size), np.zeros(cells.size)
    for rows, (part_density, part_expected, _) in zip(parts, results, strict=True):
        density[rows], expected[rows] = part_density, part_expected
    largest = max((halo for _, _, halo in results), default=0)
    log.info("kernel density from %s in %d parts (parent resolution %d); the largest halo held %d incidents",
             dataset.root, len(parts), parent, largest)
    notes = {"parts": len(parts), "parent_resolution": parent, "largest_halo_incidents": largest, "weight": weight,
             "crs": dataset.crs, "incidents": counted, "dataset": str(dataset.root)}
    if ref is not None:
        notes["reference_time"] = ref.isoformat()
    if half_life_days is not None:
        notes["half_life_days"] = float(half_life_days)
    return CellDensity(cells, density, expected, k.name, float(bandwidth), "exact", total, notes=notes).to_frame()


def _dataset_weights(frame: pd.DataFrame, weighting: dict) -> np.ndarray:
    """Each incident's weight, as :func:`hotspots.density.surface.hotspot_kde` gives it."""
    w = base_weights(frame, weighting["weight"])
    ref = weighting["reference_time"]
    if ref is None:
        return w
    mid = incident_midpoints(frame)
    w = np.where((mid > ref).to_numpy(), 0.0, w)
    if weighting["half_life_days"] is not None:
        w = w * time_weights(mid, ref, weighting["half_life_days"])
    return w


@lru_cache(maxsize=4)
def worker_dataset(root: str, files: int) -> IncidentDataset:
    """A worker opens a data set (and reads its footers) once; ``files`` re-opens it after a write."""
    return IncidentDataset(root)


def read_halo(key: tuple, columns: list[str], box: tuple, selection: dict) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """On a worker: the incidents of the data set ``key`` inside ``box`` (xmin, xmax, ymin, ymax),
    and their x/y projected from lon/lat as the single-machine paths project them."""
    # The files are pruned on their stored x/y; those agree with lon/lat projected here to well
    # under a metre (lon/lat carry six decimals), so a metre's slack loses no incident, and the
    # exact box is applied to the projected positions after.
    slack = STORED_XY_SLACK_M
    wide = (box[0] - slack, box[1] + slack, box[2] - slack, box[3] + slack)
    data = worker_dataset(*key)
    frame = data.read(list(dict.fromkeys(["lon", "lat", *columns])), box=wide, **selection)
    x, y = project(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), data.crs)
    inside = (x >= box[0]) & (x <= box[1]) & (y >= box[2]) & (y <= box[3])
    return frame[inside].reset_index(drop=True), x[inside], y[inside]


def _dataset_part(key, box, cells, options, selection, weighting) -> tuple[np.ndarray, np.ndarray, int]:
    """One part on a worker: its halo read from the data set, then the single-machine exact density."""
    frame, x, y = read_halo(key, ["occurred_from", "occurred_to", "harm_weight"], box, selection)
    got = cell_density(x, y, cells, weights=_dataset_weights(frame, weighting), mode="exact", **options)
    return got.density_per_km2, got.expected, len(frame)


def check_parent_resolution(parent_resolution, resolution: int) -> int:
    parent = max(0, resolution - DEFAULT_PARENT_OFFSET) if parent_resolution is None else parent_resolution
    if isinstance(parent, bool) or not isinstance(parent, int) or not 0 <= parent <= resolution:
        raise ValidationError(f"parent_resolution={parent_resolution!r} must be a whole number from 0 to the cells' "
                            f"resolution ({resolution})", arguments="parent_resolution")
    return parent


def part_boxes(cells: np.ndarray, parent: int, crs: str, reach: float) -> tuple[list[np.ndarray], list[tuple]]:
    """Each part's rows of ``cells`` and its halo box (xmin, xmax, ymin, ymax): the box of its cell
    centres widened by ``reach`` metres."""
    parts = cell_parts(cells, parent)
    lon, lat = h3cells.cell_centres(cells)
    tx, ty = project(lon, lat, crs)
    boxes = [(float(tx[rows].min() - reach), float(tx[rows].max() + reach), float(ty[rows].min() - reach),
              float(ty[rows].max() + reach)) for rows in parts]
    return parts, boxes


def parent_cells(cells: np.ndarray, resolution: int) -> np.ndarray:
    """The H3 parents of ``cells`` at ``resolution`` (any coarser one, 0 to 15), by the index's bits:
    the resolution field set, and the digits of the finer resolutions set to 7 (unused)."""
    cells = np.asarray(cells, np.uint64)
    parents = (cells & ~np.uint64(0xF << 52)) | np.uint64(resolution << 52)
    for finer in range(resolution + 1, 16):
        parents |= np.uint64(7 << ((15 - finer) * 3))
    return parents


class TileIndex:
    """Incidents bucketed by square tiles (a few kernel reaches wide), so a part's halo is read from
    the tiles its box touches, not found by a pass over every incident."""

    MOST_TILES = 4_000_000

    def __init__(self, x: np.ndarray, y: np.ndarray, reach: float):
        self.x, self.y = x, y
        if x.size == 0:
            self.order, self.starts, self.nx, self.ny = np.zeros(0, np.int64), np.zeros(2, np.int64), 1, 1
            self.x0 = self.y0 = 0.0
            self.side = 1.0
            return
        self.x0, self.y0 = float(x.min()), float(y.min())
        width, height = float(x.max()) - self.x0, float(y.max()) - self.y0
        self.side = max(4 * reach, np.sqrt(max(width * height, 1.0) / self.MOST_TILES), 1.0)
        self.nx, self.ny = int(width // self.side) + 1, int(height // self.side) + 1
        tile = self._column(x) + self._row(y) * self.nx
        self.order = np.argsort(tile, kind="stable")
        self.starts = np.searchsorted(tile[self.order], np.arange(self.nx * self.ny + 1))

    def _column(self, x) -> np.ndarray:
        return np.clip(((np.asarray(x) - self.x0) // self.side).astype(np.int64), 0, self.nx - 1)

    def _row(self, y) -> np.ndarray:
        return np.clip(((np.asarray(y) - self.y0) // self.side).astype(np.int64), 0, self.ny - 1)

    def within(self, xmin: float, xmax: float, ymin: float, ymax: float) -> np.ndarray:
        """Indices (ascending) of the incidents with xmin <= x <= xmax and ymin <= y <= ymax."""
        if self.x.size == 0:
            return np.zeros(0, np.int64)
        c0, c1 = self._column(xmin), self._column(xmax)
        rows = range(int(self._row(ymin)), int(self._row(ymax)) + 1)
        runs = [self.order[self.starts[r * self.nx + c0]:self.starts[r * self.nx + c1 + 1]] for r in rows]
        near = np.concatenate(runs) if runs else np.zeros(0, np.int64)
        inside = (self.x[near] >= xmin) & (self.x[near] <= xmax) & (self.y[near] >= ymin) & (self.y[near] <= ymax)
        return np.sort(near[inside])


def cell_parts(cells: np.ndarray, parent: int) -> list[np.ndarray]:
    """Row numbers of ``cells`` (sorted) grouped by parent cell."""
    if cells.size == 0:
        return []
    parents = parent_cells(cells, parent)
    order = np.argsort(parents, kind="stable")
    cuts = np.flatnonzero(np.diff(parents[order])) + 1
    return [np.sort(rows) for rows in np.split(order, cuts)]


def _packed_part(task, options) -> tuple[np.ndarray, np.ndarray]:
    return _part(*task, options)


def _part(x, y, w, cells, options) -> tuple[np.ndarray, np.ndarray]:
    """One part on a worker: the single-machine exact density of its cells from its halo."""
    got = cell_density(x, y, cells, weights=w, mode="exact", **options)
    return got.density_per_km2, got.expected
