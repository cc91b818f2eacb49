"""National scale: KDE part by part on a two-worker LocalCluster, equal to
the single-machine surface, cells at partition edges included."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.core.errors import HotspotsError
from hotspots.density.kde import cell_density
from hotspots.geo import cells as h3cells
from hotspots.geo.projection import project
from hotspots.national.kde import cell_parts, parent_cells, partitioned_cell_density

CRS = "EPSG:27700"


def city(seed: int, n: int):
    """Incidents around Birmingham, clustered, and the resolution-9 cells of a 12 km square."""
    rng = np.random.default_rng(seed)
    centres = rng.normal([-1.89, 52.48], [0.04, 0.025], size=(12, 2))
    pick = rng.integers(0, len(centres), n)
    lon = centres[pick, 0] + rng.normal(0, 0.006, n)
    lat = centres[pick, 1] + rng.normal(0, 0.004, n)
    x, y = project(lon, lat, CRS)
    grid = np.meshgrid(np.linspace(-1.98, -1.80, 40), np.linspace(52.43, 52.53, 30))
    cells = np.unique(h3cells.points_to_cells(grid[0].ravel(), grid[1].ravel(), 9))
    return x, y, rng.gamma(2.0, 1.0, n), cells


@pytest.mark.parametrize("kernel,bandwidth,parent", [("quartic", 400.0, 6), ("gaussian", 250.0, 5),
                                                     ("epanechnikov", 900.0, 7)])
def test_parts_on_a_cluster_equal_the_single_machine_surface(client, kernel, bandwidth, parent):
    x, y, w, cells = city(1, 20_000)
    whole = cell_density(x, y, cells, crs=CRS, bandwidth=bandwidth, kernel=kernel, weights=w)
    parts = partitioned_cell_density(x, y, cells, crs=CRS, bandwidth=bandwidth, kernel=kernel, weights=w,
                                     parent_resolution=parent, client=client)
    assert parts.notes["parts"] > 2 and parts.notes["largest_halo_incidents"] < x.size
    np.testing.assert_array_equal(parts.cells, whole.cells)
    np.testing.assert_allclose(parts.density_per_km2, whole.density_per_km2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(parts.expected, whole.expected, rtol=1e-12, atol=1e-15)
    # Cells at a part's edge (a neighbour under another parent) get incidents from across it.
    ring = {int(c): set(parent_cells(h3cells.k_ring(np.array([c], np.uint64), 1), parent).tolist())
            for c in cells[:400]}
    edge = np.array([len(ring[int(c)]) > 1 for c in cells[:400]])
    assert edge.any()
    np.testing.assert_allclose(parts.density_per_km2[:400][edge], whole.density_per_km2[:400][edge], rtol=1e-12)


def test_without_a_cluster_the_parts_run_here_with_the_same_result():
    x, y, w, cells = city(2, 3_000)
    whole = cell_density(x, y, cells, crs=CRS, bandwidth=300.0, weights=w)
    here = partitioned_cell_density(x, y, cells, crs=CRS, bandwidth=300.0, weights=w, parent_resolution=6)
    np.testing.assert_allclose(here.density_per_km2, whole.density_per_km2, rtol=1e-12, atol=1e-12)
    assert here.total_weight == pytest.approx(whole.total_weight)


def test_parents_by_bits_match_h3():
    import h3

    _, _, _, cells = city(3, 10)
    for resolution in (0, 4, 5, 8, 9):
        expected = [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), resolution)) for c in cells[:50]]
        assert parent_cells(cells[:50], resolution).tolist() == expected


def test_parts_cover_every_cell_once():
    _, _, _, cells = city(3, 10)
    rows = np.concatenate(cell_parts(cells, 6))
    assert np.array_equal(np.sort(rows), np.arange(cells.size))
    assert cell_parts(np.array([], np.uint64), 6) == []


def test_edge_cases_and_bad_parents():
    _, _, _, cells = city(4, 10)
    empty = partitioned_cell_density(np.array([]), np.array([]), cells, crs=CRS, bandwidth=300.0)
    assert empty.density_per_km2.shape == cells.shape and not empty.density_per_km2.any()
    one = partitioned_cell_density(*project(np.array([-1.89]), np.array([52.48]), CRS), cells, crs=CRS,
                                   bandwidth=300.0)
    assert one.expected.sum() > 0
    with pytest.raises(HotspotsError, match="parent_resolution=12"):
        partitioned_cell_density(np.array([]), np.array([]), cells, crs=CRS, bandwidth=300.0, parent_resolution=12)


def test_the_kde_command_on_a_local_cluster_gives_the_same_table(tmp_path):
    from test_cli import hotspots
    from test_surface import city_of_london

    area = city_of_london(tmp_path)
    common = ["kde", "--area", str(area), "--resolution", "11", "--bandwidth", "250"]
    here = hotspots(*common, "--out", "here.csv", cwd=tmp_path)
    cluster = hotspots(*common, "--scheduler", "local", "--out", "cluster.csv", cwd=tmp_path)
    assert here.returncode == 0 and cluster.returncode == 0, cluster.stderr[-2000:]
    a, b = pd.read_csv(tmp_path / "here.csv"), pd.read_csv(tmp_path / "cluster.csv")
    assert a["h3_cell"].tolist() == b["h3_cell"].tolist()
    np.testing.assert_allclose(b["density_per_km2"], a["density_per_km2"], rtol=1e-12)
    for args, message in [(["--scheduler", "tcp://127.0.0.1:9"], "no Dask scheduler answered"),
                          (["--scheduler", "yarn"], "give 'local' or a scheduler address"),
                          (["--scheduler", "local", "--mode", "binned"], "runs on one machine")]:
        bad = hotspots(*common, *args, cwd=tmp_path)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), reach=st.floats(1.0, 500.0))
@settings(max_examples=60, deadline=None)
def test_tile_index_finds_exactly_the_incidents_in_a_box(seed, n, reach):
    from hotspots.national.kde import TileIndex

    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 5_000, n), rng.uniform(-2_000, 3_000, n)
    index = TileIndex(x, y, reach)
    for _ in range(5):
        x0, y0 = rng.uniform(-1_000, 6_000, 2)
        x1, y1 = x0 + rng.uniform(0, 3_000), y0 + rng.uniform(0, 3_000)
        expected = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        np.testing.assert_array_equal(index.within(x0, x1, y0, y1), expected)
