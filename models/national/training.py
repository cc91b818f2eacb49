"""Training and backtesting at national scale: rows built part by part on the cluster, one model.

Each part (:mod:`models.national.features`) returns every cell-period with an incident and a
seeded draw of the empty ones, drawn within the part: a stratified sample, strata = part ×
period, each part drawing its share of ``zero_rows_per_period`` in proportion to its cells, and
each drawn row weighted by the inverse of its stratum's share, so the Poisson loss stays
unbiased. One model is fitted on the union.

The rolling-origin backtest follows :func:`models.backtest.rolling_backtest`: for each test period
a model is fitted on the sampled rows of earlier periods only, sent to the parts, and every
region cell is forecast and scored with :func:`models.metrics.score_forecast` beside the
baselines that decompose exactly over parts (``last_period``, ``decayed_counts``,
``retrospective_kde``). Prospective hotspotting is scaled by the region's recent total and the
grid SEPP fits region-wide parameters, so neither is computed part by part; they are left out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.geo.periods import Calendar, day_from_number
from hotspots.national.dataset import IncidentDataset
from models.backtest import MODEL, BacktestResult
from models.baselines import get_baselines
from models.features import FeatureConfig
from models.metrics import score_forecast
from models.national.features import PartJob, part_history, part_jobs, prepare_region, run_parts
from models.predictor import RiskModel
from models.serving import ServedForecast
from models.training import TrainedModel, code_version

log = logging.getLogger(__name__)

#: Baselines whose forecast for a cell needs only the cell's part and halo.
NATIONAL_BASELINES = ("last_period", "decayed_counts", "retrospective_kde")


def _part_training_rows(job: PartJob, calendar, target, config, layers, plan, selection, periods, seed) -> tuple:
    history, rows = part_history(job, calendar, target, config, layers, plan, selection)
    X, y, w, when = [], [], [], []
    for p in periods:
        features, observed = history.features(int(p))[rows], history.observed(int(p))[rows]
        keep = np.flatnonzero(observed > 0)
        zero = np.flatnonzero(observed == 0)
        weight = np.ones(keep.size)
        if zero.size and job.zero_rows:
            # Seeded by the part's first cell and the period: the same data, the same draw.
            rng = np.random.default_rng(np.random.SeedSequence([seed, int(p) & 0xFFFFFFFF,
                                                                 int(job.part_cells[0]) & 0xFFFFFFFF]))
            take = zero if zero.size <= job.zero_rows else np.sort(rng.choice(zero, job.zero_rows, replace=False))
            keep = np.concatenate([keep, take])
            weight = np.concatenate([weight, np.full(take.size, zero.size / take.size)])
        X.append(features[keep])
        y.append(observed[keep])
        w.append(weight)
        when.append(np.full(keep.size, int(p)))
    return np.concatenate(X), np.concatenate(y), np.concatenate(w), np.concatenate(when), history.feature_names


def _part_forecasts(job: PartJob, calendar, target, config, layers, plan, selection, models: dict) -> dict:
    """For each test period: every method's forecast, the observed counts and the areas of the part's cells."""
    history, rows = part_history(job, calendar, target, config, layers, plan, selection)
    out = {}
    for period, model in models.items():
        forecasts = {MODEL: model.predict(history, period)[rows]}
        for baseline in get_baselines(NATIONAL_BASELINES):
            forecasts[baseline.name] = baseline.forecast(history, period)[rows]
        out[period] = (forecasts, history.observed(period)[rows], history.areas_m2[rows])
    return out


def train_national(dataset: IncidentDataset, cells, calendar: Calendar, target, *, forecast_period: int | None = None,
                   model=None, config=None, layers=(), backtest_periods: int = 0, parent_resolution: int | None = None,
                   selection: dict | None = None, client=None, progress=None):
    """A :class:`models.training.TrainedModel` fitted on a stratified sample of cell-periods built
    part by part (see the module docstring), backtested on the last ``backtest_periods``
    complete periods before ``forecast_period`` (default: the period after the last complete one).

    Parameters
    ----------
    dataset, cells, calendar, target, config, layers : as for
        :func:`models.national.features.partitioned_features`.
    model : the model's settings (``zero_rows_per_period`` is the sample's empty rows per period).
    selection : ``forces`` (and other reader filters) of the data set.
    client : a ``dask.distributed.Client``; ``None`` runs the parts here.
    progress : called with a line after each step.

    Returns
    -------
    TrainedModel
        As :func:`models.training.train` returns it; its card records the stratified sample.
    """
    config = config or FeatureConfig()
    selection = selection or {}
    template = model or RiskModel()
    say = progress or (lambda line: None)
    cells, parent, plan = prepare_region(dataset, cells, calendar, target, config, parent_resolution, selection)
    covered = np.arange(plan.span[0], plan.span[1] + 1)
    complete = covered[calendar.end_day(covered) <= plan.last_day]
    if forecast_period is None:
        forecast_period = int(complete[-1]) + 1 if complete.size else plan.span[1] + 1
    if not plan.span[0] < forecast_period <= plan.span[1] + 1:
        raise ValidationError(f"forecast_period={forecast_period} is outside what the data can forecast", arguments="forecast_period")
    periods = covered[(covered >= plan.span[0] + template.warmup_periods) & (covered < forecast_period)]
    if periods.size == 0:
        raise ValidationError(f"not enough history to train: a model needs {template.warmup_periods + 1} periods "
                            "before the one it forecasts; load more history or move the cutoff")
    tests = complete[(complete > periods[0]) & (complete < forecast_period)][-backtest_periods:] \
        if backtest_periods > 0 else np.zeros(0, int)
    if backtest_periods > 0 and tests.size == 0:
        raise ValidationError(f"the data is too short to backtest: a test period needs {template.warmup_periods + 1} "
                            "complete periods before it; load more history or use shorter periods")
    jobs = part_jobs(dataset, cells, config, parent, template.zero_rows_per_period)
    t = time.perf_counter()
    results = run_parts(client, _part_training_rows, jobs, calendar, target, config, tuple(layers), plan, selection,
                        list(periods), template.seed)
    X, y, w, when = (np.concatenate([r[i] for r in results]) for i in range(4))
    names = results[0][4]
    say(f"{y.size:,} sampled cell-periods from {len(jobs)} parts in {time.perf_counter() - t:.0f} s")
    backtest = None
    if tests.size:
        models = {}
        for period in tests:
            before = when < period
            models[int(period)] = RiskModel(**template.get_params()).fit_rows(
                X[before], y[before], w[before], names, (int(when[before].min()), int(when[before].max())))
        backtest = _backtest(jobs, models, calendar, target, config, layers, plan, selection, client, say)
    fitted = RiskModel(**template.get_params()).fit_rows(X, y, w, names, (int(periods[0]), int(periods[-1])))
    say("final model fitted")
    cutoff = int(calendar.start_day(np.array([forecast_period]))[0])
    note = (f"Fitted at national scale on a stratified sample built part by part: {len(jobs)} parts (cells under "
            f"resolution-{parent} H3 parents), each part's features from the part and a halo of cells around it. "
            f"Every cell-period with an incident is kept; of the empty ones, each part draws its share of "
            f"{template.zero_rows_per_period:,} per period (in proportion to its cells), weighted back up. "
            f"Data set {dataset.root} (the fingerprint is of its files).")
    notes = [note]
    if backtest is not None:
        notes.append("National backtest: prospective hotspotting and the grid SEPP are left out of the baselines "
                     "(both need the whole region at once).")
    return TrainedModel(
        model=fitted, target=target, calendar=calendar, resolution=int((cells[0] >> np.uint64(52)) & np.uint64(0xF)),
        crs=dataset.crs, feature_config=replace(config, covariate_groups=plan.covariate_groups),
        covariate_groups=plan.covariate_groups, layers=tuple(layers), forecast_period=int(forecast_period),
        training_start=day_from_number(plan.first_day), training_end=day_from_number(cutoff - 1),
        data_fingerprint=plan.fingerprint, code_version=code_version(), backtest=backtest, n_incidents=plan.incidents,
        n_cells=int(cells.size), notes=notes,
        served=ServedForecast.model_only(fitted, "at national scale the model is served as fitted: the blend and "
                                                 "its recalibration are not yet built part by part"))


def _backtest(jobs, models: dict, calendar, target, config, layers, plan, selection, client, say) -> BacktestResult:
    """Score each test period's model (fitted on the sampled rows of earlier periods only) and the
    baselines on every region cell."""
    t = time.perf_counter()
    parts = run_parts(client, _part_forecasts, jobs, calendar, target, config, tuple(layers), plan, selection, models)
    rows = []
    for period in models:
        label = calendar.label(np.array([period]))[0]
        observed = np.concatenate([part[period][1] for part in parts])
        areas = np.concatenate([part[period][2] for part in parts])
        for method in parts[0][period][0]:
            expected = np.concatenate([part[period][0][method] for part in parts])
            rows.append({"method": method, "period": label, **score_forecast(expected, observed, areas)})
        say(f"{label}: scored on {observed.size:,} cells")
    result = BacktestResult(pd.DataFrame(rows), {b.name: b.describe() for b in get_baselines(NATIONAL_BASELINES)},
                            {"forecasts and baselines": round(time.perf_counter() - t, 3)})
    say(result.verdict())
    return result
