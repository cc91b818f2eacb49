"""Features per H3 cell and period, each computed only from what was known before the period.

:class:`CellHistory` counts a region's incidents once into cells × periods and then builds, for
any period ``p``, one row per cell. Two counts are kept apart:

* what is *scored* (the target of period ``p``): each incident spread over the periods its
  recorded interval overlaps, so a data.police.uk month falls into 28-day periods by its days;
* what a forecast may *use*: an incident is known only once its whole recorded interval has
  passed. A month that runs past the start of ``p`` is not used to forecast ``p``; otherwise its
  count, which includes days inside ``p``, would leak the answer into the forecast.

The features of period ``p``:

* ``lag_L``: target incidents in the last ``L`` periods (1, 3, 6, 12 by default);
* ``decay_hH``: target incidents halved every ``H`` periods, summed over all earlier periods;
* ``kde_Bm``: a quartic kernel density (numba core, :func:`hotspots.density.kde.cell_density`) of the
  target incidents of the last ``kde_history_days`` at bandwidth ``B`` metres, halved every
  ``kde_half_life_days``;
* ``near{k}_lag1`` and ``near{k}_lagL``: the same counts summed over the cells up to ``k`` grid
  steps away (the cell itself left out);
* ``mean_all``: target incidents per period over every earlier period (each cell's long-run mean),
  and ``shrunk_mean``: that mean shrunk toward its ring's (``shrink_steps`` away), as a Poisson-gamma
  posterior mean whose prior counts as ``shrink_periods`` periods (local only, so a part of a
  national region gets the whole region's values);
* ``harm_lagL``: Crime Harm Index days of every covariate offence in the last ``L`` periods;
* ``group_<g>``: incidents of each covariate offence group in the last ``L`` periods. Offences
  that police activity detects (and stop and search) are not covariates by default, for the
  same reason they are not targets: patrols would feed their own forecasts;
* ``month_sin``, ``month_cos``, ``summer_holiday`` (share of the period's days between
  22 July and 31 August, the English school summer holiday), ``history_periods``;
* ``days_since_last``: days from the middle of the last target incident to the period start
  (missing if none);
* per user layer (points such as schools or transport stops): ``dist_<name>`` in metres from the
  cell centre to the nearest point and ``count_<name>`` within ``layer_radius_m``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from h3ronpy import grid_disk
from scipy import sparse
from scipy.spatial import cKDTree

from hotspots.core.errors import FormatError, NotReadyError, ValidationError
from hotspots.core.validate import check_file
from hotspots.crime.aggregate import incident_days
from hotspots.crime.offences import vocabulary
from hotspots.density.kde import cell_density
from hotspots.geo import cells as h3cells
from hotspots.geo.periods import Calendar, day_from_number
from hotspots.geo.projection import project
from models.target import Target

log = logging.getLogger(__name__)

# The English school summer holiday, roughly: 22 July to the end of August.
_SUMMER_FIRST_JULY_DAY = 22


@dataclass(frozen=True)
class FeatureConfig:
    """Which features to build (see the module docstring for each).

    Attributes
    ----------
    lags : periods summed for the ``lag_L`` features.
    half_lives : half-lives in periods of the ``decay_hH`` features.
    bandwidths_m : kernel bandwidths in metres of the ``kde_Bm`` features.
    kde_history_days, kde_half_life_days : window and half-life in days of the KDE features.
    neighbour_steps : H3 grid steps of the ``near{k}_*`` features.
    long_run : whether to build ``mean_all`` and ``shrunk_mean``.
    shrink_steps, shrink_periods : the ring and the prior weight (in periods) of ``shrunk_mean``.
    layer_radius_m : radius in metres of the ``count_<layer>`` features.
    covariate_groups : offence groups counted as covariates; ``None`` takes the groups in the
        data less those police activity detects.
    """

    lags: tuple[int, ...] = (1, 3, 6, 12)
    half_lives: tuple[float, ...] = (1.0, 6.0)
    bandwidths_m: tuple[float, ...] = (150.0, 300.0, 600.0)
    kde_history_days: int = 365
    kde_half_life_days: float = 56.0
    neighbour_steps: tuple[int, ...] = (1, 2)
    long_run: bool = True
    shrink_steps: int = 2
    shrink_periods: float = 6.0
    layer_radius_m: float = 500.0
    covariate_groups: tuple[str, ...] | None = None

    def __post_init__(self):
        if not self.lags or min(self.lags) < 1:
            raise ValidationError(f"lags={self.lags!r} must be one or more whole numbers of periods, 1 or more", arguments="lags")


@dataclass(frozen=True)
class PointLayer:
    """User points (schools, transport stops, licensed premises) in projected metres."""

    name: str
    x: np.ndarray
    y: np.ndarray


def read_point_layer(path: str | Path, crs: str, name: str | None = None) -> PointLayer:
    """Points of a GeoJSON (or any GDAL vector file) as a layer named after the file."""
    import geopandas as gpd

    p = check_file(path, "layer")
    try:
        frame = gpd.read_file(p, engine="pyogrio")
    except Exception as exc:  # GDAL raises many types; each means "not a readable vector file"
        raise FormatError(f"layer {p.name}: not a readable GeoJSON or vector file ({exc})") from None
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.empty:
        raise ValidationError(f"layer {p.name}: has no features")
    pts = frame.to_crs("EPSG:4326").geometry.representative_point()
    x, y = project(pts.x.to_numpy(), pts.y.to_numpy(), crs)
    label = re.sub(r"[^a-z0-9]+", "_", (name or p.stem).lower()).strip("_") or "layer"
    return PointLayer(label, x, y)


def neighbour_matrix(cells: np.ndarray, steps: int) -> sparse.csr_matrix:
    """Sparse (m, m) 0/1 matrix: row i marks the region's cells within ``steps`` of cell i, itself left out."""
    cells = np.asarray(cells, dtype=np.uint64)
    disks = pa.array(grid_disk(pa.array(cells), int(steps), flatten=False))
    lengths = disks.value_lengths().to_numpy()
    members = disks.flatten().to_numpy().astype(np.uint64)
    rows = np.repeat(np.arange(cells.size), lengths)
    pos = np.searchsorted(cells, members).clip(max=max(cells.size - 1, 0))
    keep = (cells[pos] == members) & (pos != rows)
    return sparse.csr_matrix((np.ones(int(keep.sum())), (rows[keep], pos[keep])), shape=(cells.size, cells.size))


def covariate_groups_in(groups) -> tuple[str, ...]:
    """The covariate offence groups by default: those present, less the ones police activity detects."""
    vocab = vocabulary()
    detected = set(vocab.table.loc[vocab.police_detected(), "offence_group"])
    return tuple(sorted(set(groups) - detected))


def _summer_share(start_day: int, end_day: int) -> float:
    days = np.arange(start_day, end_day).astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype(int) % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype(int) + 1
    inside = ((months == 7) & (dom >= _SUMMER_FIRST_JULY_DAY)) | (months == 8)
    return float(inside.mean()) if days.size else 0.0


@dataclass
class CellHistory:
    """A region's incidents counted per cell and period; builds features for any covered period.

    Parameters
    ----------
    incidents : normalised incidents (``occurred_from``/``occurred_to`` UTC, ``lon``, ``lat``,
        ``offence``, ``offence_group``, ``harm_weight``, ``knife_enabled``, ``victim_under_25``).
    cells : the region's H3 cells (uint64, one resolution); incidents outside them are left out.
    calendar : the periods.
    target : what is forecast.
    crs : projected CRS for distances.
    config : which features.
    layers : user point layers.
    span : (first, last) period the counts cover; ``None`` takes them from the incidents. A part of
        a national region (:mod:`models.national.features`) is given the whole region's span, so
        its features equal the whole region's, and may then hold no incidents at all.
    """

    incidents: pd.DataFrame
    cells: np.ndarray
    calendar: Calendar
    target: Target
    crs: str
    config: FeatureConfig = field(default_factory=FeatureConfig)
    layers: tuple[PointLayer, ...] = ()
    span: tuple[int, int] | None = None

    def __post_init__(self):
        self.cells = np.unique(np.asarray(self.cells, dtype=np.uint64))
        if self.cells.size == 0:
            raise ValidationError("cells: the region has no cells; check the area and resolution", arguments="cells")
        frame = self.incidents.reset_index(drop=True)
        if frame.empty and self.span is None:
            raise NotReadyError("no incidents to learn from; load incidents or widen the dates")
        self.resolution = int((self.cells[0] >> np.uint64(52)) & np.uint64(0xF))
        at = h3cells.points_to_cells(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), self.resolution)
        pos = np.searchsorted(self.cells, at).clip(max=self.cells.size - 1)
        inside = self.cells[pos] == at
        if not inside.all():
            log.info("%d incidents outside the region's cells are left out", int((~inside).sum()))
        frame, pos = frame[inside].reset_index(drop=True), pos[inside]
        self.incidents_used = frame
        self.is_target = self.target.mask(frame, check=self.span is None)
        if not self.is_target.any() and self.span is None:
            raise ValidationError(f"no incidents of the target ({self.target.describe()}); choose another target", arguments="target")
        self.start_day, self.end_day = incident_days(frame, self.calendar.timezone)
        self.cell_index = pos
        # What is scored: each incident spread over the periods its recorded interval overlaps.
        rows, periods, weight = self.calendar.apportion(self.start_day, self.end_day)
        # What a forecast may use: an incident is known once its whole interval has passed, so a
        # data.police.uk month that runs past a period's start is not used to forecast that period.
        self.known_period = self.calendar.period_of_day(self.end_day - 1)
        if self.span is None:
            self.first_period = int(min(periods.min(), self.known_period.min()))
            self.last_period = int(max(periods.max(), self.known_period.max()))
        else:
            self.first_period, self.last_period = map(int, self.span)
        n_p, n_c = self.last_period - self.first_period + 1, self.cells.size
        tgt = self.is_target[rows]
        self.target_counts = self._dense(periods[tgt] - self.first_period, pos[rows][tgt], weight[tgt], n_p, n_c)
        kp = self.known_period - self.first_period
        groups = self._covariate_groups(frame)
        self.covariate_groups = groups
        covariate = frame["offence_group"].isin(groups).to_numpy()
        harm = frame["harm_weight"].fillna(0.0).to_numpy(float)
        t = self.is_target
        self.known_counts = self._dense(kp[t], pos[t], np.ones(int(t.sum())), n_p, n_c)
        self._cum_target = self._cumulative(self.known_counts)
        self._cum_harm = self._cumulative(self._dense(kp[covariate], pos[covariate], harm[covariate], n_p, n_c))
        code = pd.Index(groups).get_indexer(frame["offence_group"].to_numpy(object))
        self._cum_groups = [self._cumulative(self._dense(kp[code == g], pos[code == g], np.ones(int((code == g).sum())),
                                                         n_p, n_c)) for g in range(len(groups))]
        self._decays = {h: self._decayed(self.known_counts, h) for h in self.config.half_lives}
        self._last_seen = self._last_target_day(n_p)
        self._row_cache: dict = {}
        self._lon, self._lat = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)

    # -- counting ----------------------------------------------------------------------------
    def _covariate_groups(self, frame: pd.DataFrame) -> tuple[str, ...]:
        if self.config.covariate_groups is not None:
            return tuple(self.config.covariate_groups)
        return covariate_groups_in(frame["offence_group"].dropna())

    @staticmethod
    def _dense(p: np.ndarray, c: np.ndarray, w: np.ndarray, n_p: int, n_c: int) -> np.ndarray:
        flat = np.bincount(p * n_c + c, weights=w, minlength=n_p * n_c)
        return flat.reshape(n_p, n_c)

    @staticmethod
    def _cumulative(counts: np.ndarray) -> np.ndarray:
        """Row ``i`` holds the sum of periods before the ``i``-th (shape (n_p + 1, n_c))."""
        out = np.zeros((counts.shape[0] + 1, counts.shape[1]), dtype=np.float64)
        np.cumsum(counts, axis=0, out=out[1:])
        return out

    @staticmethod
    def _decayed(counts: np.ndarray, half_life: float) -> np.ndarray:
        """Row ``i``: Σ over earlier periods q of counts[q] · 0.5 ** ((i - 1 - q) / half_life)."""
        a = 0.5 ** (1.0 / half_life)
        out = np.zeros((counts.shape[0] + 1, counts.shape[1]))
        for i in range(1, out.shape[0]):
            out[i] = a * out[i - 1] + counts[i - 1]
        return out

    def _last_target_day(self, n_p: int) -> np.ndarray:
        """Row ``i``: middle day of the latest target incident known before period ``i`` (NaN if none)."""
        tgt = np.flatnonzero(self.is_target)
        middle = (self.start_day[tgt] + self.end_day[tgt] - 1) / 2.0
        latest = np.full((n_p + 1, self.cells.size), -np.inf)
        np.maximum.at(latest, (self.known_period[tgt] - self.first_period + 1, self.cell_index[tgt]), middle)
        np.maximum.accumulate(latest, axis=0, out=latest)
        latest[np.isinf(latest)] = np.nan
        return latest

    # -- periods -----------------------------------------------------------------------------
    def observed(self, period: int) -> np.ndarray:
        """Target incidents in ``period`` per cell (shape (m,)); the period must be covered."""
        self.check_period(period, observed=True)
        return self.target_counts[period - self.first_period]

    def next_period(self) -> int:
        """The period after the last complete one: what a model trained on all the data forecasts."""
        complete = self.complete_periods()
        return int(complete[-1]) + 1 if complete.size else self.last_period + 1

    def covered_periods(self) -> np.ndarray:
        return np.arange(self.first_period, self.last_period + 1)

    def check_period(self, period: int, observed: bool = False) -> int:
        last = self.last_period if observed else self.last_period + 1
        if not self.first_period < period <= last:
            labels = self.calendar.label(np.array([self.first_period, self.last_period]))
            raise ValidationError(
                f"period {self.calendar.label(np.array([period]))[0]} is outside what the data can "
                f"{'score' if observed else 'forecast'}: the incidents cover {labels[0]} to {labels[1]}")
        return period - self.first_period

    @cached_property
    def _neighbours(self) -> dict[int, sparse.csr_matrix]:
        return {k: neighbour_matrix(self.cells, k) for k in self.config.neighbour_steps}

    @cached_property
    def centre_tree(self) -> cKDTree:
        """The cells' centres in projected metres, as a KD-tree (``.data`` holds them, shape (m, 2))."""
        lon, lat = h3cells.cell_centres(self.cells)
        return cKDTree(np.column_stack(project(lon, lat, self.crs)))

    @cached_property
    def _layer_features(self) -> dict[str, np.ndarray]:
        out = {}
        for layer in self.layers:
            tree = cKDTree(np.column_stack([layer.x, layer.y]))
            out[f"dist_{layer.name}"] = tree.query(self.centre_tree.data)[0]
            out[f"count_{layer.name}"] = tree.query_ball_point(self.centre_tree.data, self.config.layer_radius_m,
                                                               return_length=True).astype(float)
        return out

    @cached_property
    def areas_m2(self) -> np.ndarray:
        """Area of each cell in m² (hit rates are shares of area, not of cells)."""
        return h3cells.cell_areas_m2(self.cells)

    def complete_periods(self) -> np.ndarray:
        """Periods the data covers to their last day: the only ones a forecast can be scored on."""
        covered_to = int(self.end_day.max())
        periods = self.covered_periods()
        return periods[self.calendar.end_day(periods) <= covered_to]

    def training_rows(self, period: int, zero_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, target and weight of the cells of ``period`` that a model trains on.

        Every cell with an incident is kept; of the cells without, at most ``zero_rows`` are drawn
        (seeded by ``seed`` and the period) and weighted by the inverse of the share drawn, so the
        Poisson loss is unbiased. The draw depends on the period alone, so a backtest that refits
        on a longer window reuses the rows (cached).
        """
        key = (period, zero_rows, seed)
        cache = self._row_cache
        if key not in cache:
            X = self.features(period)
            y = self.observed(period)
            zero = np.flatnonzero(y == 0)
            keep = np.flatnonzero(y > 0)
            w = np.ones(keep.size)
            if zero.size:
                rng = np.random.default_rng(np.random.SeedSequence([seed, period & 0xFFFFFFFF]))
                take = zero if zero.size <= zero_rows else np.sort(rng.choice(zero, zero_rows, replace=False))
                keep = np.concatenate([keep, take])
                w = np.concatenate([w, np.full(take.size, zero.size / take.size)])
            cache[key] = (X[keep], y[keep], w)
        return cache[key]

    @cached_property
    def projected(self) -> tuple[np.ndarray, np.ndarray]:
        return project(self._lon, self._lat, self.crs)

    @property
    def feature_names(self) -> list[str]:
        c = self.config
        big = max(c.lags)
        names = [f"lag_{L}" for L in c.lags] + [f"decay_h{h:g}" for h in c.half_lives]
        names += [f"kde_{b:g}m" for b in c.bandwidths_m]
        for k in c.neighbour_steps:
            names += [f"near{k}_lag1", f"near{k}_lag{big}"]
        if c.long_run:
            names += ["mean_all", "shrunk_mean"]
        names += [f"harm_lag{big}"] + [f"group_{g}" for g in self.covariate_groups]
        names += ["month_sin", "month_cos", "summer_holiday", "history_periods", "days_since_last"]
        return names + list(self._layer_features)

    def known_targets(self, period: int, history_days: float | None = None) -> np.ndarray:
        """Indices of the target incidents known before ``period`` starts (within ``history_days`` of it)."""
        cutoff = int(self.calendar.start_day(np.array([period]))[0])
        keep = self.is_target & (self.end_day <= cutoff)
        if history_days is not None:
            keep &= self.end_day > cutoff - history_days
        return np.flatnonzero(keep)

    def middle_days(self, rows: np.ndarray) -> np.ndarray:
        """Middle of each incident's recorded interval, in local day numbers (float)."""
        return (self.start_day[rows] + self.end_day[rows]) / 2.0

    def target_kde(self, period: int, bandwidth_m: float, history_days: float | None = None,
                   half_life_days: float | None = None) -> np.ndarray:
        """Kernel density (expected incidents per cell) of target incidents known before ``period``.

        Incidents known in the ``history_days`` before the start (all if ``None``) count,
        halved every ``half_life_days`` of age (no decay if ``None``), age taken from the middle
        of the recorded interval.
        """
        rows = self.known_targets(period, history_days)
        cutoff = float(self.calendar.start_day(np.array([period]))[0])
        w = np.ones(rows.size) if half_life_days is None else np.exp2(-(cutoff - self.middle_days(rows)) / half_life_days)
        x, y = self.projected
        return cell_density(x[rows], y[rows], self.cells, crs=self.crs, bandwidth=bandwidth_m, weights=w).expected

    def _long_run(self, i: int) -> list[np.ndarray]:
        """``mean_all`` and ``shrunk_mean`` before the ``i``-th period."""
        c = self.config
        n = self._cum_target[i]
        mean = n / max(i, 1)
        ring = self._neighbours[c.shrink_steps] if c.shrink_steps in self._neighbours else neighbour_matrix(
            self.cells, c.shrink_steps)
        size = np.asarray(ring.sum(axis=1)).ravel() + 1.0
        local = (ring @ mean + mean) / size  # the ring's mean rate, the cell included
        return [mean, (n + c.shrink_periods * local) / (i + c.shrink_periods)]

    def features(self, period: int, dtype=np.float32) -> np.ndarray:
        """Feature matrix for ``period`` from earlier periods only, shape (m cells, len(feature_names));
        float32 for the booster, float64 to compare ways of computing it."""
        i = self.check_period(period)
        c = self.config
        cols: list[np.ndarray] = []
        lag = {L: self._cum_target[i] - self._cum_target[max(i - L, 0)] for L in c.lags}
        big = max(c.lags)
        cols += [lag[L] for L in c.lags] + [self._decays[h][i] for h in c.half_lives]
        cols += [self.target_kde(period, b, c.kde_history_days, c.kde_half_life_days) for b in c.bandwidths_m]
        for k in c.neighbour_steps:
            A = self._neighbours[k]
            cols += [A @ lag[1], A @ lag[big]]
        if c.long_run:
            cols += self._long_run(i)
        cols.append(self._cum_harm[i] - self._cum_harm[max(i - big, 0)])
        cols += [g[i] - g[max(i - big, 0)] for g in self._cum_groups]
        start = int(self.calendar.start_day(np.array([period]))[0])
        end = int(self.calendar.end_day(np.array([period]))[0])
        mid = day_from_number((start + end) // 2)
        angle = 2 * np.pi * (mid.month - 1 + (mid.day - 1) / 31) / 12
        m = self.cells.size
        cols += [np.full(m, np.sin(angle)), np.full(m, np.cos(angle)), np.full(m, _summer_share(start, end)),
                 np.full(m, float(min(i, big)))]
        cols.append(start - self._last_seen[i])
        cols += list(self._layer_features.values())
        return np.column_stack(cols).astype(dtype)
