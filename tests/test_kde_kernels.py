"""The numba kernels against their slow twins in tests/naive.py, on random and edge-case inputs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import naive
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hotspots.core.errors import HotspotsError
from hotspots.density import kde
from hotspots.density._kde_numba import _RANGE_SLACK, bucket_sort, lookup_labels, nearest_centre, weight_near
from hotspots.density.kernels import KERNEL_NAMES, get_kernel

RTOL = 1e-9
coords = st.floats(-3000.0, 3000.0, allow_nan=False, allow_infinity=False)
weights = st.floats(0.0, 50.0, allow_nan=False, allow_infinity=False)


def _points(n_min=0, n_max=60):
    return st.integers(n_min, n_max).flatmap(
        lambda n: st.tuples(arrays(np.float64, n, elements=coords), arrays(np.float64, n, elements=coords),
                            arrays(np.float64, n, elements=weights)))


def _close(fast, slow):
    scale = max(float(np.max(np.abs(slow), initial=0.0)), 1e-300)
    # Relative to each value, except where a value is a rounding-level residue of the largest.
    np.testing.assert_allclose(fast, slow, rtol=RTOL, atol=RTOL * 1e-6 * scale)


@pytest.mark.parametrize("name", KERNEL_NAMES)
@settings(max_examples=40, deadline=None)
@given(sources=_points(), targets=_points(0, 30), bandwidth=st.floats(1.0, 2000.0))
def test_kernel_sums_match_brute_force(name, sources, targets, bandwidth):
    k = get_kernel(name, truncate=2.5)
    x, y, w = sources
    tx, ty, _ = targets
    _close(kde._kernel_sums(x, y, w, tx, ty, k, bandwidth), naive.kernel_sums(x, y, w, tx, ty, k, bandwidth))


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_edge_cases(name):
    k = get_kernel(name)
    none = np.zeros(0)
    one = np.array([10.0])
    # No incidents, no targets, one of each.
    assert kde._kernel_sums(none, none, none, one, one, k, 100.0).tolist() == [0.0]
    assert kde._kernel_sums(one, one, one, none, none, k, 100.0).size == 0
    assert kde._kernel_sums(one, one, np.array([2.0]), one, one, k, 100.0)[0] == pytest.approx(2.0 * k.profile(0.0))
    # A point exactly at the reach adds nothing; one just inside adds what the profile says.
    reach = k.reach * 100.0
    at_reach = kde._kernel_sums(np.array([reach]), np.array([0.0]), np.ones(1), np.zeros(1), np.zeros(1), k, 100.0)
    assert at_reach[0] == 0.0
    inside = kde._kernel_sums(np.array([reach * 0.999]), np.array([0.0]), np.ones(1), np.zeros(1), np.zeros(1), k, 100.0)
    assert inside[0] == pytest.approx(float(k.profile(np.array([0.999**2 * k.reach**2]))[0]))
    # Many incidents at one place, a target far away.
    many = np.full(1000, 5.0)
    assert kde._kernel_sums(many, many, np.ones(1000), np.array([1e6]), np.array([1e6]), k, 100.0)[0] == 0.0


@settings(max_examples=60, deadline=None)
@given(points=_points(0, 200), size=st.floats(5.0, 500.0), ncols=st.integers(1, 12), nrows=st.integers(1, 12),
       chunks=st.integers(1, 9))
def test_bucket_sort_matches_stable_sort(points, size, ncols, nrows, chunks):
    x, y, w = points
    fast = bucket_sort(x, y, w, -1000.0, -1000.0, size, ncols, nrows, chunks)
    slow = naive.bucket_sort(x, y, w, -1000.0, -1000.0, size, ncols, nrows)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(points=_points(0, 80), centres=_points(1, 60), max_dist=st.floats(10.0, 800.0))
def test_nearest_centre_matches_brute_force(points, centres, max_dist):
    px, py, pw = points
    cx, cy, _ = centres
    grid = kde._grid_around(cx, cy, max_dist, 2.0 * max_dist, 4096)
    sx, sy, _, starts = bucket_sort(cx, cy, np.ones(cx.size), grid.x0, grid.y0, grid.size, grid.ncols, grid.nrows, 3)
    label, moved = nearest_centre(px, py, pw, sx, sy, starts, grid.x0, grid.y0, grid.size, grid.ncols, grid.nrows,
                                  max_dist, 4)
    want, dist = naive.nearest_centre(px, py, sx, sy, max_dist)
    np.testing.assert_array_equal(label, want)
    snapped = (want >= 0) & (pw != 0)
    assert moved == pytest.approx(dist[snapped].max() if snapped.any() else 0.0, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(points=_points(0, 100), table=arrays(np.int32, 30, elements=st.integers(-1, 9)), centres=_points(10, 10))
def test_lookup_labels_read_the_table(points, table, centres):
    px, py, pw = points
    cx, cy, _ = centres
    label, moved = lookup_labels(px, py, pw, table, -3000.0, -3000.0, 1000.0, 6, 5, cx, cy, 3)
    want, far = naive.lookup_labels(px, py, pw, table, -3000.0, -3000.0, 1000.0, 6, 5, cx, cy)
    np.testing.assert_array_equal(label, want)
    assert moved == pytest.approx(far, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(points=_points(0, 120), targets=_points(1, 20), radius=st.floats(10.0, 2000.0))
@example(points=(np.array([-1757.0]), np.array([0.0]), np.array([1.0])),  # a point exactly on a bucket edge
         targets=(np.array([-1757.0, 0.0]), np.zeros(2), np.zeros(2)), radius=1756.5870270312257)
def test_weight_near_bounds_the_weight_within_reach(points, targets, radius):
    x, y, w = points
    tx, ty, _ = targets
    grid = kde._grid_around(tx, ty, radius, radius / 2, 4096)
    _, _, sw, starts = bucket_sort(x, y, w, grid.x0, grid.y0, grid.size, grid.ncols, grid.nrows, 2)
    near = weight_near(tx, ty, np.concatenate([[0.0], np.cumsum(sw)]), starts, grid.x0, grid.y0, grid.size,
                       grid.ncols, grid.nrows, radius)
    exact = naive.kernel_sums(x, y, w, tx, ty, get_kernel("uniform"), radius)
    assert (near >= exact - 1e-9 * (1 + exact)).all()
    twin = naive.weight_near(x, y, w, tx, ty, grid.x0, grid.y0, grid.size, grid.ncols, grid.nrows, radius,
                             _RANGE_SLACK)
    np.testing.assert_allclose(near, twin, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("points", "targets"), [
    ((np.zeros(0), np.zeros(0), np.zeros(0)), (np.array([5.0]), np.array([5.0]))),  # no points
    ((np.array([5.0]), np.array([5.0]), np.array([3.0])), (np.zeros(0), np.zeros(0))),  # no targets
    ((np.array([5.0]), np.array([5.0]), np.array([3.0])), (np.array([5.0]), np.array([5.0]))),  # one on one
])
def test_weight_near_edge_cases(points, targets):
    x, y, w = points
    tx, ty = targets
    grid = kde._grid_around(tx if tx.size else x, ty if ty.size else y, 100.0, 50.0, 4096)
    _, _, sw, starts = bucket_sort(x, y, w, grid.x0, grid.y0, grid.size, grid.ncols, grid.nrows, 2)
    near = weight_near(tx, ty, np.concatenate([[0.0], np.cumsum(sw)]), starts, grid.x0, grid.y0, grid.size,
                       grid.ncols, grid.nrows, 100.0)
    twin = naive.weight_near(x, y, w, tx, ty, grid.x0, grid.y0, grid.size, grid.ncols, grid.nrows, 100.0, _RANGE_SLACK)
    np.testing.assert_array_equal(near, twin)


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_kernels_integrate_to_one_and_slopes_are_right(name):
    k = get_kernel(name)
    step = k.reach / 400_000
    u = (np.arange(400_000) + 0.5) * step  # midpoints: exact enough even where the profile jumps
    assert np.sum(k.norm * k.profile(u * u) * 2.0 * math.pi * u) * step == pytest.approx(1.0, rel=1e-6)
    if k.lipschitz is not None:
        slope = np.abs(np.diff(k.profile(u * u)) / np.diff(u)).max()
        assert slope == pytest.approx(k.lipschitz, rel=1e-4)


def test_unknown_kernel_lists_the_valid_ones():
    with pytest.raises(HotspotsError, match="kernel='cosine' is not known; use one of: quartic, epanechnikov"):
        get_kernel("cosine")
    with pytest.raises(HotspotsError, match="truncate=0.5"):
        get_kernel("gaussian", truncate=0.5)
    assert get_kernel("biweight").name == "quartic"


def test_kernels_run_as_plain_python_for_coverage():
    # NUMBA_DISABLE_JIT=1 (coverage, debugging) must give the same numbers as the compiled kernels.
    code = ("import json, numpy as np; from hotspots.density.kde import density_at; r = np.random.default_rng(7); "
            "x, y = r.uniform(0, 900, 300), r.uniform(0, 900, 300); "
            "print(json.dumps(density_at(x, y, x[:40], y[:40], bandwidth=200.0).tolist()))")
    rng = np.random.default_rng(7)
    x, y = rng.uniform(0, 900, 300), rng.uniform(0, 900, 300)
    compiled = kde.density_at(x, y, x[:40], y[:40], bandwidth=200.0)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "NUMBA_DISABLE_JIT": "1"})
    np.testing.assert_allclose(json.loads(done.stdout), compiled, rtol=1e-12)
