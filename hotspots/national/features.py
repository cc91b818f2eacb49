"""Predictor features and training at national scale, part by part from a data set on a Dask cluster.

The single-machine :class:`models.features.CellHistory` is run on each part (the region's cells
under one H3 parent) with a halo of cells around it, and only the part's own rows are kept. The
halo holds every region cell whose incidents can reach a part cell's features: the cells up to
``neighbour_steps`` grid steps away (the ``near*`` sums) and every cell with an incident within
the kernel's reach of a part cell's centre (the ``kde_*`` features). Everything a part's history
would otherwise take from its own incidents but is the region's (the periods covered, the
covariate offence groups) is found first in one streaming pass over the data set and handed to
every part, so each part cell's features equal the whole region's to rounding.

Training: each part returns every cell-period with an incident and a seeded draw of the empty
ones, drawn within the part (a stratified sample, strata = part × period, allocated in proportion
to the part's cells) and weighted back up; the model is fitted on the union.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from hotspots import cells as h3cells
from hotspots.aggregate import incident_days
from hotspots.errors import HotspotsError, NotReadyError
from hotspots.kernels import get_kernel
from hotspots.kde import region_cells
from hotspots.national.dataset import IncidentDataset
from hotspots.national.kde import _open_dataset, _parent_resolution, _parts, _STORED_XY_SLACK_M, _TileIndex
from hotspots.periods import Calendar, day_from_number
from hotspots.projection import project

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
    """The region's span, covariate groups and counts from a streaming pass (no batch is kept)."""
    from models.features import covariate_groups_in

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
        raise HotspotsError(f"no incidents of the target ({target.describe()}); choose another --target")
    chosen = tuple(config.covariate_groups) if config.covariate_groups is not None else covariate_groups_in(groups)
    files = dataset.select_files(selection.get("forces"))
    digest = hashlib.blake2b("\n".join(str(f.relative_to(dataset.root)) for f in files).encode(), digest_size=32)
    return RegionPlan((first, last), chosen, last_day, first_day, n, n_target, digest.hexdigest())


def _halo_margin_m(config, resolution: int) -> tuple[float, float]:
    """(cells, incidents): how far beyond a part's cell centres its halo cells' centres may lie,
    and how far its incidents may lie, in metres."""
    import h3

    edge = h3.average_hexagon_edge_length(resolution, unit="m") * _CELL_REACH_EDGES
    kde_reach = max((get_kernel("quartic").reach * b for b in config.bandwidths_m), default=0.0)
    steps = max(config.neighbour_steps, default=0)
    cells_margin = max(kde_reach + 2 * edge, steps * 2 * edge) + edge
    return cells_margin, cells_margin + edge


@dataclass(frozen=True)
class _PartJob:
    key: tuple
    part_cells: np.ndarray
    halo_cells: np.ndarray
    read_box: tuple
    zero_rows: int


def _jobs(dataset: IncidentDataset, cells: np.ndarray, config, parent: int, zero_rows_per_period: int) -> list:
    resolution = int((cells[0] >> np.uint64(52)) & np.uint64(0xF))
    cells_margin, incident_margin = _halo_margin_m(config, resolution)
    lon, lat = h3cells.cell_centres(cells)
    cx, cy = project(lon, lat, dataset.crs)
    centres = _TileIndex(cx, cy, cells_margin)
    key = (str(dataset.root), len(dataset.files))
    jobs = []
    for rows in _parts(cells, parent):
        x0, x1, y0, y1 = cx[rows].min(), cx[rows].max(), cy[rows].min(), cy[rows].max()
        halo = cells[centres.within(x0 - cells_margin, x1 + cells_margin, y0 - cells_margin, y1 + cells_margin)]
        box = (x0 - incident_margin, x1 + incident_margin, y0 - incident_margin, y1 + incident_margin)
        jobs.append(_PartJob(key, cells[rows], halo, box, math.ceil(zero_rows_per_period * rows.size / cells.size)))
    return jobs


def _part_history(job: _PartJob, calendar, target, config, layers, plan: RegionPlan, selection: dict):
    from models.features import CellHistory

    slack = _STORED_XY_SLACK_M
    box = (job.read_box[0] - slack, job.read_box[1] + slack, job.read_box[2] - slack, job.read_box[3] + slack)
    frame = _open_dataset(*job.key).read(FEATURE_COLUMNS, box=box, **selection)
    # Incidents in the same order as the whole region's (by id), so every sum runs alike.
    frame = frame.sort_values("incident_id", ignore_index=True)
    history = CellHistory(frame, job.halo_cells, calendar, target, _open_dataset(*job.key).crs,
                          replace(config, covariate_groups=plan.covariate_groups), layers, span=plan.span)
    return history, np.searchsorted(history.cells, job.part_cells)


def _part_features(job, calendar, target, config, layers, plan, selection, periods) -> list[tuple]:
    history, rows = _part_history(job, calendar, target, config, layers, plan, selection)
    return [(history.features(int(p), np.float64)[rows], history.observed(int(p))[rows]) for p in periods]


def _part_training_rows(job, calendar, target, config, layers, plan, selection, periods, seed) -> tuple:
    history, rows = _part_history(job, calendar, target, config, layers, plan, selection)
    X, y, w, when = [], [], [], []
    for p in periods:
        features, observed = history.features(int(p))[rows], history.observed(int(p))[rows]
        keep = np.flatnonzero(observed > 0)
        zero = np.flatnonzero(observed == 0)
        weight = np.ones(keep.size)
        if zero.size:
            # Seeded by the part's first cell and the period: the same data, the same draw.
            rng = np.random.default_rng(np.random.SeedSequence([seed, int(p) & 0xFFFFFFFF,
                                                                 int(job.part_cells[0]) & 0xFFFFFFFF]))
            take = zero if zero.size <= job.zero_rows else np.sort(rng.choice(zero, job.zero_rows, replace=False))
            keep = np.concatenate([keep, take])
            weight = np.concatenate([weight, np.full(take.size, zero.size / max(take.size, 1))])
        X.append(features[keep])
        y.append(observed[keep])
        w.append(weight)
        when.append(np.full(keep.size, int(p)))
    return np.concatenate(X), np.concatenate(y), np.concatenate(w), np.concatenate(when), history.feature_names


def _run(client, function, jobs, *args) -> list:
    if client is None:
        return [function(job, *args) for job in jobs]
    return client.gather([client.submit(function, job, *args, pure=False) for job in jobs])


def _prepare(dataset, cells, calendar, target, config, parent_resolution, selection):
    cells, resolutions = region_cells(cells)
    if cells.size == 0:
        raise HotspotsError("cells: the region has no cells; check the area and resolution")
    parent = _parent_resolution(parent_resolution, int(resolutions[0]))
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
    from models.features import FeatureConfig

    config = config or FeatureConfig()
    selection = selection or {}
    cells, parent, plan = _prepare(dataset, cells, calendar, target, config, parent_resolution, selection)
    jobs = _jobs(dataset, cells, config, parent, 0)
    results = _run(client, _part_features, jobs, calendar, target, config, tuple(layers), plan, selection,
                   list(periods))
    order = np.argsort(np.concatenate([job.part_cells for job in jobs]), kind="stable")
    features = [np.concatenate([r[i][0] for r in results])[order] for i in range(len(periods))]
    observed = [np.concatenate([r[i][1] for r in results])[order] for i in range(len(periods))]
    return cells, features, observed


def train_national(dataset: IncidentDataset, cells, calendar: Calendar, target, *, forecast_period: int | None = None,
                   model=None, config=None, layers=(), parent_resolution: int | None = None,
                   selection: dict | None = None, client=None):
    """A :class:`models.training.TrainedModel` fitted on a stratified sample of cell-periods built on
    the cluster (see the module docstring); not backtested here, which its card says.

    ``forecast_period`` defaults to the period after the last complete one.
    """
    from models.features import FeatureConfig
    from models.predictor import RiskModel
    from models.training import TrainedModel, code_version

    config = config or FeatureConfig()
    selection = selection or {}
    template = model or RiskModel()
    cells, parent, plan = _prepare(dataset, cells, calendar, target, config, parent_resolution, selection)
    covered = np.arange(plan.span[0], plan.span[1] + 1)
    complete = covered[calendar.end_day(covered) <= plan.last_day]
    if forecast_period is None:
        forecast_period = int(complete[-1]) + 1 if complete.size else plan.span[1] + 1
    if not plan.span[0] < forecast_period <= plan.span[1] + 1:
        raise HotspotsError(f"forecast_period={forecast_period} is outside what the data can forecast")
    periods = covered[(covered >= plan.span[0] + template.warmup_periods) & (covered < forecast_period)]
    if periods.size == 0:
        raise HotspotsError(f"not enough history to train: a model needs {template.warmup_periods + 1} periods "
                            "before the one it forecasts; load more history or move the cutoff")
    jobs = _jobs(dataset, cells, config, parent, template.zero_rows_per_period)
    results = _run(client, _part_training_rows, jobs, calendar, target, config, tuple(layers), plan, selection,
                   list(periods), template.seed)
    X, y, w = (np.concatenate([r[i] for r in results]) for i in range(3))
    fitted = RiskModel(**template.get_params()).fit_rows(X, y, w, results[0][4], (int(periods[0]), int(periods[-1])))
    cutoff = int(calendar.start_day(np.array([forecast_period]))[0])
    note = (f"Fitted at national scale on a stratified sample built on the cluster: {len(jobs)} parts (cells under "
            f"resolution-{parent} H3 parents), each part's features from the part and a halo of cells around it. "
            f"Every cell-period with an incident is kept; of the empty ones, each part draws its share of "
            f"{template.zero_rows_per_period:,} per period (in proportion to its cells), weighted back up. "
            f"Trained on the data set {dataset.root} (fingerprint of its files).")
    return TrainedModel(
        model=fitted, target=target, calendar=calendar, resolution=int((cells[0] >> np.uint64(52)) & np.uint64(0xF)),
        crs=dataset.crs, feature_config=replace(config, covariate_groups=plan.covariate_groups),
        covariate_groups=plan.covariate_groups, layers=tuple(layers), forecast_period=int(forecast_period),
        training_start=day_from_number(plan.first_day), training_end=day_from_number(cutoff - 1),
        data_fingerprint=plan.fingerprint, code_version=code_version(), backtest=None, n_incidents=plan.incidents,
        n_cells=int(cells.size), notes=[note])
