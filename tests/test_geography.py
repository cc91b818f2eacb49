import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.core.config import DEFAULT_NAMED_AREAS
from hotspots.core.errors import HotspotsError
from hotspots.geo.areas import Area, NamedAreas, read_boundaries
from hotspots.geo.projection import BRITISH_NATIONAL_GRID, check_crs, choose_crs, project, unproject


def test_bng_known_point_and_round_trip():
    # Ordnance Survey's own worked example point is not shipped; use a round trip and a sanity box:
    # central Birmingham lies near E 406,900 N 286,800.
    x, y = project(np.array([-1.8983]), np.array([52.4796]), BRITISH_NATIONAL_GRID)
    assert 406_000 < x[0] < 408_000 and 286_000 < y[0] < 288_000
    lon, lat = unproject(x, y, BRITISH_NATIONAL_GRID)
    assert abs(lon[0] + 1.8983) < 1e-7 and abs(lat[0] - 52.4796) < 1e-7


def test_choose_crs():
    assert choose_crs(np.array([-1.9]), np.array([52.5])) == BRITISH_NATIONAL_GRID
    assert choose_crs(np.array([-87.6]), np.array([41.8])) == "EPSG:32616"  # Chicago
    assert choose_crs(np.array([-123.1]), np.array([49.25])) == "EPSG:32610"  # Vancouver
    with pytest.raises(HotspotsError, match="not projected"):
        check_crs("EPSG:4326")
    with pytest.raises(HotspotsError, match="not a coordinate reference system"):
        check_crs("EPSG:nonsense")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-2.3, -1.3), st.floats(52.3, 52.7)), min_size=1, max_size=300))
def test_area_contains_matches_exact_polygon_test(force_area, points):
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    assert (force_area.contains(lon, lat) == shapely.intersects_xy(force_area.geometry, lon, lat)).all()


def test_area_contains_handles_bad_values(force_area):
    got = force_area.contains(np.array([np.nan, 500.0, -1.9]), np.array([52.5, 52.5, 52.48]))
    assert got.tolist() == [False, False, True]


def test_named_areas():
    wards = NamedAreas.from_file(DEFAULT_NAMED_AREAS)
    assert wards.name_field == "wd16nm" and len(wards.names) == 40
    assert wards.name_of(np.array([-1.8983, 0.0]), np.array([52.4796, 51.5])).tolist() == ["Ladywood", None]
    with pytest.raises(HotspotsError, match="name_field='nope'"):
        NamedAreas.from_file(DEFAULT_NAMED_AREAS, "nope")


def test_unreadable_boundary_file(tmp_path):
    bad = tmp_path / "x.gpkg"
    bad.write_bytes(b"not a geopackage")
    with pytest.raises(HotspotsError, match="not a readable boundary file"):
        read_boundaries(bad)
    with pytest.raises(HotspotsError, match="does not exist"):
        Area.from_file(tmp_path / "missing.geojson")


def _first_area_naive(areas, lon, lat):
    """Slow twin of NamedAreas.name_of: per point, the first listed area whose polygon touches it."""
    out = []
    for x, y in zip(lon, lat, strict=True):
        point = shapely.Point(x, y)
        out.append(next((n for n, g in zip(areas.names, areas.frame.geometry, strict=True) if g.intersects(point)),
                        None))
    return out


def test_name_of_matches_its_slow_twin_inside_outside_and_on_shared_borders(force_area):
    """Random points over the force (and off it), and points exactly on the shared borders of areas."""
    from hotspots.synth import synthetic_npus

    areas = NamedAreas(synthetic_npus(force_area, 6, 2).reset_index(drop=True), "npu")
    rng = np.random.default_rng(5)
    x0, y0, x1, y1 = shapely.bounds(force_area.geometry)
    lon = rng.uniform(x0 - 0.05, x1 + 0.05, 3000)
    lat = rng.uniform(y0 - 0.05, y1 + 0.05, 3000)
    shared = shapely.intersection(areas.frame.geometry.iloc[0].boundary, areas.frame.geometry.iloc[1].boundary)
    border = shapely.get_coordinates(shared)[:50]
    assert len(border) > 0  # the first two areas share a border
    lon, lat = np.concatenate([lon, border[:, 0]]), np.concatenate([lat, border[:, 1]])
    assert areas.name_of(lon, lat).tolist() == _first_area_naive(areas, lon, lat)


def test_area_cells_kept_on_disk_are_read_back_not_recomputed(tmp_path, monkeypatch):
    """A second process with the same outline reads the cover the first one stored; another outline
    gets its own entry, and the point test answers the same either way."""
    from hotspots.core.filecache import ArrayFileCache
    from hotspots.geo import cells as h3cells

    square = shapely.box(-1.95, 52.45, -1.85, 52.52)
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(-1.97, -1.83, 2000), rng.uniform(52.43, 52.54, 2000)
    first = Area(square, store=ArrayFileCache(tmp_path))
    expected = first.contains(lon, lat)
    assert len(list(tmp_path.glob("*.npy"))) == 2  # inside and touching cells

    def no_cover(*args, **kwargs):
        raise AssertionError("the cover was computed again")

    monkeypatch.setattr(h3cells, "region_to_cells", no_cover)
    again = Area(shapely.box(-1.95, 52.45, -1.85, 52.52), store=ArrayFileCache(tmp_path))
    assert (again.contains(lon, lat) == expected).all()
    assert (expected == shapely.intersects_xy(square, lon, lat)).all()
    with pytest.raises(AssertionError, match="computed again"):
        Area(shapely.box(-1.95, 52.45, -1.86, 52.52), store=ArrayFileCache(tmp_path)).contains(lon, lat)
