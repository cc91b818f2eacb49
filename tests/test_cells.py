import h3
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.core.errors import HotspotsError
from hotspots.geo import cells as C

coords = st.lists(
    st.tuples(st.floats(-179.9, 179.9), st.floats(-85, 85)), min_size=0, max_size=200
)


@settings(max_examples=50, deadline=None)
@given(coords, st.integers(7, 11))
def test_points_to_cells_matches_h3_py(points, res):
    lon = np.array([p[0] for p in points], dtype=float)
    lat = np.array([p[1] for p in points], dtype=float)
    got = C.to_strings(C.points_to_cells(lon, lat, res))
    want = [h3.latlng_to_cell(b, a, res) for a, b in points]
    assert list(got) == want


def test_strings_round_trip_and_bad_string():
    cells = C.points_to_cells(np.array([-1.9, -1.8]), np.array([52.48, 52.5]), 10)
    assert (C.from_strings(C.to_strings(cells)) == cells).all()
    with pytest.raises(HotspotsError, match="not an H3 cell"):
        C.from_strings(["nonsense"])


def test_empty_inputs():
    assert C.points_to_cells(np.zeros(0), np.zeros(0), 10).size == 0
    assert C.to_strings(np.zeros(0, np.uint64)).size == 0
    assert C.cell_areas_m2(np.zeros(0, np.uint64)).size == 0
    assert C.k_ring(np.zeros(0, np.uint64), 2).size == 0


def test_nan_coordinates_are_refused():
    with pytest.raises(HotspotsError, match="NaN"):
        C.points_to_cells(np.array([np.nan]), np.array([52.0]), 10)


@pytest.mark.parametrize("res", [6, 12, 10.5, True])
def test_resolution_validated(res):
    with pytest.raises(HotspotsError, match="resolution"):
        C.points_to_cells(np.array([-1.9]), np.array([52.48]), res)


def test_narrow_polygon_keeps_its_cells():
    # A strip 11 m wide and 700 m long: no cell centre inside it, yet it crosses ~10 cells.
    strip = shapely.box(-1.9, 52.48, -1.89, 52.4801)
    assert C.region_to_cells(strip, 10, "centre").size == 0
    cells = C.region_to_cells(strip, 10)
    assert cells.size >= 5
    polys = C.cell_polygons(cells)
    assert all(p.intersects(strip) for p in polys)


def test_overlap_covers_centre_and_inside(force_area):
    centre = force_area.cells(9, "centre")
    overlap = force_area.cells(9, "overlap")
    inside = force_area.cells(9, "inside")
    assert np.isin(centre, overlap).all() and np.isin(inside, centre).all()
    # The cells cover the force area (about 902 km²) within a cell-width boundary band.
    assert 880e6 < C.cell_areas_m2(centre).sum() < 930e6


def test_areas_neighbourhoods_parents_children():
    cell = C.points_to_cells(np.array([-1.9]), np.array([52.48]), 10)
    assert abs(C.cell_areas_m2(cell)[0] - h3.cell_area(C.to_strings(cell)[0], "m^2")) < 1e-6
    assert C.k_ring(cell, 1).size == 7 and C.k_ring(cell, 2).size == 19
    kids = C.to_children(cell, 11)
    assert kids.size == 7 and (C.to_parent(kids, 10) == cell[0]).all()
    lon, lat = C.cell_centres(cell)
    assert C.points_to_cells(lon, lat, 10)[0] == cell[0]
