"""The weekly job on a synthetic year: selection, stored sets and versions, engagement, exports, the map."""

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from weekly_fixtures import CALENDAR

from hotspots.core.errors import HotspotsError
from hotspots.places.exports import write_hotspots
from hotspots.places.weekly import map_context, weekly_hotspots
from hotspots.services.weekly import load_set, next_hotspot_number, save_set
from hotspots.store.hotspot_sets import engagement, list_sets, set_engagement, set_scores_of


def test_weekly_respects_budgets_and_keeps_ids(weeks):
    first, second = weeks
    for week in weeks:
        hs = week.hotspot_set
        assert len(hs.hotspots) <= 57 and hs.area_share <= 0.014 + 1e-9
        # Per-NPU minimums are met only where cells clear the evidence floor: the budget is a
        # ceiling, and the set says why it stopped.
        assert hs.hotspots["area_name"].nunique() >= 4 and hs.parameters["stopped"]
        assert hs.parameters["evidence_floor"]["rule"] == "expected"
        assert hs.hotspots["n_cells"].between(3, 40).all()
    continuing = second.hotspot_set.hotspots["status"] == "continuing"
    assert continuing.mean() > 0.8
    assert set(second.hotspot_set.hotspots.loc[continuing, "hotspot_id"]) <= set(first.hotspot_set.hotspots["hotspot_id"])


def test_weekly_coverage_beats_chance_on_the_synthetic_city(weeks):
    share = weeks[0].coverage.set_index("measure")["share"]
    pai = weeks[0].coverage.set_index("measure")["pai"]
    assert share["all incidents"] > 0.1 and pai["all incidents"] > 5  # true hotspots are in the city
    assert np.isfinite(share["serious youth violence"]) and np.isfinite(share["knife-enabled incidents"])
    hs = weeks[0].hotspot_set
    assert weeks[0].sentence.startswith(f"{len(hs.hotspots)} hotspots, {100 * hs.area_share:.1f}% of the area")


def test_weekly_describes_each_hotspot(weeks):
    frame = weeks[0].hotspot_set.hotspots
    assert frame["incidents"].sum() <= weeks[0].coverage.set_index("measure").at["all incidents", "total"]
    assert frame["gi_hot_cells"].sum() > 0  # the strongest synthetic hotspots are significant
    assert frame["emerging_class"].notna().all()
    assert weeks[0].emerging["periods"].iloc[0] == 12


def test_weekly_uses_only_the_past(city, force_area):
    """Scores for a period never see its incidents: changing them changes nothing."""
    cells = force_area.cells(10)
    period = CALENDAR.period_of(dt.date(2024, 6, 3))
    start = CALENDAR.bounds(period)[0].tz_convert("UTC")
    later = city["occurred_from"] >= start
    moved = city.copy()
    moved.loc[later, "lon"] = moved.loc[later, "lon"].sample(frac=1, random_state=0).to_numpy()
    a = weekly_hotspots(city, cells, calendar=CALENDAR, period=period, resolution=10, crs="EPSG:27700",
                        permutations=0)
    b = weekly_hotspots(moved, cells, calendar=CALENDAR, period=period, resolution=10, crs="EPSG:27700",
                        permutations=0)
    pd.testing.assert_frame_equal(a.hotspot_set.members, b.hotspot_set.members)


def test_weekly_without_history_is_a_clear_error(city, force_area):
    with pytest.raises(HotspotsError, match="no incidents in the 365 days before 2020-01-06"):
        weekly_hotspots(city, force_area.cells(10), calendar=CALENDAR, period=CALENDAR.period_of(dt.date(2020, 1, 6)),
                        resolution=10, crs="EPSG:27700")


def save(store, week):
    return save_set(store, week.hotspot_set, period_label=week.period_label, period_start=week.period_start,
                    period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage)


def test_sets_are_stored_versioned_and_round_trip(store, weeks):
    first, second = weeks
    a = save(store, first)
    b = save(store, first)  # the same period again: a new version, the first untouched
    c = save(store, second)
    sets = list_sets(store)
    assert sets["set_id"].tolist() == [c, b, a]
    assert sets.set_index("set_id").loc[[a, b], "version"].tolist() == [1, 2]
    loaded = load_set(store, a)
    original = first.hotspot_set
    pd.testing.assert_frame_equal(loaded.members, original.members)
    cols = ["hotspot_id", "rank", "name", "status", "n_cells", "incidents", "emerging_class"]
    pd.testing.assert_frame_equal(loaded.hotspots[cols], original.hotspots[cols], check_dtype=False)
    assert all(x.equals_exact(y, 1e-6) for x, y in zip(loaded.hotspots["geofence"], original.hotspots["geofence"], strict=True))
    assert load_set(store).parameters["set_id"] == c
    assert load_set(store, period_label=first.period_label).parameters["version"] == 2
    assert next_hotspot_number(store) > max(int(h[3:]) for h in second.hotspot_set.hotspots["hotspot_id"])
    with pytest.raises(HotspotsError, match="no hotspot set for period 'never'"):
        load_set(store, period_label="never")


def test_engagement_plans_keep_history_across_periods(store, weeks):
    save(store, weeks[0])
    hid = weeks[0].hotspot_set.hotspots["hotspot_id"].iloc[0]
    set_engagement(store, hid, owner="NPU inspector", stakeholders="ward councillors; youth service", status="drafted")
    set_engagement(store, hid, status="agreed", next_review=dt.date(2024, 12, 1))
    current = engagement(store, [hid]).iloc[0]
    assert (current["status"], current["owner"], str(current["next_review"])) == ("agreed", "NPU inspector", "2024-12-01")
    assert len(engagement(store, [hid], history=True)) == 2
    with pytest.raises(HotspotsError, match="status='finished' is not known"):
        set_engagement(store, hid, status="finished")
    with pytest.raises(HotspotsError, match="HS-9999"):
        set_engagement(store, "HS-9999", status="agreed")
    assert len(engagement(store, [hid], history=True)) == 2  # a refused edit adds nothing


@pytest.mark.parametrize("ext", [".geojson", ".gpkg", ".kml", ".csv"])
def test_exports_read_back(weeks, tmp_path, ext):
    hs = weeks[0].hotspot_set
    path = write_hotspots(hs, tmp_path / f"hotspots{ext}")
    write_hotspots(hs, path)  # writing twice replaces, never appends
    if ext == ".csv":
        back = pd.read_csv(path)
        assert back["geofence_wkt"].str.startswith(("POLYGON", "MULTIPOLYGON")).all()
    else:
        back = gpd.read_file(path)
        assert back.geometry.notna().all()
    assert len(back) == len(hs.hotspots)


def test_export_refuses_an_unknown_format(weeks, tmp_path):
    with pytest.raises(HotspotsError, match=r"\.shp"):
        write_hotspots(weeks[0].hotspot_set, tmp_path / "x.shp")


def test_map_reads_the_surface_stored_with_the_set(store, weeks, city):
    week = weeks[0]
    save_set(store, week.hotspot_set, period_label=week.period_label, period_start=week.period_start,
             period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage,
             scores=week.scores)
    stored = load_set(store)
    ctx = map_context(city, stored, CALENDAR, scores=set_scores_of(store, stored.parameters["set_id"]))
    scored = week.scores[week.scores > 0].groupby(level=0).sum()
    pd.testing.assert_series_equal(ctx.scores.sort_index(), scored.sort_index(), check_names=False)
    assert len(ctx.incidents) == len(week.last_period_incidents)
    assert ctx.sentence == week.sentence
