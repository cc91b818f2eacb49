"""Forecast scores: hit rate, PAI and PEI by area with fair ties, deviance and calibration, on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.core.errors import HotspotsError
from models.metrics import calibration, coverage_metrics, hits_at, poisson_deviance


def test_hits_take_the_best_cells_by_area():
    scores = np.array([5.0, 4.0, 3.0, 2.0])
    observed = np.array([1.0, 0.0, 3.0, 6.0])
    areas = np.ones(4)
    assert hits_at(scores, observed, areas, 0.25) == 1.0
    assert hits_at(scores, observed, areas, 0.5) == 1.0
    assert hits_at(scores, observed, areas, 0.75) == 4.0
    # half a cell of budget takes half the next cell's incidents (a cell is split only at the boundary)
    assert hits_at(scores, observed, areas, 0.625) == pytest.approx(1.0 + 0.5 * 3.0)


def test_ties_count_as_a_random_draw_among_them():
    scores = np.array([1.0, 1.0, 1.0, 1.0])
    observed = np.array([4.0, 0.0, 0.0, 0.0])
    assert hits_at(scores, observed, np.ones(4), 0.25) == pytest.approx(1.0)  # 4 incidents × 1/4 chance


def test_unequal_areas_are_counted_by_area():
    scores = np.array([3.0, 2.0, 1.0])
    observed = np.array([1.0, 5.0, 0.0])
    areas = np.array([2.0, 1.0, 1.0])
    assert hits_at(scores, observed, areas, 0.5) == 1.0  # the big first cell is half the area
    assert hits_at(scores, observed, areas, 0.75) == 6.0


def test_pai_and_pei():
    scores = np.arange(100, 0, -1, dtype=float)
    observed = np.zeros(100)
    observed[[0, 50]] = 1.0
    m = coverage_metrics(scores, observed, np.ones(100), shares=(0.01,))
    assert m["hit_rate@1%"] == 0.5
    assert m["pai@1%"] == pytest.approx(50.0)
    assert m["pei@1%"] == pytest.approx(0.5 / 0.5)  # the best 1 cell could also hold only one of the two
    empty = coverage_metrics(scores, np.zeros(100), np.ones(100), shares=(0.01,))
    assert np.isnan(empty["pai@1%"])


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 60), share=st.floats(0.01, 1.0))
def test_pei_never_exceeds_one_and_hits_are_monotone(seed, n, share):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, n).astype(float)
    observed = rng.poisson(1.0, n).astype(float)
    areas = rng.uniform(0.5, 1.5, n)
    got = hits_at(scores, observed, areas, share)
    # The most any ranking can catch: cells by observed density (a fractional knapsack). Ranking by
    # counts alone is not an upper bound when cells differ in area.
    assert got <= hits_at(observed / areas, observed, areas, share) + 1e-9
    assert got <= hits_at(scores, observed, areas, min(share * 1.5, 1.0)) + 1e-9
    assert hits_at(scores, observed, areas, 1.0) == pytest.approx(observed.sum())


def test_deviance_and_calibration():
    assert poisson_deviance(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    y = np.array([0.0, 2.0, 1.0])
    mu = np.array([0.5, 1.0, 1.5])
    want = 2 * np.mean([0 - (0 - 0.5), 2 * np.log(2) - 1, np.log(1 / 1.5) + 0.5])
    assert poisson_deviance(mu, y) == pytest.approx(want)
    assert np.isfinite(poisson_deviance(np.zeros(3), y))  # floored, not infinite
    c = calibration(2 * y, y)
    assert c["calibration_ratio"] == pytest.approx(2.0)
    assert c["calibration_slope"] == pytest.approx(0.5)


def test_bad_arguments_are_user_errors():
    with pytest.raises(HotspotsError, match="share"):
        hits_at(np.ones(2), np.ones(2), np.ones(2), 0.0)
    with pytest.raises(HotspotsError, match="one value per cell"):
        hits_at(np.ones(2), np.ones(3), np.ones(2), 0.5)
