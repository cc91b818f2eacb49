"""Baselines on cases with known answers; the model: reproducible, never sees its test period, beats naive counts."""

from __future__ import annotations

import numpy as np
import pytest
from model_fixtures import TACTICAL

from hotspots.core.errors import HotspotsError
from hotspots.geo import cells as h3cells
from models.backtest import BLEND, MODEL, SERVED, rolling_backtest
from models.baselines import BASELINES, DecayedCounts, LastPeriod, Prospective, RetrospectiveKDE, get_baselines
from models.features import CellHistory
from models.predictor import RiskModel

FAST = dict(max_iter=60, zero_rows_per_period=3_000)


def test_last_and_decayed_counts(history):
    p = history.last_period
    i = p - history.first_period
    np.testing.assert_array_equal(LastPeriod().forecast(history, p), history.known_counts[i - 1])
    k = history.known_counts
    w = 0.5 ** (np.arange(i)[::-1] / 2.0)
    np.testing.assert_allclose(DecayedCounts(half_life=2.0).forecast(history, p), (w @ k[:i]) / w.sum())


def test_retrospective_kde_keeps_the_mass(history):
    p = history.last_period
    got = RetrospectiveKDE().forecast(history, p)
    per_period = history.known_targets(p).size / (p - history.first_period)
    assert got.sum() == pytest.approx(per_period, rel=0.05)  # mass near the force edge falls outside


def test_prospective_weights_by_distance_and_weeks():
    """One incident 10 days old (one whole week): each cell within 400 m scores 1/(1 + d/50) / 2, none beyond."""
    import pandas as pd

    from hotspots.geo.projection import project
    from models.target import parse_target

    lon, lat = -1.8983, 52.4796
    when = pd.Timestamp("2024-01-19 12:00", tz="Europe/London").tz_convert("UTC")  # period 1 starts 2024-01-29
    frame = pd.DataFrame({"incident_id": ["a"], "lon": [lon], "lat": [lat], "occurred_from": [when],
                          "occurred_to": [when], "offence": ["robbery"], "offence_group": ["robbery"],
                          "knife_enabled": [None], "victim_under_25": [None], "harm_weight": [365.0]})
    region = h3cells.k_ring(h3cells.points_to_cells(np.array([lon]), np.array([lat]), 10), 6)
    h = CellHistory(frame, region, TACTICAL, parse_target("robbery"), "EPSG:27700")
    got = Prospective().forecast(h, 1)
    clon, clat = h3cells.cell_centres(h.cells)
    cx, cy = project(clon, clat, "EPSG:27700")
    ix, iy = project(np.array([lon]), np.array([lat]), "EPSG:27700")
    d = np.hypot(cx - ix[0], cy - iy[0])
    want = np.where(d <= 400, 1 / (1 + d / 50) / 2, 0.0)
    np.testing.assert_allclose(got, want * (1.0 / want.sum()))  # scaled to the one incident a period


def test_unknown_baseline_lists_the_valid_ones():
    with pytest.raises(HotspotsError, match="sepp"):
        get_baselines(["oracle"])
    assert set(BASELINES) == {"last_period", "decayed_counts", "all_counts", "tuned_counts", "eb_shrinkage",
                              "retrospective_kde", "prospective", "sepp"}


def test_model_is_reproducible_and_seeded(history):
    p = history.last_period
    a = RiskModel(seed=1, **FAST).fit(history, p).predict(history, p)
    b = RiskModel(seed=1, **FAST).fit(history, p).predict(history, p)
    c = RiskModel(seed=2, **FAST).fit(history, p).predict(history, p)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (a >= 0).all()


def test_model_never_sees_its_period(history, two_years, force_area):
    """Whatever happens in the forecast period and after, the forecast of it is the same."""
    p = history.last_period - 2
    cutoff = history.calendar.bounds(p)[0]
    model = RiskModel(**FAST).fit(history, p)
    assert model.trained_periods_[1] == p - 1
    past = two_years[two_years["occurred_to"] < cutoff]
    truncated = CellHistory(past, force_area.cells(9), TACTICAL, history.target, "EPSG:27700")
    again = RiskModel(**FAST).fit(truncated, p)
    np.testing.assert_array_equal(model.predict(history, p), again.predict(truncated, p))


def test_too_little_history_is_a_user_error(history):
    with pytest.raises(HotspotsError, match="not enough history"):
        RiskModel().fit(history, history.first_period + 2)
    with pytest.raises(HotspotsError, match="not trained"):
        RiskModel().predict(history, history.last_period)


def test_backtest_on_the_synthetic_city(history):
    """Persistent hotspots and near repeats: the model must beat last period's counts, and be calibrated."""
    result = rolling_backtest(history, 3, RiskModel(**FAST))
    s = result.summary
    assert list(s.index) == [MODEL, *BASELINES, BLEND, SERVED]
    assert (s["periods"] == 3).all()
    assert s.loc[MODEL, "pai@1.4%"] > s.loc["last_period", "pai@1.4%"]
    assert s.loc[MODEL, "poisson_deviance"] < s.loc["last_period", "poisson_deviance"]
    assert 0.7 < s.loc[MODEL, "calibration_ratio"] < 1.3
    assert "best baseline" in result.verdict()
    labels = set(result.per_period["period"])
    assert labels == set(TACTICAL.label(history.complete_periods()[-3:]))


def test_strong_count_baselines_use_only_earlier_periods(history, two_years, force_area):
    """all_counts, tuned_counts and eb_shrinkage forecast a period the same whatever happens in it and after."""
    from models.baselines import AllCounts, ShrunkCounts, TunedCounts

    p = history.last_period - 2
    cutoff = history.calendar.bounds(p)[0]
    truncated = CellHistory(two_years[two_years["occurred_to"] < cutoff], force_area.cells(9), TACTICAL,
                            history.target, "EPSG:27700")
    for baseline in (AllCounts(), TunedCounts(), ShrunkCounts()):
        np.testing.assert_allclose(baseline.forecast(history, p), baseline.forecast(truncated, p), err_msg=baseline.name)


def test_all_counts_and_shrinkage_on_known_cases(history):
    """all_counts is the mean of earlier periods; shrinkage keeps the total near it and pulls a lone cell's
    rate toward its quiet neighbours."""
    from models.baselines import AllCounts, ShrunkCounts

    p = history.last_period
    i = p - history.first_period
    mean = history.known_counts[:i].mean(axis=0)
    np.testing.assert_allclose(AllCounts().forecast(history, p), mean)
    shrunk = ShrunkCounts().forecast(history, p)
    assert shrunk.sum() == pytest.approx(mean.sum(), rel=0.1) and (shrunk > 0).all()
    top = int(np.argmax(mean))
    assert shrunk[top] <= mean[top] + 1e-12


def test_tuned_counts_choose_from_earlier_periods_only(history):
    """The half-life and radius come from the grid (that they come from earlier periods only: the test above)."""
    from models.baselines import TUNED_HALF_LIVES, TUNED_STEPS, TunedCounts

    half_life, steps = TunedCounts().choose(history, history.last_period)
    assert half_life in TUNED_HALF_LIVES and steps in TUNED_STEPS


def test_the_noise_ceiling_is_above_chance_and_above_what_the_counts_reach(history):
    """Ranking by the long-run mean, on counts drawn from it: better than chance (PAI 1), and no lower than
    last period's counts reach on the real periods."""
    from models.backtest import noise_ceiling

    periods = [history.last_period - 1, history.last_period]
    ceiling = noise_ceiling(history, periods, draws=50)
    result = rolling_backtest(history, 2, RiskModel(**FAST), baselines=["last_period"])
    assert ceiling > 1.0 and ceiling >= result.summary.loc["last_period", "pai@1.4%"]
    assert noise_ceiling(history, periods, draws=50) == ceiling  # seeded
