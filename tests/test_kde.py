"""Kernel density on H3 cells: agreement with scikit-learn, mass, order, additivity, binning bound."""

from __future__ import annotations

import h3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neighbors import KernelDensity

from hotspots.core.errors import HotspotsError
from hotspots.density.kde import KDE_COLUMNS, cell_density, density_at
from hotspots.geo import cells as h3cells
from hotspots.geo.projection import BRITISH_NATIONAL_GRID, project, utm_crs

# Birmingham city centre, and the same place in British National Grid metres.
CENTRE_LONLAT = (-1.8983, 52.4796)
CENTRE = tuple(float(v[0]) for v in project(np.array([CENTRE_LONLAT[0]]), np.array([CENTRE_LONLAT[1]]),
                                            BRITISH_NATIONAL_GRID))
SKLEARN_NAMES = {"epanechnikov": "epanechnikov", "uniform": "tophat", "triangular": "linear", "gaussian": "gaussian"}


def _cluster(n, seed=0, spread=600.0):
    rng = np.random.default_rng(seed)
    return CENTRE[0] + rng.normal(0, spread, n), CENTRE[1] + rng.normal(0, spread, n), rng.uniform(0.5, 3.0, n)


@pytest.fixture(scope="module")
def region_cells():
    """Resolution-10 cells within about 3 km of the centre."""
    centre = h3.latlng_to_cell(CENTRE_LONLAT[1], CENTRE_LONLAT[0], 10)
    return h3cells.k_ring(np.array([h3.str_to_int(centre)], dtype=np.uint64), 24)


@pytest.mark.parametrize("name", list(SKLEARN_NAMES))
def test_agrees_with_scikit_learn(name):
    x, y, w = _cluster(400, seed=1)
    rng = np.random.default_rng(2)
    tx, ty = CENTRE[0] + rng.normal(0, 900, 150), CENTRE[1] + rng.normal(0, 900, 150)
    ours = density_at(x, y, tx, ty, bandwidth=350.0, kernel=name, weights=w, truncate=12.0)
    # scikit-learn evaluates exactly with its defaults (atol = rtol = 0), normalised by total weight.
    skl = KernelDensity(kernel=SKLEARN_NAMES[name], bandwidth=350.0).fit(np.c_[x, y], sample_weight=w)
    theirs = np.exp(skl.score_samples(np.c_[tx, ty])) * w.sum()
    inside = theirs > 0
    np.testing.assert_allclose(ours[inside], theirs[inside], rtol=1e-9)
    assert (ours[~inside] == 0).all()


def test_mass_is_conserved_away_from_edges(region_cells):
    # Incidents well inside the region: the cells' expected counts add up to the incidents.
    x, y, w = _cluster(3000, seed=3, spread=400.0)
    for name in ("quartic", "epanechnikov", "gaussian"):
        surface = cell_density(x, y, region_cells, crs=BRITISH_NATIONAL_GRID, bandwidth=300.0, kernel=name, weights=w)
        assert surface.expected.sum() == pytest.approx(w.sum(), rel=0.01), name


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), split=st.floats(0.0, 1.0))
def test_order_independent_and_additive(region_cells, seed, split):
    x, y, w = _cluster(500, seed=seed)
    whole = cell_density(x, y, region_cells, crs=BRITISH_NATIONAL_GRID, bandwidth=250.0, weights=w).density_per_km2
    perm = np.random.default_rng(seed).permutation(x.size)
    shuffled = cell_density(x[perm], y[perm], region_cells, crs=BRITISH_NATIONAL_GRID, bandwidth=250.0,
                            weights=w[perm]).density_per_km2
    np.testing.assert_allclose(shuffled, whole, rtol=1e-12, atol=1e-9)
    cut = int(split * x.size)
    parts = [cell_density(x[s], y[s], region_cells, crs=BRITISH_NATIONAL_GRID, bandwidth=250.0, weights=w[s])
             for s in (slice(0, cut), slice(cut, None))]
    np.testing.assert_allclose(parts[0].density_per_km2 + parts[1].density_per_km2, whole, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_binned_stays_within_its_reported_bound(region_cells, offset):
    x, y, w = _cluster(20_000, seed=4)
    exact = cell_density(x, y, region_cells, crs=BRITISH_NATIONAL_GRID, bandwidth=400.0, weights=w)
    binned = cell_density(x, y, region_cells, crs=BRITISH_NATIONAL_GRID, bandwidth=400.0, weights=w, mode="binned",
                          bin_offset=offset)
    assert binned.bin_resolution == 10 + offset
    error = np.abs(binned.density_per_km2 - exact.density_per_km2)
    assert (error <= binned.error_bound_per_km2 * (1 + 1e-9) + 1e-9).all()
    # Finer bins move incidents less and the surface closer to exact.
    edge = h3.average_hexagon_edge_length(10 + offset, unit="m")
    assert 0 < binned.max_displacement_m < 1.6 * edge
    assert error.max() / exact.density_per_km2.max() < [0.05, 0.02, 0.01][offset]
    # Incidents outside the region's bins are kept exactly, so mass is still conserved.
    assert binned.expected.sum() == pytest.approx(exact.expected.sum(), rel=0.01)


def test_binned_kernels_with_a_jump_report_no_bound(region_cells):
    x, y, w = _cluster(500)
    for name in ("uniform", "gaussian"):
        surface = cell_density(x, y, region_cells, crs=BRITISH_NATIONAL_GRID, bandwidth=300.0, kernel=name, mode="binned")
        assert surface.error_bound_per_km2 is None and surface.max_displacement_m > 0


def test_pentagon_cells():
    # H3's twelve pentagons have five neighbours and six children; both modes must still work there.
    pentagon = np.array([h3.str_to_int(h3.get_pentagons(9)[0])], dtype=np.uint64)
    cells = h3cells.k_ring(pentagon, 3)
    lon, lat = h3cells.cell_centres(pentagon)
    crs = utm_crs(float(lon[0]), float(lat[0]))
    cx, cy = project(lon, lat, crs)
    rng = np.random.default_rng(5)
    x, y = cx[0] + rng.normal(0, 300, 400), cy[0] + rng.normal(0, 300, 400)
    exact = cell_density(x, y, cells, crs=crs, bandwidth=500.0)
    binned = cell_density(x, y, cells, crs=crs, bandwidth=500.0, mode="binned", bin_offset=1)
    assert exact.density_per_km2.max() > 0
    assert (np.abs(binned.density_per_km2 - exact.density_per_km2) <= binned.error_bound_per_km2 + 1e-9).all()


def test_table_schema_and_units(region_cells):
    x, y, w = _cluster(200)
    surface = cell_density(x, y, h3cells.to_strings(region_cells), crs=BRITISH_NATIONAL_GRID, bandwidth=400.0)
    table = surface.to_frame()
    assert list(table.columns) == KDE_COLUMNS
    assert table["density_per_km2"].is_monotonic_decreasing
    assert table.attrs["kernel"] == "quartic" and table.attrs["bandwidth_m"] == 400.0
    # expected = density per km² × cell area in km².
    area_km2 = h3cells.cell_areas_m2(h3cells.from_strings(table["h3_cell"])) / 1e6
    np.testing.assert_allclose(table["expected"], table["density_per_km2"] * area_km2, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bandwidth": 0}, "bandwidth=0.0 must be greater than zero metres"),
        ({"bandwidth": "wide"}, "bandwidth='wide' must be a distance in metres"),
        ({"kernel": "box"}, "kernel='box' is not known"),
        ({"mode": "fast"}, "mode='fast' is not known; use one of: exact, binned"),
        ({"mode": "binned", "bin_offset": 5}, "bin_offset=5 must be 0, 1, 2 or 3"),
        ({"crs": "EPSG:4326"}, "is not projected"),
        ({"weights": -np.ones(3)}, "weights must be finite and not negative"),
        ({"weights": np.ones(2)}, "weights: 2 values for 3 points"),
    ],
)
def test_bad_arguments_name_themselves(region_cells, kwargs, message):
    args = {"crs": BRITISH_NATIONAL_GRID, "bandwidth": 400.0, **kwargs}
    with pytest.raises(HotspotsError, match=message):
        cell_density(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), region_cells, **args)


def test_bad_coordinates_and_mixed_resolutions(region_cells):
    with pytest.raises(HotspotsError, match="1 coordinates are NaN"):
        density_at([1.0, np.nan], [1.0, 2.0], [0.0], [0.0], bandwidth=10.0)
    with pytest.raises(HotspotsError, match="x has 2 values but y has 1"):
        density_at([1.0, 2.0], [1.0], [0.0], [0.0], bandwidth=10.0)
    mixed = np.concatenate([region_cells[:2], h3cells.to_parent(region_cells[:1], 9)])
    with pytest.raises(HotspotsError, match="mixed H3 resolutions"):
        cell_density([1.0], [1.0], mixed, crs=BRITISH_NATIONAL_GRID, bandwidth=10.0)
