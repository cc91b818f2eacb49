"""Gi*: z-scores against PySAL esda, the permutation kernel against its twin, FDR, emerging classes."""

import warnings

import naive
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.core.errors import HotspotsError
from hotspots.geo import cells as h3cells
from hotspots.places._gistar_numba import gistar_permutation_p, gistar_permutation_p_periods
from hotspots.places.emerging import classify_series, hotspot_emerging, mann_kendall
from hotspots.places.gistar import false_discovery_q, gi_star_z, gistar_periods, hotspot_gistar, neighbourhood

CENTRE = (-1.8983, 52.4796)


def disc(k: int, res: int = 10) -> np.ndarray:
    centre = h3cells.points_to_cells(np.array([CENTRE[0]]), np.array([CENTRE[1]]), res)
    return h3cells.k_ring(centre, k)


def esda_z(values, cells, k):
    from esda.getisord import G_Local
    from libpysal.weights import W

    indptr, indices = neighbourhood(cells, k)
    w = W({i: list(indices[indptr[i]:indptr[i + 1]]) for i in range(cells.size)}, silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return G_Local(values, w, transform="B", star=True, permutations=0).Zs


@pytest.mark.parametrize("k", [1, 2, 3])
def test_z_matches_esda(k):
    cells = disc(12)
    rng = np.random.default_rng(k)
    values = rng.negative_binomial(1, 0.6, cells.size).astype(float)
    indptr, indices = neighbourhood(cells, k)
    np.testing.assert_allclose(gi_star_z(values, indptr, indices), esda_z(values, cells, k), rtol=1e-10, atol=1e-10)


def test_z_matches_esda_on_the_force_area_sample():
    """Real edges: cells at the force boundary have fewer neighbours, and esda agrees on them too."""
    from hotspots.core.config import DEFAULT_FORCE_AREA
    from hotspots.geo.areas import Area

    cells = Area.from_file(DEFAULT_FORCE_AREA).cells(8)
    values = np.random.default_rng(0).poisson(2.0, cells.size).astype(float)
    indptr, indices = neighbourhood(cells, 1)
    assert (np.diff(indptr) < 6).any()  # the boundary is in the test
    np.testing.assert_allclose(gi_star_z(values, indptr, indices), esda_z(values, cells, 1), rtol=1e-10, atol=1e-10)


def test_neighbourhood_is_symmetric_and_excludes_self():
    cells = disc(4)
    indptr, indices = neighbourhood(cells, 2)
    owner = np.repeat(np.arange(cells.size), np.diff(indptr))
    assert not (owner == indices).any()
    pairs = set(zip(owner.tolist(), indices.tolist(), strict=True))
    assert all((j, i) in pairs for i, j in pairs)
    assert np.diff(indptr).max() == 18  # 19 cells within two steps, self left out


def test_pentagon_has_five_neighbours():
    pentagon = np.array([h3cells.from_strings(["8a0800000007fff"])[0]], np.uint64)  # a res-10 pentagon
    cells = np.unique(h3cells.k_ring(pentagon, 1))
    indptr, _ = neighbourhood(cells, 1)
    assert np.diff(indptr)[np.searchsorted(cells, pentagon[0])] == 5


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 40), st.integers(0, 2**31), st.sampled_from([0, 3]), st.integers(1, 3))
def test_permutation_kernel_equals_twin(n, seed, stop_after, k):
    cells = disc(4)[:n]
    values = np.random.default_rng(seed).poisson(1.0, cells.size).astype(float)
    indptr, indices = neighbourhood(cells, k)
    fast = gistar_permutation_p(values, indptr, indices, 49, seed, stop_after)
    slow = naive.gistar_permutation_p(values, indptr, indices, 49, seed, stop_after)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 40), st.integers(0, 2**31), st.sampled_from([0, 3]), st.integers(1, 3), st.integers(1, 5),
       st.booleans())
def test_periods_kernel_is_the_single_kernel_per_period(n, seed, stop_after, k, periods, harm):
    """Sharing the draws changes nothing for any one period: column t is the single-period kernel's
    answer (and so its twin's) on column t, with the same seed, draws used included."""
    cells = disc(4)[:n]
    rng = np.random.default_rng(seed)
    values = rng.poisson(1.0, (cells.size, periods)).astype(float)
    if harm:  # harm weights: sums that are not whole numbers
        values *= rng.choice([1.0, 0.25, 3.7], size=values.shape)
    indptr, indices = neighbourhood(cells, k)
    p, used = gistar_permutation_p_periods(values, indptr, indices, 49, seed, stop_after)
    for t in range(periods):
        column = values[:, t].copy()
        one = gistar_permutation_p(column, indptr, indices, 49, seed, stop_after)
        np.testing.assert_array_equal(p[:, t], one[0])
        np.testing.assert_array_equal(used[:, t], one[1])
        slow = naive.gistar_permutation_p(column, indptr, indices, 49, seed, stop_after)
        np.testing.assert_array_equal(p[:, t], slow[0])


def test_periods_on_a_region_match_hotspot_gistar():
    cells = disc(12)
    rng = np.random.default_rng(3)
    values = rng.negative_binomial(1, 0.6, (cells.size, 4)).astype(float)
    values[np.isin(cells, disc(2)), 2:] += 4  # a cluster in the later periods
    z, q = gistar_periods(values, cells, k=2, permutations=9_999, seed=5)
    for t in range(4):
        alone = hotspot_gistar(values[:, t], cells, k=2, permutations=9_999, seed=5)
        np.testing.assert_array_equal(z[:, t], alone["gi_star_z"].to_numpy())
        np.testing.assert_array_equal(q[:, t], alone["q_value"].to_numpy())
    assert (q[np.isin(cells, disc(1)), 3] <= 0.05).all()


def test_periods_kept_from_an_earlier_run_are_not_drawn_again(monkeypatch):
    """Next week's emerging classes: the 11 weeks drawn last week come from the cache, only the newest is
    drawn, and the answer is the one drawn from scratch."""
    import hotspots.places.gistar as gistar_module

    cells = disc(8)
    rng = np.random.default_rng(4)
    weeks = rng.negative_binomial(1, 0.6, (cells.size, 13)).astype(float)
    drawn = []
    real = gistar_module.gistar_permutation_p_periods

    def counting(x, *args):
        drawn.append(x.shape[1])
        return real(x, *args)

    monkeypatch.setattr(gistar_module, "gistar_permutation_p_periods", counting)
    cache: dict = {}
    last_week = gistar_periods(weeks[:, :12], cells, k=2, permutations=999, seed=5, cache=cache)
    this_week = gistar_periods(weeks[:, 1:], cells, k=2, permutations=999, seed=5, cache=cache)
    assert drawn == [12, 1] and len(cache) == 13
    fresh = gistar_periods(weeks[:, 1:], cells, k=2, permutations=999, seed=5)
    for got, want in zip(this_week, fresh, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(last_week[1][:, 1:], gistar_periods(weeks[:, :12], cells, k=2, permutations=999,
                                                                     seed=5)[1][:, 1:])
    # Other settings are other keys; an entry of the wrong shape is drawn again.
    gistar_periods(weeks[:, 1:], cells, k=2, permutations=999, seed=6, cache=cache)
    assert drawn[-1] == 12
    key = next(iter(cache))
    cache[key] = np.zeros(3)
    gistar_periods(weeks, cells, k=2, permutations=999, seed=5, cache=cache)
    assert drawn[-1] == 1


@pytest.mark.parametrize("n", [0, 1])
def test_periods_edge_cases(n):
    cells = disc(1)[:n]
    indptr, indices = neighbourhood(cells, 1)
    p, used = gistar_permutation_p_periods(np.ones((n, 3)), indptr, indices, 99, 0, 0)
    assert p.shape == (n, 3) and (p == 1).all() and (used == 0).all()
    p, used = gistar_permutation_p_periods(np.ones((n, 0)), indptr, indices, 99, 0, 0)
    assert p.shape == (n, 0)


@pytest.mark.parametrize("n", [0, 1])
def test_permutation_edge_cases(n):
    cells = disc(1)[:n]
    indptr, indices = neighbourhood(cells, 1)
    p, used = gistar_permutation_p(np.ones(n), indptr, indices, 99, 0, 0)
    assert p.shape == (n,) and (p == 1).all() and (used == 0).all()


def test_constant_values_give_zero_z_and_no_hot_spot():
    cells = disc(5)
    table = hotspot_gistar(np.full(cells.size, 3.0), cells, k=1, permutations=99)
    assert (table["gi_star_z"] == 0).all() and (table["gi_class"] == "not significant").all()


def test_planted_cluster_is_found_and_null_is_quiet():
    cells = disc(25)
    rng = np.random.default_rng(4)
    null = rng.poisson(0.5, cells.size).astype(float)
    quiet = hotspot_gistar(null, cells, k=2, permutations=9_999, seed=1)
    assert (quiet["gi_class"] != "not significant").mean() < 0.01
    planted = null.copy()
    core = np.isin(cells, disc(2))
    planted[core] += rng.poisson(6.0, core.sum())
    found = hotspot_gistar(planted, cells, k=2, permutations=9_999, seed=1)
    hot = found["gi_class"].str.startswith("hot").to_numpy()
    assert hot[core].mean() > 0.8 and hot[~np.isin(cells, disc(4))].mean() < 0.01


def test_same_seed_same_p_values_any_thread_count():
    import numba

    cells = disc(8)
    values = np.random.default_rng(2).poisson(1.0, cells.size).astype(float)
    a = hotspot_gistar(values, cells, k=1, permutations=999, seed=5)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b = hotspot_gistar(values, cells, k=1, permutations=999, seed=5)
    finally:
        numba.set_num_threads(before)
    pd.testing.assert_frame_equal(a, b)
    c = hotspot_gistar(values, cells, k=1, permutations=999, seed=6)
    assert not np.array_equal(a["p_value"], c["p_value"])


def test_series_input_fills_missing_cells_with_zero():
    cells = disc(3)
    series = pd.Series([5.0, 2.0], index=h3cells.to_strings(cells[:2]))
    table = hotspot_gistar(series, cells, k=1, permutations=0)
    assert table["value"].sum() == 7.0 and table["value"].iloc[2:].eq(0).all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"permutations": -1}, "permutations=-1"),
    ({"k": 0}, "k=0"),
    ({"seed": -3}, "seed=-3"),
])
def test_bad_arguments_are_named(kwargs, message):
    cells = disc(2)
    with pytest.raises(HotspotsError, match=message):
        hotspot_gistar(np.ones(cells.size), cells, **kwargs)


def test_fdr_matches_scipy():
    from scipy.stats import false_discovery_control

    p = np.random.default_rng(0).uniform(size=500) ** 3
    np.testing.assert_allclose(false_discovery_q(p), false_discovery_control(p, method="bh"), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=3, max_size=30))
def test_mann_kendall_matches_pymannkendall(series):
    import pymannkendall

    x = np.array(series, float)
    s, z, p = mann_kendall(x[None, :])
    if np.ptp(x) == 0:
        assert s[0] == 0 and z[0] == 0
        return
    ref = pymannkendall.original_test(x)
    assert s[0] == ref.s
    np.testing.assert_allclose(z[0], ref.z, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(p[0], ref.p, rtol=1e-9, atol=1e-12)


H, C, o = True, "cold", False


@pytest.mark.parametrize(("hot", "cold_at", "trend", "expected"), [
    ([o] * 9 + [H], [], 0, "new"),
    ([o] * 7 + [H] * 3, [], 0, "consecutive"),
    ([H] * 10, [], 0, "persistent"),
    ([H] * 10, [], 1, "intensifying"),
    ([H] * 10, [], -1, "diminishing"),
    ([o, H, o, H, o, o, H, o, o, H], [], 0, "sporadic"),
    ([o, H, o, o, o, o, H, o, o, H], [2], 0, "oscillating"),
    ([H] * 9 + [o], [], 0, "historical"),
    ([H] * 3 + [o] * 7, [], 0, "no pattern"),
    ([o, H, o, o, o, o, o, o, H, H], [], 0, "sporadic"),  # a run, but hot before it
])
def test_emerging_classes(hot, cold_at, trend, expected):
    cold = np.zeros(len(hot), bool)
    cold[cold_at] = True
    z = np.array([float(trend) * 3])
    p = np.array([0.001 if trend else 0.9])
    assert classify_series(np.array([hot]), cold[None, :], z, p)[0] == expected


def test_emerging_on_a_growing_cluster():
    """A cluster that appears and strengthens over the last periods is new, then consecutive/intensifying."""
    cells = disc(10)
    rng = np.random.default_rng(9)
    core = np.isin(cells, disc(1))
    rows = []
    for t in range(8):
        counts = rng.poisson(0.3, cells.size).astype(float)
        if t >= 5:
            counts[core] += 8 * (t - 4)
        rows.append(pd.DataFrame({"h3_cell": h3cells.to_strings(cells), "period_start": pd.Timestamp("2024-01-01")
                                  + pd.Timedelta(days=7 * t), "incidents": counts}))
    table = hotspot_emerging(pd.concat(rows), cells, k=1, permutations=99_999)
    classes = table.loc[core, "emerging_class"]
    assert classes.isin(["consecutive"]).mean() > 0.5
    assert (table.loc[~np.isin(cells, disc(3)), "emerging_class"] == "no pattern").mean() > 0.95
