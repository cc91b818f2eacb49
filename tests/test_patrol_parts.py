"""The parts of a roster: resources files, risk profiles, the dosage split and the spread over days."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patrol_fixtures import unit_spec

from hotspots.core.config import SHIPPED_DATA
from hotspots.core.errors import HotspotsError
from hotspots.patrol import PatrolResources, hour_of_week_profiles
from hotspots.patrol.clock import PeriodClock
from hotspots.patrol.dosage import split_budget, visits_by_day

DEMO = SHIPPED_DATA / "patrol" / "demo_resources.toml"


def resources(**unit):
    return PatrolResources.from_dict({"npu": [{"name": "A", "funded_hours": 100, "unit": [unit_spec("A-1") | unit]}]})


def test_demo_resources_read_and_round_trip():
    r = PatrolResources.from_file(DEMO)
    assert r.hotspot_share == 0.8 and len(r.npus[0].units) >= 4
    assert PatrolResources.from_dict(r.to_dict()) == r


@pytest.mark.parametrize(("shifts", "expected"), [
    ({"mon": "09:00-17:00"}, [(0, 540, 1020)]),
    ({"fri-mon": "22:00-02:00"}, [(0, 1320, 1560), (4, 1320, 1560), (5, 1320, 1560), (6, 1320, 1560)]),
    ({"weekends": "00:00-24:00"}, [(5, 0, 1440), (6, 0, 1440)]),
    ({"wed": ["11:00-15:00", "19:00-03:00"]}, [(2, 660, 900), (2, 1140, 1620)]),
])
def test_shift_specifications(shifts, expected):
    unit = resources(shifts=shifts).npus[0].units[0]
    assert [(s.weekday, s.start_minute, s.end_minute) for s in unit.shifts] == expected


@pytest.mark.parametrize(("change", "message"), [
    ({"shifts": {"mon": "9-17"}}, r"shifts\['mon'\]='9-17' is not a time range; use HH:MM-HH:MM"),
    ({"shifts": {"funday": "09:00-17:00"}}, "'funday' is not a day or range of days"),
    ({"shifts": {"mon": "25:00-26:00"}}, "clock time that does not exist"),
    ({"mode": "horse"}, "mode='horse' is not known; use one of: foot, vehicle"),
    ({"callsign": "=HYPERLINK()"}, "must be a short call sign"),
    ({"base": [200, 52]}, r"base=\[200, 52\] must be \[lon, lat\]"),
])
def test_bad_units_name_the_entry(change, message):
    with pytest.raises(HotspotsError, match=message) as info:
        resources(**change)
    assert "npu[0] (A): unit[0]" in str(info.value)


def test_bad_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("hotspot_share = [", encoding="utf-8")
    with pytest.raises(HotspotsError, match="is not valid TOML"):
        PatrolResources.from_file(bad)
    with pytest.raises(HotspotsError, match="no such file"):
        PatrolResources.from_file(tmp_path / "missing.toml")
    with pytest.raises(HotspotsError, match="no \\[\\[npu\\]\\] entries"):
        PatrolResources.from_dict({"hotspot_share": 0.8})
    with pytest.raises(HotspotsError, match="unit callsign 'A-1' appears twice"):
        PatrolResources.from_dict({"npu": [{"name": n, "funded_hours": 1, "unit": [unit_spec("A-1")]} for n in "AB"]})
    with pytest.raises(HotspotsError, match="hotspot_share=1.5"):
        PatrolResources.from_dict({"hotspot_share": 1.5, "npu": []})


def test_clock_shifts_cross_midnight_and_the_period_edges():
    clock = PeriodClock(dt.date(2024, 3, 25), 7, "Europe/London")  # a Monday; clocks go forward on Sunday 31st
    unit = resources(shifts={"sun": "22:00-06:00", "mon": "08:00-09:00"}).npus[0].units[0]
    iv = clock.shift_intervals(unit)
    # Sunday 24th's night shift runs into the period's first morning; Sunday 31st's is cut at the end
    # at the period's end, which is local midnight, 23:00 UTC (by then 22:00 local is 21:00 UTC).
    assert iv[0].tolist() == [0, 360] and iv[1].tolist() == [480, 540]
    assert iv[-1].tolist() == [6 * 1440 + 21 * 60, clock.minutes] and clock.minutes == 7 * 1440 - 60


def test_profiles_learn_hours_and_shrink_toward_the_force():
    members = pd.DataFrame({"hotspot_id": ["H1", "H2"], "h3_cell": ["8a195da49a4ffff", "8a195da49a47fff"]})
    t = pd.Timestamp("2024-01-05 21:30", tz="Europe/London").tz_convert("UTC")  # a Friday, 21:00 hour
    incidents = pd.DataFrame({"h3_cell": ["8a195da49a4ffff"] * 30 + ["8a195da49a47fff"],
                              "occurred_from": [t] * 30 + [t - pd.Timedelta(hours=12)],
                              "time_precision": ["exact"] * 30 + ["day"]})
    profiles, timed = hour_of_week_profiles(incidents, members, ["H1", "H2", "H3"], "Europe/London")
    assert profiles.shape == (3, 168) and np.allclose(profiles.sum(1), 1)
    assert timed.tolist() == [30, 1, 0]
    assert profiles[0].argmax() == 4 * 24 + 21 and profiles[0].max() > 0.5
    assert profiles.min() > 0  # no hour is ever ruled out
    assert profiles[2].argmax() == 4 * 24 + 21  # a hotspot with no history takes the force profile


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=1, max_size=30), st.floats(0, 1), st.floats(0, 3))
def test_split_budget_spends_the_budget_within_floor_and_cap(priority, floor_share, budget_share):
    n = len(priority)
    floor, cap = np.full(n, 100.0 * floor_share), np.full(n, 100.0)
    budget = budget_share * cap.sum()
    got = split_budget(np.array(priority), floor, cap, budget)
    assert np.all(got <= cap + 1e-6)
    if floor.sum() <= budget <= cap.sum():
        assert np.all(got >= floor - 1e-6)
        assert got.sum() == pytest.approx(budget, rel=1e-6, abs=1e-6)
    order = np.argsort(priority, kind="stable")
    assert np.all(np.diff(got[order]) >= -1e-6)  # more priority never means fewer minutes


def test_split_budget_is_proportional_between_the_bounds():
    got = split_budget(np.array([1.0, 2.0, 3.0, 100.0]), np.full(4, 10.0), np.full(4, 200.0), 320.0)
    assert got[3] == 200 and got[:3] == pytest.approx([20, 40, 60])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 120), st.lists(st.floats(0, 10), min_size=1, max_size=40), st.integers(1, 5), st.integers(0, 9))
def test_visits_by_day_is_exact_and_capped(n, weights, cap, seed):
    w = np.array(weights)
    counts = visits_by_day(n, w, cap, np.random.default_rng(seed))
    assert counts.sum() == min(n, cap * int((w > 0).sum()))
    assert counts.max(initial=0) <= cap and np.all(counts[w == 0] == 0)


def test_visits_by_day_follows_the_weights_on_average():
    w = np.array([1.0, 1, 1, 1, 2, 3, 1])
    rng = np.random.default_rng(0)
    mean = np.mean([visits_by_day(10, w, 5, rng) for _ in range(4000)], axis=0)
    assert mean == pytest.approx(10 * w / w.sum(), abs=0.05)


def test_profiles_place_finer_incidents_by_their_position_not_their_cells_parent():
    """Hotspots of resolution-9 cells, incidents indexed at 10: an incident counts toward the
    hotspot whose cell holds its point, even where its own cell's parent is another cell."""
    from hotspots.geo import cells as h3cells

    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(-1.95, -1.85, 4000), rng.uniform(52.45, 52.50, 4000)
    fine = h3cells.points_to_cells(lon, lat, 10)
    own = h3cells.points_to_cells(lon, lat, 9)
    stray = np.flatnonzero(h3cells.to_parent(fine, 9) != own)
    assert stray.size > 100  # about 7% of points
    k = stray[0]
    members = pd.DataFrame({"hotspot_id": ["H1"], "h3_cell": h3cells.to_strings(own[[k]])})
    t = pd.Timestamp("2024-01-05 21:30", tz="UTC")
    incidents = pd.DataFrame({"h3_cell": h3cells.to_strings(fine[[k]]), "lon": lon[[k]], "lat": lat[[k]],
                              "occurred_from": [t], "time_precision": ["exact"]})
    _, timed = hour_of_week_profiles(incidents, members, ["H1"], "UTC")
    assert timed.tolist() == [1]
    _, by_parent = hour_of_week_profiles(incidents.drop(columns=["lon", "lat"]), members, ["H1"], "UTC")
    assert by_parent.tolist() == [0]  # what placing by the parent cell did
