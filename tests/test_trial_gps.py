"""GPS logs to visits and compliance: rejected rows kept with reasons, visits against a slow twin."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import visits_loop

from hotspots.core.errors import HotspotsError
from hotspots.geo import cells as h3cells
from hotspots.trials.compliance import compliance, delivered_by_period
from hotspots.trials.gps import pings_to_visits, read_gps_log

CENTRE = (-1.8983, 52.4796)


@pytest.fixture(scope="module")
def members():
    """Two one-cell hotspots 1 km apart, A and B, at resolution 10."""
    a = h3cells.points_to_cells(np.array([CENTRE[0]]), np.array([CENTRE[1]]), 10)
    b = h3cells.points_to_cells(np.array([CENTRE[0] + 0.015]), np.array([CENTRE[1]]), 10)
    return pd.DataFrame({"hotspot_id": ["A", "B"], "h3_cell": h3cells.to_strings(np.r_[a, b])})


def centre_of(members, hotspot):
    lon, lat = h3cells.cell_centres(h3cells.from_strings(members.loc[members.hotspot_id == hotspot, "h3_cell"].tolist()))
    return float(lon[0]), float(lat[0])


def test_bad_rows_are_kept_with_line_and_reason(tmp_path):
    log = tmp_path / "avl.csv"
    log.write_text(
        "CallSign,Timestamp,Longitude,Latitude\n"
        "A-1,2024-06-03T14:00:00Z,-1.8983,52.4796\n"
        ",2024-06-03T14:00:30Z,-1.8983,52.4796\n"
        "A-1,yesterday,-1.8983,52.4796\n"
        "A-1,2024-06-03T14:01:30Z,east,52.4796\n"
        "A-1,2024-06-03T14:02:00Z,0,0\n"
        "A-1,2024-06-03T14:00:00Z,-1.8983,52.4796\n"
        "A-1,2024-03-31T01:30:00,-1.8983,52.4796\n"
        "A-1,2024-06-03T16:00:00,-1.8983,52.4796\n", encoding="utf-8")
    pings, rejects = read_gps_log(log)
    assert rejects["line"].tolist() == [3, 4, 5, 6, 7, 8]
    reasons = rejects["reason"].tolist()
    assert reasons[0].startswith("unit is empty") and reasons[1].startswith("timestamp is not an ISO 8601")
    assert reasons[2] == "lon or lat is not a number" and "0,0: no fix" in reasons[3]
    assert reasons[4] == "repeats line 2 (same unit and time)" and "clock change skips" in reasons[5]
    assert rejects["raw"].iloc[1] == "A-1,yesterday,-1.8983,52.4796"
    # A naive time is local: 16:00 BST is 15:00 UTC.
    assert pings["line"].tolist() == [2, 9] and pings["at"].iloc[1] == pd.Timestamp("2024-06-03T15:00:00Z")


def test_a_nul_byte_rejects_its_row_and_the_rest_is_stored_on_every_store(store, tmp_path):
    """PostgreSQL text cannot hold NUL: the row is rejected (its raw text writes it as \\x00), not the batch."""
    from hotspots.services.trials import load_gps_log

    log = tmp_path / "avl.csv"
    log.write_bytes(b"unit,timestamp,lon,lat\nA\x00-1,2024-11-05T20:00:00Z,-1.89,52.48\n"
                    b"A-2,2024-11-05T20:00:00Z,-1.89,52.48\n")
    got = load_gps_log(store, log, loaded_by="test")
    assert (got["loaded"], got["rejected"]) == (1, 1)
    assert got["rejects"].to_dict("records") == [
        {"line": 2, "reason": "a field holds a NUL byte (0x00), which text cannot hold",
         "raw": "A\\x00-1,2024-11-05T20:00:00Z,-1.89,52.48"}]


def test_a_log_without_the_needed_columns_is_one_clear_error(tmp_path):
    log = tmp_path / "avl.csv"
    log.write_text("unit,time,x\nA,2024-06-03T14:00:00Z,1\n", encoding="utf-8")
    with pytest.raises(HotspotsError, match="avl.csv: a GPS log needs unit, timestamp, lon and lat; it has no lat column"):
        read_gps_log(log)


def pings_for(members, stays, start="2024-06-03T12:00:00Z", step_s=30):
    """Pings of units staying at hotspot centres: stays are (unit, hotspot or None, minutes)."""
    rows, clock = [], {}
    for unit, hotspot, minutes in stays:
        t = clock.get(unit, pd.Timestamp(start))
        lon, lat = centre_of(members, hotspot) if hotspot else (CENTRE[0] - 0.05, CENTRE[1])
        for k in range(int(minutes * 60 // step_s)):
            rows.append((unit, t + pd.Timedelta(seconds=k * step_s), lon, lat))
        clock[unit] = t + pd.Timedelta(minutes=minutes)
    return pd.DataFrame(rows, columns=["unit", "at", "lon", "lat"])


def test_visits_respect_gap_tolerance_and_minimum_length(members):
    pings = pings_for(members, [("U1", "A", 15), ("U1", None, 1), ("U1", "A", 10), ("U1", None, 20),
                                ("U1", "A", 1), ("U1", "B", 12), ("U2", "B", 16)])
    visits = pings_to_visits(pings, members, max_gap_s=180, min_visit_s=120)
    # A 1-minute step outside does not split a visit; 20 minutes does; a 1-minute stop is a drive-through.
    got = visits[["unit", "hotspot_id"]].apply(tuple, axis=1).tolist()
    assert got == [("U1", "A"), ("U1", "B"), ("U2", "B")]
    assert visits["minutes"].round(1).tolist() == [25.5, 11.5, 15.5]
    assert visits["date"].tolist() == ["2024-06-03"] * 3


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), seed=st.integers(0, 10_000), gap=st.sampled_from([30, 90, 300]),
       min_visit=st.sampled_from([0, 60, 240]))
def test_visits_match_the_slow_twin(members, n, seed, gap, min_visit):
    rng = np.random.default_rng(seed)
    where = rng.integers(-1, 2, n)
    lon = np.array([centre_of(members, "AB"[w])[0] if w >= 0 else CENTRE[0] - 0.05 for w in where])
    lat = np.full(n, CENTRE[1])
    at = pd.Timestamp("2024-06-03T12:00:00Z") + pd.to_timedelta(np.sort(rng.integers(0, 4 * 3600, n)), unit="s")
    unit = rng.choice(["U1", "U2"], n)
    pings = pd.DataFrame({"unit": unit, "at": at, "lon": lon, "lat": lat}).drop_duplicates(["unit", "at"])
    visits = pings_to_visits(pings, members, max_gap_s=gap, min_visit_s=min_visit)
    seconds = (pings["at"] - pd.Timestamp("2024-06-03T12:00:00Z")).dt.total_seconds().tolist()
    places = [int(w) for w, keep in zip(where, ~pd.DataFrame({"u": unit, "a": at}).duplicated().to_numpy(), strict=True) if keep]
    twin = visits_loop(pings["unit"].tolist(), seconds, places, gap, min_visit)
    assert len(visits) == len(twin)
    for v, w in zip(visits.itertuples(), twin, strict=True):
        assert (v.unit, v.hotspot_id, v.pings) == (w[0], "AB"[w[1]], w[4])
        assert v.minutes * 60 == pytest.approx(w[3] - w[2])


def test_compliance_compares_plan_with_delivery_and_counts_contamination(members):
    pings = pings_for(members, [("U1", "A", 15), ("U1", None, 30), ("U1", "A", 30), ("U2", "B", 12)])
    visits = pings_to_visits(pings, members)
    arms = pd.DataFrame({"hotspot_id": ["A", "B"], "arm": ["treatment", "control"]})
    planned = pd.DataFrame({"hotspot_id": ["A"], "planned_minutes": [60.0], "visits": [4]})
    table, summary = compliance(visits, arms, planned)
    a = table.set_index("hotspot_id").loc["A"]
    assert a.delivered_visits == 2 and a.planned_visits == 4
    assert a.delivered_minutes == pytest.approx(14.5 + 29.5) and a.delivered_share == pytest.approx(44 / 60)
    assert a.koper_share == 0.5  # 14.5 minutes is of Koper length, 29.5 is not
    assert summary["control_visits"] == 1 and summary["control_minutes"] == pytest.approx(11.5)
    by_week = delivered_by_period(visits, ["A", "B"], dt.date(2024, 6, 3), 2, 7)
    assert by_week[:, 0] == pytest.approx([44.0, 11.5]) and (by_week[:, 1] == 0).all()


def test_no_pings_inside_gives_no_visits(members):
    pings = pings_for(members, [("U1", None, 30)])
    assert pings_to_visits(pings, members).empty
    assert pings_to_visits(pings.iloc[:0], members).empty
