"""The grid SEPP baseline: the numba E-step against its brute-force twin, and EM recovering known parameters."""

from __future__ import annotations

import naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models._sepp_numba import sepp_estep
from models.baselines import _sorted_by_cell, fit_grid_sepp


def _events(seed, n_cells, n_events, span, tied):
    rng = np.random.default_rng(seed)
    cell = rng.integers(0, n_cells, n_events)
    times = rng.uniform(0, span, n_events)
    if tied:  # month-only data: many events share a time
        times = np.floor(times / 30.0) * 30.0 + 15.0
    return _sorted_by_cell(times, cell, n_cells)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_cells=st.integers(1, 6), n_events=st.integers(0, 60),
       theta=st.floats(0.0, 2.0), omega=st.floats(1e-3, 3.0), tied=st.booleans())
def test_estep_matches_brute_force(seed, n_cells, n_events, theta, omega, tied):
    times, starts = _events(seed, n_cells, n_events, 400.0, tied)
    mu = np.random.default_rng(seed + 1).uniform(0.01, 0.2, n_cells)
    got = sepp_estep(times, starts, mu, theta, omega)
    want = naive.sepp_estep(times, starts, mu, theta, omega)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


def test_estep_edge_cases():
    # no events; one event; a cell with none beside a cell with some
    for times, starts in [(np.zeros(0), np.array([0, 0])), (np.array([5.0]), np.array([0, 1])),
                          (np.array([1.0, 2.0]), np.array([0, 0, 2]))]:
        mu = np.full(starts.size - 1, 0.1)
        for g, w in zip(sepp_estep(times, starts, mu, 0.5, 0.2), naive.sepp_estep(times, starts, mu, 0.5, 0.2),
                        strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12)


def _simulate_grid_hawkes(rng, mu, theta, omega, span):
    """Branching simulation of independent exponential Hawkes processes, one per cell."""
    times, cells = [], []
    for c, rate in enumerate(mu):
        parents = rng.uniform(0, span, rng.poisson(rate * span))
        gen = parents
        while gen.size:
            times.append(gen)
            cells.append(np.full(gen.size, c))
            kids = rng.poisson(theta, gen.size)
            gen = np.repeat(gen, kids) + rng.exponential(1 / omega, kids.sum())
            gen = gen[gen < span]
    return np.concatenate(times), np.concatenate(cells)


def test_em_recovers_known_parameters():
    rng = np.random.default_rng(7)
    n_cells, span = 400, 1500.0
    mu = rng.gamma(1.5, 0.01, n_cells)
    theta, omega = 0.4, 1 / 5.0
    times, cells = _simulate_grid_hawkes(rng, mu, theta, omega, span)
    fit = fit_grid_sepp(times, cells, n_cells, 0.0, span)
    assert fit.theta == pytest.approx(theta, abs=0.05)
    assert 1 / fit.omega == pytest.approx(5.0, rel=0.2)
    # background per cell: total right, and busy cells ranked right
    assert fit.mu.sum() == pytest.approx(mu.sum(), rel=0.08)
    assert np.corrcoef(fit.mu, mu)[0, 1] > 0.9


def test_em_with_no_triggering_finds_little():
    rng = np.random.default_rng(3)
    n_cells, span = 200, 1000.0
    mu = rng.gamma(2.0, 0.01, n_cells)
    times, cells = _simulate_grid_hawkes(rng, mu, 0.0, 1.0, span)
    fit = fit_grid_sepp(times, cells, n_cells, 0.0, span)
    assert fit.theta < 0.05
    expected = fit.expected(times, cells, span, 28.0)
    assert expected.sum() == pytest.approx(mu.sum() * 28.0, rel=0.1)


def test_em_forecast_integrates_the_intensity():
    """The forecast is μL + θ Σ (e^{-ω(T - t)} - e^{-ω(T + L - t)}), checked against a numerical integral."""
    rng = np.random.default_rng(1)
    times, cells = _simulate_grid_hawkes(rng, np.array([0.05, 0.02]), 0.5, 0.3, 300.0)
    fit = fit_grid_sepp(times, cells, 2, 0.0, 300.0)
    grid = np.linspace(300.0, 328.0, 200_001)
    for c in range(2):
        past = times[cells == c]
        lam = fit.mu[c] + fit.theta * fit.omega * np.exp(-fit.omega * (grid[:, None] - past[None, :])).sum(axis=1)
        assert fit.expected(times, cells, 300.0, 28.0)[c] == pytest.approx(np.trapezoid(lam, grid), rel=1e-6)


def test_em_rejects_events_outside_the_window():
    from hotspots.core.errors import HotspotsError

    with pytest.raises(HotspotsError, match="inside the observation window"):
        fit_grid_sepp(np.array([5.0]), np.array([0]), 1, 0.0, 5.0)
