"""``hotspot_kde``: the analyst's verb for a kernel-density surface of incidents on H3 cells.

It takes incidents as read from the store and the cells of a region, and returns the density
table (:data:`hotspots.density.kde.KDE_COLUMNS`). Choices made for the user (bandwidth by
cross-validation, reference time, projection) are logged with their value and kept in the
table's ``attrs``.

Prospective (time-weighted) mapping: with ``half_life_days`` each incident counts
``0.5 ** (age / half_life)``, its age taken from the middle of its recorded time interval to the
reference time; incidents after the reference time are left out, so a surface never uses what
happened after the moment it stands for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.core.validate import check_choice, check_positive
from hotspots.density.bandwidth import DEFAULT_CANDIDATES_M, choose_bandwidth
from hotspots.density.kde import DEFAULT_BIN_OFFSET, CellDensity, cell_density
from hotspots.density.kernels import DEFAULT_KERNEL, DEFAULT_TRUNCATE
from hotspots.density.weighting import WEIGHTS, base_weights, incident_midpoints, time_weights, utc_timestamp
from hotspots.geo import cells as h3cells
from hotspots.geo.projection import choose_crs, project

log = logging.getLogger(__name__)

#: A function computing the exact density at cell centres (see ``hotspot_kde``'s ``density``).
DensityEngine = Callable[..., CellDensity]

DEFAULT_HOLDOUT_DAYS = 28


def hotspot_kde(incidents: pd.DataFrame, cells, *, bandwidth: float | str = 400.0, kernel: str = DEFAULT_KERNEL,
                weight: str = "count", half_life_days: float | None = None, reference_time=None,
                mode: str = "exact", bin_offset: int = DEFAULT_BIN_OFFSET, truncate: float = DEFAULT_TRUNCATE,
                crs: str | None = None, holdout_days: float = DEFAULT_HOLDOUT_DAYS,
                candidates_m=DEFAULT_CANDIDATES_M, density: DensityEngine | None = None) -> pd.DataFrame:
    """Kernel density of incidents at the centres of ``cells``, as a table.

    Parameters
    ----------
    incidents : rows with ``lon``, ``lat`` (WGS84 degrees), ``occurred_from``/``occurred_to``
        (needed for time weighting and ``bandwidth="auto"``) and ``harm_weight`` (for
        ``weight="harm"``), shape (n, ...).
    cells : H3 cells of the region (uint64 or hex strings), one resolution, shape (m,).
    bandwidth : metres, or ``"auto"`` for likelihood cross-validation: the surface is fitted on
        incidents before the last ``holdout_days`` and scored on those in it.
    kernel, truncate, mode, bin_offset : see :func:`hotspots.density.kde.cell_density`.
    weight : ``"count"`` (one per incident) or ``"harm"`` (Cambridge Crime Harm Index days).
    half_life_days : exponential time decay; ``None`` weighs every incident alike.
    reference_time : the time the surface stands for (default: the latest incident).
    crs : projected CRS for distances (default: British National Grid in Great Britain, else UTM).
    density : the engine that computes the exact surface, called as ``density(x, y, cells, crs=,
        bandwidth=, kernel=, weights=, truncate=)`` and returning a :class:`hotspots.density.kde.CellDensity`;
        e.g. ``functools.partial(hotspots.national.kde.partitioned_cell_density, client=client)`` computes
        it part by part on a Dask cluster, with the same result. Default: one machine
        (:func:`hotspots.density.kde.cell_density`, honouring ``mode``).

    Returns
    -------
    DataFrame with :data:`hotspots.density.kde.KDE_COLUMNS`, highest density first; ``attrs`` records
    every parameter and automatic choice.
    """
    check_choice(weight, WEIGHTS, "weight")
    if density is not None and mode != "exact":
        raise ValidationError(f"mode={mode!r} runs on one machine; a cluster computes the exact surface (mode='exact')", arguments="mode")
    cells = np.asarray(cells)
    if cells.size == 0:
        raise ValidationError("cells: the region has no cells; check the area and resolution", arguments="cells")
    frame = incidents.reset_index(drop=True)
    needs_time = half_life_days is not None or bandwidth == "auto" or reference_time is not None
    notes: dict = {"weight": weight}
    if frame.empty:
        raise NotReadyError("no incidents to map; widen the date range or the offence groups")
    lon = frame["lon"].to_numpy(float)
    lat = frame["lat"].to_numpy(float)
    crs = crs or choose_crs(lon, lat)
    x, y = project(lon, lat, crs)
    w = base_weights(frame, weight)
    if needs_time:
        mid = incident_midpoints(frame)
        if reference_time is None:
            ref = mid.max()
            log.info("reference time chosen automatically: %s (the latest incident)", ref.isoformat())
        else:
            ref = utc_timestamp(reference_time, "reference_time")
        later = (mid > ref).to_numpy()
        if later.any():
            log.info("%d incidents after the reference time %s are left out", int(later.sum()), ref.isoformat())
        w = np.where(later, 0.0, w)
        notes.update(reference_time=ref.isoformat(), left_out_after_reference=int(later.sum()))
    if bandwidth == "auto":
        check_positive(holdout_days, "holdout_days", "days (e.g. 28)")
        split = ref - pd.Timedelta(days=float(holdout_days))
        before = (mid < split).to_numpy() & (w > 0)
        held = ((mid >= split) & (mid <= ref)).to_numpy()
        train_w = w[before] * (time_weights(mid[before], split, half_life_days) if half_life_days else 1.0)
        area_m2 = float(h3cells.cell_areas_m2(np.unique(_as_cells(cells))).sum())
        choice = choose_bandwidth(x[before], y[before], x[held], y[held], area_m2=area_m2, train_weights=train_w,
                                  candidates_m=candidates_m, kernel=kernel, truncate=truncate)
        bandwidth = choice.bandwidth_m
        notes.update(bandwidth_choice=choice.describe())
    if half_life_days is not None:
        w = w * time_weights(mid, ref, half_life_days)
        notes.update(half_life_days=float(half_life_days))
    if density is None:
        surface = cell_density(x, y, cells, crs=crs, bandwidth=bandwidth, kernel=kernel, weights=w,
                               truncate=truncate, mode=mode, bin_offset=bin_offset)
    else:
        surface = density(x, y, cells, crs=crs, bandwidth=bandwidth, kernel=kernel, weights=w, truncate=truncate)
    surface.notes.update(notes, crs=crs, incidents=int((w > 0).sum()))
    if surface.error_bound_per_km2 is not None:
        surface.notes["binning_error_bound_per_km2"] = float(surface.error_bound_per_km2.max())
    return surface.to_frame()


def _as_cells(cells: np.ndarray) -> np.ndarray:
    return h3cells.from_strings(cells) if cells.dtype.kind in "OUS" else cells.astype(np.uint64)
