"""Rosters: dosage met when resources suffice, every visit feasible, reproducible, random in time, honest about shortfalls.

Feasibility is checked by an independent slow twin: shifts rebuilt from the resources with plain
datetime and zoneinfo, travel from geodesic distances (pyproj.Geod) instead of projected ones.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from patrol_fixtures import PERIOD_START, ample_resources, unit_spec
from pyproj import Geod
from scipy import stats

from hotspots.core.errors import HotspotsError
from hotspots.patrol import PatrolResources, patrol_roster, read_arms
from hotspots.patrol.clock import PeriodClock

TZ = "Europe/London"
GEOD = Geod(ellps="WGS84")


def plan(guardian, **kw):
    hot, resources, profiles, harm = guardian
    kw = {"start": PERIOD_START, "seed": 11} | kw
    return patrol_roster(hot, kw.pop("resources", resources), kw.pop("profiles", profiles), kw.pop("priority", harm), **kw)


def shift_windows(unit, day: dt.date):
    """Local shifts of ``unit`` that start on ``day``, as aware datetimes (the slow way)."""
    zone = ZoneInfo(TZ)
    midnight = dt.datetime.combine(day, dt.time())
    return [((midnight + dt.timedelta(minutes=s.start_minute)).replace(tzinfo=zone),
             (midnight + dt.timedelta(minutes=s.end_minute)).replace(tzinfo=zone))
            for s in unit.shifts if s.weekday == day.weekday()]


def assert_feasible(roster, resources, min_gap, control=None, start=PERIOD_START):
    units = {u.callsign: u for n in resources.npus for u in n.units}
    speeds = resources.speeds_kmh
    v = roster.visits
    assert (v["ends_at"] - v["starts_at"] == pd.Timedelta(minutes=roster.parameters["visit_minutes"])).all()
    for callsign, rows in v.groupby("unit"):
        unit = units[callsign]
        assert set(rows["npu"]) == {unit.npu}
        prev, prev_shift = None, None
        for r in rows.sort_values("starts_at").itertuples():
            s, e = r.starts_at.to_pydatetime(), r.ends_at.to_pydatetime()
            day = s.astimezone(ZoneInfo(TZ)).date()
            shifts = shift_windows(unit, day) + shift_windows(unit, day - dt.timedelta(days=1))
            inside = [w for w in shifts if w[0] <= s and e <= w[1]]
            assert inside, f"{callsign} visit at {s} is outside its shifts"
            if prev is not None and inside[0] == prev_shift:
                assert prev.ends_at <= r.starts_at, f"{callsign} is in two places at {s}"
                _, _, metres = GEOD.inv(prev.centroid_lon, prev.centroid_lat, r.centroid_lon, r.centroid_lat)
                need = metres * resources.detour / (speeds[unit.mode] * 1000 / 60)
                gap = (r.starts_at - prev.ends_at).total_seconds() / 60
                assert gap >= need - 1, f"{callsign} cannot travel {metres:.0f} m in {gap:.0f} min"
            prev, prev_shift = r, inside[0]
    reach = pd.Timedelta(minutes=roster.parameters["visit_minutes"] + min_gap)
    for _, rows in v.groupby("hotspot_id"):
        assert (rows["starts_at"].sort_values().diff().dropna() >= reach).all()
    if control is not None:
        ids = list(roster.dosage["hotspot_id"])
        for r in v.itertuples():
            day = (dt.date.fromisoformat(r.date) - start).days
            assert not control[ids.index(r.hotspot_id), day]


def test_dosage_within_five_percent_when_resources_suffice(guardian):
    roster = plan(guardian)
    d = roster.dosage
    assert len(d) >= 50 and (d["npu"].notna()).all()
    assert (d["target_minutes"] > 0).all()
    gap = (d["planned_minutes"] - d["target_minutes"]).abs() / d["target_minutes"]
    assert gap.max() <= 0.05, d.loc[gap.idxmax()].to_dict()
    assert not any("short" in w for w in roster.warnings)
    # The budget is spent by priority: more harm, no fewer planned minutes (between floor and cap).
    interior = d[(d["target_minutes"] > d["target_minutes"].min()) & (d["target_minutes"] < d["target_minutes"].max())]
    for _, g in interior.groupby("npu"):
        assert g.sort_values("priority")["target_minutes"].is_monotonic_increasing


def test_every_visit_is_feasible(guardian):
    _, resources, _, _ = guardian
    roster = plan(guardian, min_gap_minutes=60)
    assert len(roster.visits) > 2000
    assert_feasible(roster, resources, 60)
    # No leg between two visits is longer than its mode allows (units here have no base).
    for mode, rows in roster.visits.groupby("mode"):
        assert rows["travel_minutes"].max() <= resources.max_leg_minutes[mode]


def test_travel_from_a_base_and_back_fits_the_shift(guardian):
    hot, _, profiles, harm = guardian
    one = hot[hot["npu"] == hot["npu"].iloc[0]]
    base = [float(one["centroid_lon"].mean()) + 0.02, float(one["centroid_lat"].mean())]
    resources = PatrolResources.from_dict({"npu": [{"name": one["npu"].iloc[0], "funded_hours": 300, "unit": [
        unit_spec("B-1", "foot", {"daily": "16:00-20:00"}, base)]}]})
    roster = patrol_roster(one, resources, profiles[one.index], harm[one.index], start=PERIOD_START, seed=2)
    first = roster.visits.groupby("date").first()
    _, _, metres = GEOD.inv(np.full(len(first), base[0]), np.full(len(first), base[1]),
                            first["centroid_lon"].to_numpy(), first["centroid_lat"].to_numpy())
    walk = metres * resources.detour / (4.8 * 1000 / 60)
    starts = pd.to_datetime(first.index + " " + first["start"]).to_numpy()
    since_shift = (starts - pd.to_datetime(first.index + " 16:00").to_numpy()) / np.timedelta64(1, "m")
    assert (since_shift >= walk - 1).all()
    assert (first["travel_minutes"] >= np.floor(walk)).all()


def test_reproducible_by_seed_and_different_with_another(guardian):
    a, b, c = plan(guardian, seed=5), plan(guardian, seed=5), plan(guardian, seed=6)
    pd.testing.assert_frame_equal(a.visits, b.visits)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert not a.visits[["unit", "starts_at"]].equals(c.visits[["unit", "starts_at"]])


def test_start_times_follow_the_risk_profile():
    """With units always free, visit hours follow the profile (chi-square), and are clearly not flat."""
    rng = np.random.default_rng(0)
    n_h, days = 20, 112
    lon = -1.90 + rng.uniform(-0.02, 0.02, n_h)
    lat = 52.48 + rng.uniform(-0.01, 0.01, n_h)
    hot = pd.DataFrame({"hotspot_id": [f"HS-{i:04d}" for i in range(n_h)], "name": "x", "npu": "A",
                        "centroid_lon": lon, "centroid_lat": lat})
    hour = np.arange(168) % 24
    evening = np.exp(-0.5 * ((hour - 21) / 3.0) ** 2) + 0.05  # a strong evening peak
    profiles = np.array([evening * rng.uniform(0.5, 1.5, 168) for _ in range(n_h)])
    profiles /= profiles.sum(1, keepdims=True)
    resources = PatrolResources.from_dict({"npu": [{"name": "A", "funded_hours": 10_000, "unit": [
        unit_spec(f"V{k}", "vehicle", {"daily": "00:00-24:00"}) for k in range(n_h)]}]})
    roster = patrol_roster(hot, resources, profiles, np.ones(n_h), start=dt.date(2024, 1, 1), days=days, seed=3,
                           visits_per_day=1, min_gap_minutes=0, timezone="UTC")
    v = roster.visits
    assert len(v) == n_h * days
    h = v["hotspot_id"].str[3:].astype(int).to_numpy()
    weekday = pd.to_datetime(v["date"]).dt.day_of_week.to_numpy()
    rows = profiles[h].reshape(len(v), 7, 24)[np.arange(len(v)), weekday]
    expected = (rows / rows.sum(1, keepdims=True)).sum(0)
    observed = np.bincount(v["starts_at"].dt.hour, minlength=24)
    assert stats.chisquare(observed, expected).pvalue > 0.01
    assert stats.chisquare(observed, np.full(24, len(v) / 24)).pvalue < 1e-6


def test_start_times_are_not_repeated_day_to_day(guardian):
    v = plan(guardian).visits
    first = v.groupby(["hotspot_id", "date"])["start"].first().reset_index()
    minute = first["start"].str[:2].astype(int) * 60 + first["start"].str[3:].astype(int)
    first = first.assign(minute=minute.to_numpy())
    same, pairs, correlations = 0, 0, []
    for _, g in first.groupby("hotspot_id"):
        m = g["minute"].to_numpy()
        same += int((m[1:] == m[:-1]).sum())
        pairs += len(m) - 1
        assert g["minute"].nunique() >= 0.6 * len(g)
        correlations.append(np.corrcoef(m[1:], m[:-1])[0, 1])
    assert same / pairs < 0.05
    assert abs(np.nanmean(correlations)) < 0.15


def test_shortfall_is_reported_when_units_cannot_meet_the_dosage(guardian):
    hot, resources, profiles, harm = guardian
    scarce = PatrolResources.from_dict({"npu": [
        {"name": n.name, "funded_hours": 700, "unit": [unit_spec(f"S{i}", "foot", {"mon-fri": "18:00-20:00"})]}
        for i, n in enumerate(resources.npus)]})
    roster = plan(guardian, resources=scarce)
    d = roster.dosage
    assert (d["shortfall_minutes"] > 0).mean() > 0.9
    assert (d["planned_minutes"] + d["shortfall_minutes"] - d["target_minutes"]).abs().max() < 0.11
    assert any("fall more than 5% short" in w for w in roster.warnings)
    assert_feasible(roster, scarce, 60)


def test_control_hotspots_and_days_get_no_visits(guardian):
    hot, resources, _, _ = guardian
    clock = PeriodClock(PERIOD_START, 28, TZ)
    ids = hot["hotspot_id"].tolist()
    arms = pd.DataFrame({"hotspot_id": ids[:10] + [ids[10]] * 14,
                         "arm": ["control"] * 10 + ["control"] * 14,
                         "date": [""] * 10 + [(PERIOD_START + dt.timedelta(days=2 * k)).isoformat() for k in range(14)]})
    control = read_arms(arms, ids, clock)
    roster = plan(guardian, control=control)
    d = roster.dosage.set_index("hotspot_id")
    assert (d.loc[ids[:10], "planned_minutes"] == 0).all() and (d.loc[ids[:10], "arm"] == "control").all()
    assert d.loc[ids[10], "arm"] == "crossover" and d.loc[ids[10], "patrol_days"] == 14
    assert_feasible(roster, resources, 60, control)


def test_arms_errors_name_the_line():
    clock = PeriodClock(PERIOD_START, 28, TZ)
    with pytest.raises(HotspotsError, match="line 3: hotspot_id='HS-9999' is not in the hotspot set"):
        read_arms(pd.DataFrame({"hotspot_id": ["HS-0001", "HS-9999"], "arm": ["control", "control"]}), ["HS-0001"], clock)
    with pytest.raises(HotspotsError, match="arm='placebo' is not known"):
        read_arms(pd.DataFrame({"hotspot_id": ["HS-0001"], "arm": ["placebo"]}), ["HS-0001"], clock)


def test_shifts_keep_local_time_over_the_clock_change(guardian):
    """27 October 2024: clocks go back; a 14:00-22:00 shift is still 14:00-22:00 local (nine hours long that day? no: eight)."""
    hot, _, profiles, harm = guardian
    one = hot[hot["npu"] == hot["npu"].iloc[0]]
    resources = PatrolResources.from_dict({"npu": [{"name": one["npu"].iloc[0], "funded_hours": 400, "unit": [
        unit_spec("D-1", "vehicle", {"daily": "14:00-22:00"})]}]})
    roster = patrol_roster(one, resources, profiles[one.index], harm[one.index], start=dt.date(2024, 10, 21), seed=1)
    local = roster.visits["starts_at"].dt.tz_convert(TZ)
    assert ((local.dt.hour >= 14) & (local.dt.hour < 22)).all()
    assert {str(d) for d in local.dt.date} >= {"2024-10-26", "2024-10-27", "2024-10-28"}
    assert_feasible(roster, resources, 60, start=dt.date(2024, 10, 21))


@pytest.mark.parametrize(("kw", "message"), [
    ({"visit_minutes": 25}, "visit_minutes=25 must be 10 to 20"),
    ({"visits_per_day": 0}, "visits_per_day=0 must be at least 1"),
    ({"days": 0}, "days=0 must be 1 to 366"),
])
def test_bad_parameters_are_refused(guardian, kw, message):
    with pytest.raises(HotspotsError, match=message):
        plan(guardian, **kw)


def test_hotspots_without_an_npu_are_named(guardian):
    hot, resources, profiles, harm = guardian
    orphaned = hot.assign(npu=hot["npu"].where(hot.index > 1, None))
    roster = patrol_roster(orphaned, resources, profiles, harm, start=PERIOD_START, seed=1)
    assert any(hot["hotspot_id"].iloc[0] in w and "no NPU" in w for w in roster.warnings)
    assert (roster.dosage["planned_minutes"].iloc[:2] == 0).all()


def test_ample_resources_cover_every_npu(npus):
    assert [n.name for n in ample_resources(npus.names).npus] == npus.names
