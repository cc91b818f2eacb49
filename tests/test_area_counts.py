"""Crime counted per area and month: placed on cells by a stated rule, incomplete months set aside, and a
month's hotspots chosen from them with the evidence floor (budgets are ceilings)."""

from __future__ import annotations

import gzip

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.core.config import SHIPPED_DATA
from hotspots.core.errors import ValidationError
from hotspots.geo import cells as h3cells
from hotspots.ingest.area_counts import implied_resolution, read_area_counts
from hotspots.places.area_counts import count_hotspots, history_months

COUNTS = SHIPPED_DATA / "counts" / "west_midlands_lsoa_month_counts.csv.gz"
LSOAS = SHIPPED_DATA / "boundaries" / "west_midlands_lsoa21.geojson.gz"


def squares(tmp_path, sizes_m):
    """Square areas A0, A1, ... side by side near Birmingham, of the given sides in metres."""
    polygons, x = [], 407_000.0
    for side in sizes_m:
        polygons.append(shapely.box(x, 286_000.0, x + side, 286_000.0 + side))
        x += side + 500
    frame = gpd.GeoDataFrame({"code": [f"A{i}" for i in range(len(sizes_m))]}, geometry=polygons, crs="EPSG:27700")
    path = tmp_path / "areas.geojson"
    frame.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    return path


def test_counts_are_placed_on_cells_with_their_mass_kept_and_bad_rows_rejected(tmp_path):
    """Each area's count is shared equally among its cells (the total is kept, to rounding); an area too
    small to hold a cell centre gives its count to one cell; bad rows come back with line and reason."""
    areas = squares(tmp_path, [2_000, 1_000, 60])
    table = tmp_path / "counts.csv"
    table.write_text("lsoa_code,category,year,month,crime_count\n"
                     "A0,Robbery,2025,1,12\nA1,Robbery,2025,1,5\nA2,Robbery,2025,1,3\n"
                     "A0,Robbery,2025,2,18\nZZ,Robbery,2025,2,4\nA1,Robbery,2025,13,1\nA1,Robbery,2025,2,-2\n")
    got = read_area_counts(table, areas, resolution=9)
    assert got.counts.groupby("month")["count"].sum().round(9).to_dict() == {"2025-01": 20.0, "2025-02": 18.0}
    january = got.counts[got.counts["month"] == "2025-01"]
    assert january["count"].round(9).value_counts().get(3.0) == 1  # the 60 m square: one cell holds its 3
    assert got.unplaced == 1 and "shared equally" in got.rule and "resolution-9" in got.rule
    assert got.rejects[["line", "reason"]].values.tolist() == [
        [6, "area code not in the boundary file's code"], [7, "unparseable month (YYYY-MM)"],
        [8, "count is not a number of crimes (0 or more)"]]
    shares = january.groupby("h3_cell")["count"].sum().round(9).value_counts()
    assert sorted(round(value * cells, 6) for value, cells in shares.items()) == [3.0, 5.0, 12.0]


def test_incomplete_months_are_set_aside_named_or_detected(tmp_path):
    areas = squares(tmp_path, [2_000])
    rows = [f"A0,Robbery,2025-{m:02d},{n}" for m, n in [(1, 100), (2, 96), (3, 40), (4, 104), (5, 99)]]
    table = tmp_path / "counts.csv"
    table.write_text("area_code,category,month,count\n" + "\n".join(rows) + "\n")
    got = read_area_counts(table, areas, resolution=9, incomplete_months={"2025-05": "partial pull"})
    assert got.months == ["2025-01", "2025-02", "2025-04"]
    assert got.incomplete["2025-05"] == "named incomplete by the source (partial pull)"
    assert got.incomplete["2025-03"].startswith("40 crimes against a median month's 99: under 75%")


def test_the_shipped_lsoas_imply_resolution_nine():
    """Median LSOA about 0.35 km²: resolution 9 cells (0.1 km²) are the coarsest no larger than it."""
    areas = gpd.read_file(gzip.open(LSOAS)).to_crs("EPSG:27700").area.to_numpy()
    assert implied_resolution(areas) == 9
    assert implied_resolution(np.array([5e6])) == 7 and implied_resolution(np.array([1e4])) == 10


def constructed(n_hot: int, hot_count: float = 20.0):
    """A disc of resolution-9 cells, ``n_hot`` of them with ``hot_count`` crimes a month, the rest 0.05."""
    centre = h3cells.points_to_cells(np.array([-1.9]), np.array([52.48]), 9)
    cells = np.unique(h3cells.k_ring(centre, 20))
    hexes = h3cells.to_strings(cells)
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    rng = np.random.default_rng(0)
    hot = set(rng.choice(hexes, n_hot, replace=False))
    rows = [(h, m, "Robbery", hot_count if h in hot else 0.05) for h in hexes for m in months]
    return pd.DataFrame(rows, columns=["h3_cell", "month", "category", "count"]), cells, months, hot


def test_a_set_stops_early_where_the_evidence_runs_out():
    counts, cells, months, hot = constructed(6)
    result = count_hotspots(counts, cells, month="2026-01", months=months, crs="EPSG:27700", evidence="expected",
                            min_expected=5.0, area_share=0.2, max_hotspots=50, harm={"Robbery": 365.0})
    hs = result.hotspot_set
    assert set(hs.members["h3_cell"]) == hot
    assert hs.parameters["stopped"] == "no further cells expect 5 or more incidents"
    assert hs.area_share < 0.2
    share = result.coverage.set_index("measure")["share"]
    assert np.isclose(share["all incidents"], 6 * 20 / (6 * 20 + 0.05 * (len(cells) - 6)))
    assert np.isclose(share["harm (CCHI days)"], share["all incidents"]) and np.isnan(share["serious youth violence"])


def test_a_set_fills_the_budget_where_the_evidence_is_there():
    counts, cells, months, hot = constructed(200)
    result = count_hotspots(counts, cells, month="2026-01", months=months, crs="EPSG:27700", evidence="expected",
                            min_expected=5.0, area_share=0.05, max_hotspots=500)
    hs = result.hotspot_set
    assert "budget is spent" in hs.parameters["stopped"] and set(hs.members["h3_cell"]) <= hot
    assert 0.04 < hs.area_share <= 0.05


def test_a_history_with_a_missing_month_is_refused_by_name():
    assert history_months("2025-04", ["2025-01", "2025-02", "2025-03"], 3) == ["2025-01", "2025-02", "2025-03"]
    with pytest.raises(ValidationError, match="no complete data for 2025-02 .* not a month without crime"):
        history_months("2025-04", ["2025-01", "2025-03"], 3)
    with pytest.raises(ValidationError, match="month='2025-13' is not a month"):
        history_months("2025-13", ["2025-01"], 1)


def test_the_shipped_counts_cover_the_force_and_name_their_partial_months():
    """The shipped copy: 7 partial months named beside it, 28 complete months of the two scored categories."""
    import tomllib

    named = tomllib.loads(COUNTS.with_name("west_midlands_lsoa_month_counts.toml").read_text())["incomplete"]
    got = read_area_counts(COUNTS, LSOAS, categories=["Violence and sexual offences", "Robbery"],
                           incomplete_months=named)
    assert len(got.months) == 28 and got.months[-1] == "2026-03" and len(got.rejects) == 0
    assert got.resolution == 9 and got.areas == 1719
    raw = pd.read_csv(COUNTS)
    raw = raw[raw["category"].isin(["Violence and sexual offences", "Robbery"]) & raw["month"].isin(got.months)]
    assert np.isclose(got.counts["count"].sum(), raw["crime_count"].sum())


def test_a_month_from_counts_is_stored_rerun_as_a_version_and_served_with_its_rule(store_url):
    """On both stores: the month's set is stored with the placement rule; a re-run is version 2 with the
    same ids; the API's map of it says the counts are per LSOA, not per street."""
    import tomllib

    from fastapi.testclient import TestClient

    from api.main import create_app
    from hotspots.geo.areas import NamedAreas
    from hotspots.services.counts import select_from_counts
    from hotspots.store import open_store
    from hotspots.store.tokens import add_token

    store = open_store(store_url)
    districts = NamedAreas.from_file(SHIPPED_DATA / "boundaries" / "west_midlands_districts.geojson.gz", "LAD_name")
    named = tomllib.loads(COUNTS.with_name("west_midlands_lsoa_month_counts.toml").read_text())["incomplete"]
    runs = [select_from_counts(store, COUNTS, LSOAS, districts=districts, incomplete_months=named,
                               categories=["Violence and sexual offences", "Robbery"]) for _ in range(2)]
    first, second = (r.result.hotspot_set for r in runs)
    assert first.hotspots["hotspot_id"].tolist() == second.hotspots["hotspot_id"].tolist()
    assert set(first.hotspots["area_name"]) == set(districts.names) and first.hotspots["name"].is_unique
    assert runs[1].set_id == runs[0].set_id + 1 and second.dropped == []
    token = add_token(store, "counts-commander", "commander", actor="test")
    store.dispose()
    with TestClient(create_app(store_url)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        page = client.get(f"/hotspot-sets/{runs[1].set_id}/map", headers=auth)
        assert page.status_code == 200 and "Counts known per LSOA, not per street" in page.text, page.text[:300]
        doc = client.get(f"/hotspot-sets/{runs[1].set_id}/geojson", headers=auth).json()
        assert doc["properties"]["period_label"] == "2026-04" and len(doc["features"]) == len(first.hotspots)
