"""Predictor features and training at national scale, part by part from a data set on a Dask cluster.

The single-machine :class:`models.features.CellHistory` is run on each part (the region's cells
under one H3 parent) with a halo of cells around it, and only the part's own rows are kept. The
halo holds every region cell whose incidents can reach a part cell's features: the cells up to
``neighbour_steps`` grid steps away (the ``near*`` sums) and every cell with an incident within
the kernel's reach of a part cell's centre (the ``kde_*`` features). Everything a part's history
would otherwise take from its own incidents but is the region's (the periods covered, the
covariate offence groups) is found first in one streaming pass over the data set and handed to
every part, so each part cell's features equal the whole region's to rounding.

Training on these parts is in :mod:`models.national.training`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.crime.aggregate import incident_days
from hotspots.density.kde import region_cells
from hotspots.density.kernels import DEFAULT_KERNEL, get_kernel
from hotspots.geo import cells as h3cells
from hotspots.geo.periods import Calendar
from hotspots.geo.projection import project
from hotspots.national.dataset import IncidentDataset
from hotspots.national.kde import TileIndex, cell_parts, check_parent_resolution, read_halo, worker_dataset
from models.features import CellHistory, FeatureConfig, covariate_groups_in

log = logging.getLogger(__name__)

FEATURE_COLUMNS = ["incident_id", "occurred_from", "occurred_to", "lon", "lat", "offence", "offence_group",
                   "harm_weight", "knife_enabled", "victim_under_25"]
#: A generous bound on an H3 cell's circumradius, in average edge lengths (distortion stays well under 2).
_CELL_REACH_EDGES = 2.0


@dataclass(frozen=True)
class RegionPlan:
    """What every part must share, found in one pass over the data set.

    Attributes
    ----------
    span : first and last period the region's incidents cover.
    covariate_groups : offence groups counted as covariates.
    last_day : the day after the last recorded day (local day number): periods ending by then are complete.
    first_day : the first recorded day (local day number).
    incidents : incidents inside the region's cells.
    target_incidents : of those, incidents of the target.
    fingerprint : BLAKE2b of the data set's files chosen (their names are digests of their rows).
    """

    span: tuple[int, int]
    covariate_groups: tuple[str, ...]
    last_day: int
    first_day: int
    incidents: int
    target_incidents: int
    fingerprint: str


def plan_region(dataset: IncidentDataset, cells: np.ndarray, calendar: Calendar, target, config,
                selection: dict) -> RegionPlan:
    """The region's span, covariate groups and counts from a streaming pass (no batch is kept).

    Parameters
    ----------
    dataset : the incident data set. cells : sorted uint64 cells of the region.
    calendar : the run's periods. target : the offences forecast. config : the feature settings.
    selection : reader filters (``forces``).

    Returns
    -------
    RegionPlan
    """
    resolution = int((cells[0] >> np.uint64(52)) & np.uint64(0xF))
    first, last, first_day, last_day, n, n_target, groups, recorded = None, None, None, None, 0, 0, set(), False
    for table in dataset.batches(FEATURE_COLUMNS, **selection):
        frame = table.to_pandas()
        at = h3cells.points_to_cells(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), resolution)
        frame = frame[np.isin(at, cells)]
        if frame.empty:
            continue
        start, end = incident_days(frame, calendar.timezone)
        lo, hi = int(calendar.period_of_day(start).min()), int(calendar.period_of_day(end - 1).max())
        first, last = (lo, hi) if first is None else (min(first, lo), max(last, hi))
        first_day = int(start.min()) if first_day is None else min(first_day, int(start.min()))
        last_day = int(end.max()) if last_day is None else max(last_day, int(end.max()))
        recorded |= target.records(frame)
        n, n_target = n + len(frame), n_target + int(target.mask(frame, check=False).sum())
        groups |= set(frame["offence_group"].dropna())
    if n == 0:
        raise NotReadyError("the data set holds no incidents in the region's cells for those forces and dates")
    target.check_recorded(recorded)
    if n_target == 0:
        raise ValidationError(f"no incidents of the target ({target.describe()}); choose another target", arguments="target")
    chosen = tuple(config.covariate_groups) if config.covariate_groups is not None else covariate_groups_in(groups)
    files = dataset.select_files(selection.get("forces"))
    digest = hashlib.blake2b("\n".join(str(f.relative_to(dataset.root)) for f in files).encode(), digest_size=32)
    return RegionPlan((first, last), chosen, last_day, first_day, n, n_target, digest.hexdigest())


def _halo_margin_m(config, resolution: int) -> tuple[float, float]:
    """(cells, incidents): how far beyond a part's cell centres its halo cells' centres may lie,
    and how far its incidents may lie, in metres."""
    import h3

    edge = h3.average_hexagon_edge_length(resolution, unit="m") * _CELL_REACH_EDGES
    kde_reach = max((get_kernel(DEFAULT_KERNEL).reach * b for b in config.bandwidths_m), default=0.0)
    steps = max(config.neighbour_steps, default=0)
    cells_margin = max(kde_reach + 2 * edge, steps * 2 * edge) + edge
    return cells_margin, cells_margin + edge


@dataclass(frozen=True)
class PartJob:
    """One part's work order: the data set (``key``: root and file count), the part's cells, its
    halo cells, the box its incidents are read from, and its share of the empty rows drawn."""

    key: tuple
    part_cells: np.ndarray
    halo_cells: np.ndarray
    read_box: tuple
    zero_rows: int


def part_jobs(dataset: IncidentDataset, cells: np.ndarray, config, parent: int,
              zero_rows_per_period: int) -> list[PartJob]:
    """The parts of a region (cells under each parent), each with its halo found from cell centres.

    Parameters
    ----------
    dataset : the incident data set. cells : sorted uint64 cells of the region.
    config : the feature settings (their reach sets the halo).
    parent : H3 resolution of the parts' parent cells.
    zero_rows_per_period : empty cell-periods the whole sample draws per period, shared by parts.

    Returns
    -------
    list of PartJob
    """
    resolution = int((cells[0] >> np.uint64(52)) & np.uint64(0xF))
    cells_margin, incident_margin = _halo_margin_m(config, resolution)
    lon, lat = h3cells.cell_centres(cells)
    cx, cy = project(lon, lat, dataset.crs)
    centres = TileIndex(cx, cy, cells_margin)
    key = (str(dataset.root), len(dataset.files))
    jobs = []
    for rows in cell_parts(cells, parent):
        x0, x1, y0, y1 = cx[rows].min(), cx[rows].max(), cy[rows].min(), cy[rows].max()
        halo = cells[centres.within(x0 - cells_margin, x1 + cells_margin, y0 - cells_margin, y1 + cells_margin)]
        box = (x0 - incident_margin, x1 + incident_margin, y0 - incident_margin, y1 + incident_margin)
        jobs.append(PartJob(key, cells[rows], halo, box, math.ceil(zero_rows_per_period * rows.size / cells.size)))
    return jobs


def part_history(job: PartJob, calendar, target, config, layers, plan: RegionPlan,
                 selection: dict) -> tuple[CellHistory, np.ndarray]:
    """On a worker: the part's history (its halo cells and their incidents, the region's span and
    covariate groups), and the rows of the part's own cells in it.

    Parameters
    ----------
    job : the part's work order. calendar, target, config, layers : as for the region.
    plan : the region's plan. selection : reader filters (``forces``).

    Returns
    -------
    (CellHistory, numpy.ndarray)
        The halo's history and the row indices of the part's own cells.
    """
    frame, _, _ = read_halo(job.key, FEATURE_COLUMNS, job.read_box, selection)
    # Incidents in the same order as the whole region's (by id), so every sum runs alike.
    frame = frame.sort_values("incident_id", ignore_index=True)
    history = CellHistory(frame, job.halo_cells, calendar, target, worker_dataset(*job.key).crs,
                          replace(config, covariate_groups=plan.covariate_groups), layers, span=plan.span)
    return history, np.searchsorted(history.cells, job.part_cells)


def _part_features(job, calendar, target, config, layers, plan, selection, periods) -> list[tuple]:
    history, rows = part_history(job, calendar, target, config, layers, plan, selection)
    return [(history.features(int(p), np.float64)[rows], history.observed(int(p))[rows]) for p in periods]


def run_parts(client, function, jobs, *args) -> list:
    """``function(job, *args)`` for every job, on the cluster (or here without a client), in order."""
    if client is None:
        return [function(job, *args) for job in jobs]
    return client.gather([client.submit(function, job, *args, pure=False) for job in jobs])


def prepare_region(dataset, cells, calendar, target, config, parent_resolution, selection):
    """The region's cells checked and sorted, the parts' parent resolution, and the region's plan.

    Parameters
    ----------
    dataset, calendar, target, config, selection : as for :func:`plan_region`.
    cells : the region's cells (any order). parent_resolution : None for the default.

    Returns
    -------
    (numpy.ndarray, int, RegionPlan)
    """
    cells, resolutions = region_cells(cells)
    if cells.size == 0:
        raise ValidationError("cells: the region has no cells; check the area and resolution", arguments="cells")
    parent = check_parent_resolution(parent_resolution, int(resolutions[0]))
    plan = plan_region(dataset, cells, calendar, target, config, selection)
    return cells, parent, plan


def partitioned_features(dataset: IncidentDataset, cells, calendar: Calendar, target, periods, *, config=None,
                         layers=(), parent_resolution: int | None = None, selection: dict | None = None,
                         client=None) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Features and observed counts of every region cell for ``periods``, part by part.

    Parameters
    ----------
    dataset : the incident data set (x/y in its CRS).
    cells : the region's H3 cells, one resolution, shape (m,).
    calendar, target, config, layers : as for :class:`models.features.CellHistory`.
    periods : the periods wanted.
    parent_resolution, client : as for :func:`hotspots.national.kde.partitioned_cell_density`.
    selection : ``forces``, ``offence_groups``, ``since``, ``until`` passed to the data set's reader.

    Returns
    -------
    (cells sorted, shape (m,); per period, features float64 shape (m, f); per period, observed shape (m,))
    """
    config = config or FeatureConfig()
    selection = selection or {}
    cells, parent, plan = prepare_region(dataset, cells, calendar, target, config, parent_resolution, selection)
    jobs = part_jobs(dataset, cells, config, parent, 0)
    results = run_parts(client, _part_features, jobs, calendar, target, config, tuple(layers), plan, selection,
                        list(periods))
    order = np.argsort(np.concatenate([job.part_cells for job in jobs]), kind="stable")
    features = [np.concatenate([r[i][0] for r in results])[order] for i in range(len(periods))]
    observed = [np.concatenate([r[i][1] for r in results])[order] for i in range(len(periods))]
    return cells, features, observed
