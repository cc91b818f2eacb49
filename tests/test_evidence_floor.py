"""The evidence floor: budgets are ceilings, a set stops early and says why, padding never takes empty
cells, names are unique and never a placeholder, and a re-run of a week gives the same set."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from test_selection import BNG, bumps, halves, region  # noqa: F401 (region is a fixture)
from weekly_fixtures import CALENDAR

from hotspots.core.errors import ValidationError
from hotspots.geo import cells as h3cells
from hotspots.places.evidence import evidence_floor
from hotspots.places.geofence import PLACEHOLDERS, unique_names
from hotspots.places.selection import hotspot_select
from hotspots.places.weekly import DEFAULT_HYSTERESIS, weekly_hotspots
from hotspots.services.weekly import next_hotspot_number, previous_set, save_set


def floor_over(region, hot_cells: int, scores: pd.Series):
    """An expected-count floor that exactly ``hot_cells`` cells clear (the best scored)."""
    values = scores.reindex(h3cells.to_strings(region), fill_value=0.0).to_numpy()
    threshold = np.sort(values)[::-1][hot_cells - 1]
    counts = (values > 0).astype(float)  # every scored cell holds an incident
    return evidence_floor("expected", values, counts, min_expected=threshold), values


def test_the_set_stops_early_where_the_evidence_runs_out(region):
    scores = bumps(region)
    floor, values = floor_over(region, 25, scores)
    hs = hotspot_select(scores, region, crs=BNG, area_share=0.5, max_hotspots=57, min_cells=1, floor=floor)
    assert hs.members["h3_cell"].isin(np.asarray(h3cells.to_strings(region))[floor.eligible]).all()
    assert len(hs.members) == 25 and hs.area_share < 0.5
    assert hs.parameters["stopped"].startswith("no further cells expect")
    assert hs.parameters["evidence_floor"]["eligible_cells"] == 25
    left = hs.left_out
    assert (~left["over_floor"]).all() and (left["reason"] == "below the evidence floor").all()
    assert left["rank"].tolist() == sorted(left["rank"]) and left["rank"].min() == 26


def test_the_set_fills_the_budget_where_the_evidence_is_there(region):
    scores = bumps(region)
    floor, _ = floor_over(region, 400, scores)
    hs = hotspot_select(scores, region, crs=BNG, area_share=0.02, max_hotspots=57, min_cells=1, floor=floor)
    assert hs.area_share == pytest.approx(0.02, abs=0.002) and hs.parameters["stopped"] == "the area budget is spent"
    assert (hs.left_out["reason"] == "the area budget is spent").any()


def test_padding_takes_no_empty_cell(region):
    """A lone hot cell with no incidents around it cannot be padded to three cells: it is left out."""
    hexes = h3cells.to_strings(region)
    scores = pd.Series(0.0, index=hexes)
    scores.iloc[[0, 400]] = [10.0, 9.0]
    ring = h3cells.k_ring(region[[400]], 1)
    scores[h3cells.to_strings(ring[ring != region[400]])] = 0.5  # the second hot cell has scored neighbours
    values = scores.to_numpy()
    counts = np.zeros(region.size)
    counts[np.isin(region, ring)] = 1  # ... that hold incidents; the first has none around it
    counts[0] = 3
    floor = evidence_floor("expected", values, counts, min_expected=5.0)
    hs = hotspot_select(scores, region, crs=BNG, min_cells=3, floor=floor)
    assert len(hs.hotspots) == 1 and hs.hotspots["n_cells"].iloc[0] == 3
    assert region[400] in hs.cells_of()
    padded = hs.members["h3_cell"].map(dict(zip(hexes, counts, strict=True)))
    assert (padded >= 1).all()
    assert "padding floor" in hs.left_out.set_index("h3_cell").at[hexes[0], "reason"]


def test_floor_rules_are_validated(region):
    with pytest.raises(ValidationError, match="evidence_floor='magic' is not known"):
        evidence_floor("magic", np.ones(3), np.ones(3))
    with pytest.raises(ValidationError, match="needs the Gi"):
        evidence_floor("gistar", np.ones(3), np.ones(3))
    with pytest.raises(ValidationError, match="min_expected=0"):
        evidence_floor("expected", np.ones(3), np.ones(3), min_expected=0)
    none = evidence_floor("none", np.array([0.0, 1.0]), np.zeros(2))
    assert none.eligible.tolist() == [False, True] and none.padding.all()


def test_names_are_unique_and_never_a_placeholder(region):
    hexes = h3cells.to_strings(region)
    scores = bumps(region, n_bumps=20, seed=3)
    streets = ["On or near Pedestrian Subway", "On or near Broad Street", "On or near Parking Area",
               "On or near Supermarket"]
    rng = np.random.default_rng(0)
    locs = pd.DataFrame({"h3_cell": rng.choice(hexes, 3000), "location": rng.choice(streets, 3000)})
    hs = hotspot_select(scores, region, crs=BNG, min_cells=3, locations=locs, names=halves(region))
    names = hs.hotspots["name"]
    assert names.is_unique and len(names) > 3
    for name in names:
        first = name.split(",")[0].strip().lower()
        assert first not in PLACEHOLDERS and "subway" not in name.lower() and "parking" not in name.lower()
    # Two hotspots on the same street in the same ward: the next street, then a grid reference.
    same = unique_names([pd.Series(["On or near A Street", "On or near B Road"]), pd.Series(["On or near A Street"])],
                        ["Ladywood", "Ladywood"], np.array([-1.9, -1.91]), np.array([52.4, 52.41]))
    assert same == ["A Street and B Road, Ladywood", "A Street, Ladywood, 52.4100, -1.9100"]


def test_three_runs_of_a_week_give_the_same_set(store, weeks, city, force_area, npus):
    """Re-running a week is a new version of it, not its successor: last period's set alone seeds ids
    and hysteresis, so three runs give the same ids, statuses and dropped list. (The expected-count
    floor, as the weeks fixture uses, keeps enough places for ids and drops to matter.)"""
    first = weeks[0]
    save_set(store, first.hotspot_set, period_label=first.period_label, period_start=first.period_start,
             period_end=first.period_end, resolution=10, score_source=first.score_source, coverage=first.coverage)
    period = CALENDAR.period_of(first.period_start) + 1
    start = CALENDAR.bounds(period)[0].date()
    runs = []
    for _ in range(3):
        previous = previous_set(store, start)
        assert previous.parameters["set_id"] == first.hotspot_set.parameters["set_id"]
        week = weekly_hotspots(city, force_area.cells(10), calendar=CALENDAR, period=period, resolution=10,
                               crs=BNG, permutations=99, evidence="expected", min_expected=1.0, areas=npus,
                               area_min=2, min_cells=3, max_cells=40, previous=previous, hysteresis=DEFAULT_HYSTERESIS,
                               next_number=next_hotspot_number(store, before=start))
        save_set(store, week.hotspot_set, period_label=week.period_label, period_start=week.period_start,
                 period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage)
        runs.append(week.hotspot_set)
    for later in runs[1:]:
        pd.testing.assert_frame_equal(later.hotspots[["hotspot_id", "status", "name"]],
                                      runs[0].hotspots[["hotspot_id", "status", "name"]])
        assert later.dropped == runs[0].dropped
    assert set(runs[0].dropped) <= set(first.hotspot_set.hotspots["hotspot_id"])


def test_coverage_is_of_a_period_the_data_covers_to_its_end(city, force_area):
    """The synthetic year's data stops one day into a week: that week is not called complete."""
    end = pd.Timestamp("2024-11-05 00:00", tz="Europe/London")  # data to Monday 4 November, inclusive
    cut = city[city["occurred_to"] < end.tz_convert("UTC")]
    period = CALENDAR.period_of(dt.date(2024, 11, 11))
    week = weekly_hotspots(cut, force_area.cells(10), calendar=CALENDAR, period=period, resolution=10, crs=BNG,
                           permutations=0)
    assert week.data_through == dt.date(2024, 11, 4)
    assert week.last_period_label == str(CALENDAR.label(np.array([period - 2]))[0])
