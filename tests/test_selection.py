"""Hotspot selection: budgets, quotas, contiguity, minimum size, stable ids, hysteresis, geofences, coverage."""

import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.core.errors import HotspotsError
from hotspots.geo import cells as h3cells
from hotspots.geo.areas import NamedAreas
from hotspots.places.coverage import coverage_sentence, coverage_table, hotspot_measures
from hotspots.places.geofence import street_name
from hotspots.places.gistar import neighbourhood
from hotspots.places.selection import hotspot_select

BNG = "EPSG:27700"
CENTRE = (-1.8983, 52.4796)


@pytest.fixture(scope="module")
def region():
    centre = h3cells.points_to_cells(np.array([CENTRE[0]]), np.array([CENTRE[1]]), 10)
    return h3cells.k_ring(centre, 30)


def bumps(region, n_bumps=12, seed=0):
    """A smooth score with n_bumps peaks, as a kernel density would give."""
    rng = np.random.default_rng(seed)
    lon, lat = h3cells.cell_centres(region)
    score = np.zeros(region.size)
    for i in rng.choice(region.size, n_bumps, replace=False):
        d2 = ((lon - lon[i]) * 68_000) ** 2 + ((lat - lat[i]) * 111_000) ** 2
        score += rng.pareto(1.5) * np.exp(-d2 / (2 * 150.0**2))
    return pd.Series(score, index=h3cells.to_strings(region))


def halves(region) -> NamedAreas:
    """Two named areas, west and east of the centre."""
    import geopandas as gpd

    west = shapely.box(CENTRE[0] - 1, CENTRE[1] - 1, CENTRE[0], CENTRE[1] + 1)
    east = shapely.box(CENTRE[0], CENTRE[1] - 1, CENTRE[0] + 1, CENTRE[1] + 1)
    return NamedAreas(gpd.GeoDataFrame({"npu": ["West", "East"]}, geometry=[west, east], crs="EPSG:4326"), "npu")


def contiguous_components(cells):
    indptr, indices = neighbourhood(np.sort(cells), 1)
    seen, parts = set(), 0
    for start in range(cells.size):
        if start in seen:
            continue
        parts += 1
        stack = [start]
        while stack:
            c = stack.pop()
            if c in seen:
                continue
            seen.add(c)
            stack.extend(indices[indptr[c]:indptr[c + 1]].tolist())
    return parts


@pytest.mark.parametrize(("share", "most", "min_cells", "max_cells"), [
    (0.014, 57, 1, None), (0.05, 5, 3, 20), (0.10, 30, 4, 8), (0.002, 57, 2, None)])
def test_every_budget_is_respected(region, share, most, min_cells, max_cells):
    hs = hotspot_select(bumps(region), region, crs=BNG, area_share=share, max_hotspots=most, min_cells=min_cells,
                        max_cells=max_cells)
    cell_area = h3cells.cell_areas_m2(hs.cells_of()).sum()
    assert cell_area <= share * h3cells.cell_areas_m2(region).sum() + 1e-6
    assert 1 <= len(hs.hotspots) <= most
    assert hs.hotspots["n_cells"].min() >= min_cells
    if max_cells:
        assert hs.hotspots["n_cells"].max() <= max_cells
    # Each hotspot is one contiguous piece, and no two hotspots touch (they would have merged).
    for hid in hs.hotspots["hotspot_id"]:
        assert contiguous_components(hs.cells_of(hid)) == 1
    if max_cells is None:
        assert contiguous_components(hs.cells_of()) == len(hs.hotspots)
    assert hs.hotspots["rank"].tolist() == list(range(1, len(hs.hotspots) + 1))
    assert hs.hotspots["score"].is_monotonic_decreasing


def test_takes_the_highest_scores_first(region):
    score = bumps(region)
    hs = hotspot_select(score, region, crs=BNG, area_share=0.02, max_hotspots=100)
    chosen = score.loc[hs.members["h3_cell"]]
    left = score.drop(hs.members["h3_cell"])
    # Without size limits nothing outside scores more than the weakest cell taken.
    assert left.max() <= chosen.min() + 1e-12


def test_area_quotas(region):
    areas = halves(region)
    score = bumps(region)
    east = np.asarray(areas.name_of(*h3cells.cell_centres(region))) == "East"
    score[east] *= 1e-3  # the east is quiet: without a minimum it would get nothing
    plain = hotspot_select(score, region, crs=BNG, areas=areas, max_hotspots=6, area_share=0.05)
    assert (plain.hotspots["area_name"] == "East").sum() == 0
    fair = hotspot_select(score, region, crs=BNG, areas=areas, max_hotspots=6, area_share=0.05, area_min=2)
    assert (fair.hotspots["area_name"] == "East").sum() >= 2 and len(fair.hotspots) <= 6
    capped = hotspot_select(score, region, crs=BNG, areas=areas, max_hotspots=6, area_share=0.05,
                            area_max={"West": 2, "East": 9})
    assert (capped.hotspots["area_name"] == "West").sum() <= 2


def test_quota_errors_name_the_argument(region):
    with pytest.raises(HotspotsError, match="area_min"):
        hotspot_select(bumps(region), region, crs=BNG, area_min=2)
    with pytest.raises(HotspotsError, match="'North' is not an area"):
        hotspot_select(bumps(region), region, crs=BNG, areas=halves(region), area_min={"North": 1})
    with pytest.raises(HotspotsError, match="max_cells=2 is below min_cells=3"):
        hotspot_select(bumps(region), region, crs=BNG, min_cells=3, max_cells=2)
    with pytest.raises(HotspotsError, match="area_share=1.5"):
        hotspot_select(bumps(region), region, crs=BNG, area_share=1.5)


def test_ids_are_stable_and_never_reused(region):
    first = hotspot_select(bumps(region, seed=1), region, crs=BNG, next_number=1)
    again = hotspot_select(bumps(region, seed=1), region, crs=BNG, previous=first)
    assert (again.hotspots["status"] == "continuing").all()
    pd.testing.assert_frame_equal(first.members, again.members)
    other = hotspot_select(bumps(region, seed=2), region, crs=BNG, previous=first)
    new_ids = other.hotspots.loc[other.hotspots["status"] == "new", "hotspot_id"]
    assert not set(new_ids) & set(first.hotspots["hotspot_id"])
    assert set(other.dropped) == set(first.hotspots["hotspot_id"]) - set(other.hotspots["hotspot_id"])
    for row in other.hotspots[other.hotspots["status"] == "continuing"].itertuples():
        assert np.intersect1d(other.cells_of(row.hotspot_id), first.cells_of(row.hotspot_id)).size > 0


def test_hysteresis_keeps_last_periods_hotspots(region):
    rng = np.random.default_rng(3)
    base = bumps(region, seed=4)
    first = hotspot_select(base, region, crs=BNG, max_hotspots=10)
    kept = {0.0: [], 0.5: []}
    for _ in range(5):
        noisy = base * rng.uniform(0.7, 1.3, base.size)
        for h, runs in kept.items():
            hs = hotspot_select(noisy, region, crs=BNG, max_hotspots=10, previous=first, hysteresis=h)
            runs.append(np.isin(hs.cells_of(), first.cells_of()).mean())
    assert np.mean(kept[0.5]) > np.mean(kept[0.0])


def test_geofence_covers_its_cells_and_smoothing_only_adds(region):
    hs = hotspot_select(bumps(region), region, crs=BNG, min_cells=3, smooth_m=30)
    raw = hotspot_select(bumps(region), region, crs=BNG, min_cells=3, smooth_m=0)
    for a, b in zip(hs.hotspots.itertuples(), raw.hotspots.itertuples(), strict=True):
        lon, lat = h3cells.cell_centres(hs.cells_of(a.hotspot_id))
        assert shapely.contains_xy(a.geofence, lon, lat).all()
        assert a.area_m2 >= b.area_m2 * 0.999
        assert abs(b.area_m2 - h3cells.cell_areas_m2(raw.cells_of(b.hotspot_id)).sum()) < 0.02 * b.area_m2
        assert shapely.contains_xy(a.geofence, a.centroid_lon, a.centroid_lat) or a.n_cells > 1


def test_names_come_from_streets_and_areas(region):
    locs = pd.DataFrame({"h3_cell": h3cells.to_strings(region[:3]),
                         "location": ["On or near Broad Street", "On or near Broad Street", "On or near Parking Area"]})
    hs = hotspot_select(pd.Series([3.0, 2.0, 1.0], index=locs["h3_cell"]), region, crs=BNG, locations=locs,
                        names=halves(region))
    assert hs.hotspots["name"].iloc[0].startswith("Broad Street, ")
    assert street_name(pd.Series(["On or near Parking Area", None])) is None


def test_no_positive_score_selects_nothing(region):
    hs = hotspot_select(pd.Series(dtype=float), region, crs=BNG)
    assert hs.hotspots.empty and hs.members.empty and hs.area_share == 0


def incidents_at(cells, **columns):
    lon, lat = h3cells.cell_centres(cells)
    frame = pd.DataFrame({"lon": lon, "lat": lat, "offence": "violence_with_injury", "knife_enabled": False,
                          "victim_under_25": False, "harm_weight": 10.0})
    return frame.assign(**columns)


def test_coverage_and_pai(region):
    hot = region[:10]
    inside = incidents_at(np.repeat(hot, 3), victim_under_25=True, knife_enabled=True)
    outside = incidents_at(region[100:130], harm_weight=1.0)
    table = coverage_table(hot, region, pd.concat([inside, outside], ignore_index=True), 10).set_index("measure")
    area_share = h3cells.cell_areas_m2(hot).sum() / h3cells.cell_areas_m2(region).sum()
    assert table.at["area (m²)", "share"] == pytest.approx(area_share)
    assert table.at["all incidents", "share"] == pytest.approx(0.5)
    assert table.at["all incidents", "pai"] == pytest.approx(0.5 / area_share)
    assert table.at["serious youth violence", "share"] == 1.0
    assert table.at["knife-enabled incidents", "share"] == 1.0
    assert table.at["harm (CCHI days)", "share"] == pytest.approx(300 / 330)
    sentence = coverage_sentence(10, table.reset_index())
    assert sentence.startswith("10 hotspots, ") and "100.0% of serious youth violence" in sentence


def test_coverage_says_what_the_data_does_not_record(region):
    frame = incidents_at(region[:5], victim_under_25=None, knife_enabled=None)
    table = coverage_table(region[:2], region, frame, 10).set_index("measure")
    assert np.isnan(table.at["serious youth violence", "share"])
    assert "serious youth violence not recorded" in coverage_sentence(1, table.reset_index())


def test_month_only_incidents_count_by_their_share(region):
    frame = incidents_at(region[:4], period_weight=0.25)
    table = coverage_table(region[:2], region, frame, 10).set_index("measure")
    assert table.at["all incidents", "total"] == pytest.approx(1.0)


def test_hotspot_measures_sum_to_coverage(region):
    hs = hotspot_select(bumps(region), region, crs=BNG, max_hotspots=8)
    rng = np.random.default_rng(0)
    frame = incidents_at(rng.choice(region, 400), harm_weight=rng.uniform(1, 100, 400))
    measures = hotspot_measures(hs.members, frame, 10)
    table = coverage_table(hs.cells_of(), region, frame, 10).set_index("measure")
    assert measures["incidents"].sum() == pytest.approx(table.at["all incidents", "in_hotspots"])
    assert measures["harm"].sum() == pytest.approx(table.at["harm (CCHI days)", "in_hotspots"])
