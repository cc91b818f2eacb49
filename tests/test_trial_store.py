"""Registered allocations and GPS logs in the store (SQLite and PostgreSQL): versioned, append-only, audited."""

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from hotspots.core.errors import HotspotsError
from hotspots.services.trials import load_allocation, load_gps_log, save_allocation
from hotspots.services.weekly import save_set
from hotspots.store.audit import audit_events
from hotspots.store.trials import list_allocations, log_rejects, read_pings
from hotspots.trials.allocation import allocate


def stored_set(store, weeks):
    week = weeks[0]
    return save_set(store, week.hotspot_set, period_label=week.period_label, period_start=week.period_start,
                    period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage)


def allocation(weeks, design="blocked", seed=4):
    hot = weeks[0].hotspot_set.hotspots
    places = pd.DataFrame({"place_id": hot["hotspot_id"], "npu": hot["area_name"], "risk": hot["harm"]})
    return allocate(places, design, seed=seed, start=weeks[0].period_start, periods=4)


@pytest.mark.parametrize("design", ["blocked", "crossover"])
def test_allocations_round_trip_with_their_fingerprint(store, weeks, design):
    set_id = stored_set(store, weeks)
    alloc = allocation(weeks, design)
    aid = save_allocation(store, alloc, trial="guardian-2024", set_id=set_id, created_by="test:evaluator")
    back = load_allocation(store, aid)
    assert back.fingerprint == alloc.fingerprint and (back.treated == alloc.treated).all()
    assert back.design == design and back.start == alloc.start and back.issue["version"] == 1
    pd.testing.assert_frame_equal(back.places, alloc.places, check_dtype=False)


def test_a_new_version_needs_a_reason_and_is_audited(store, weeks):
    set_id = stored_set(store, weeks)
    save_allocation(store, allocation(weeks), trial="t", set_id=set_id, created_by="test:evaluator")
    with pytest.raises(HotspotsError, match="a new version needs reason "):
        save_allocation(store, allocation(weeks, seed=5), trial="t", set_id=set_id, created_by="test:evaluator")
    second = save_allocation(store, allocation(weeks, seed=5), trial="t", set_id=set_id, created_by="test:evaluator",
                             reason="two hotspots merged before the start")
    listing = list_allocations(store)
    assert listing["version"].tolist() == [2, 1] and load_allocation(store).issue["allocation_id"] == second
    events = audit_events(store, "allocation")
    assert events["action"].tolist() == ["allocation.register", "allocation.register"]
    assert json.loads(events["detail"].iloc[1])["reason"] == "two hotspots merged before the start"


@pytest.mark.parametrize("statement", [
    "UPDATE trial_allocations SET seed = 1",
    "DELETE FROM trial_allocations",
    "UPDATE patrol_pings SET lon = 0",
    "DELETE FROM patrol_pings",
])
def test_the_database_refuses_to_change_evidence(store, weeks, tmp_path, statement):
    save_allocation(store, allocation(weeks), trial="t", set_id=stored_set(store, weeks), created_by="test")
    log = tmp_path / "avl.csv"
    log.write_text("unit,timestamp,lon,lat\nA-1,2024-11-05T20:00:00Z,-1.89,52.48\n", encoding="utf-8")
    load_gps_log(store, log, loaded_by="test")
    with pytest.raises(DatabaseError, match="never changed"), store.engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert store.count("trial_allocations") == 1 and store.count("patrol_pings") == 1


def test_an_altered_allocation_is_refused(store, weeks):
    aid = save_allocation(store, allocation(weeks), trial="t", set_id=stored_set(store, weeks), created_by="test")
    # Only a hand edit outside hotspots can change it: drop the guard to simulate one.
    drop = ("DROP TRIGGER trial_allocations_no_update" if store.backend == "sqlite"
            else "DROP TRIGGER trial_allocations_append_only ON trial_allocations")
    with store.engine.begin() as conn:
        conn.execute(sa.text(drop))
        conn.execute(sa.text("UPDATE trial_allocations SET treated = replace(treated, '1', '0')"))
    with pytest.raises(HotspotsError, match="does not match its fingerprint"):
        load_allocation(store, aid)


def test_gps_logs_load_once_keep_rejects_and_skip_pings_already_stored(store, tmp_path):
    first = tmp_path / "day1.csv"
    first.write_text("unit,timestamp,lon,lat\n"
                     "A-1,2024-11-05T20:00:00Z,-1.89,52.48\n"
                     "A-1,2024-11-05T20:00:30Z,-1.89,52.48\n"
                     "A-1,not a time,-1.89,52.48\n", encoding="utf-8")
    got = load_gps_log(store, first, loaded_by="test")
    assert (got["loaded"], got["rejected"]) == (2, 1)
    assert log_rejects(store, got["batch_id"]).to_dict("records") == [
        {"line": 4, "reason": got["rejects"]["reason"].iloc[0], "raw": "A-1,not a time,-1.89,52.48"}]
    again = load_gps_log(store, first, loaded_by="test")
    assert again["already_loaded"] and store.count("patrol_pings") == 2
    overlap = tmp_path / "day1-again.csv"  # a second export overlapping the first
    overlap.write_text("unit,timestamp,lon,lat\n"
                       "A-1,2024-11-05T20:00:30Z,-1.89,52.48\n"
                       "A-1,2024-11-05T20:01:00Z,-1.89,52.48\n", encoding="utf-8")
    got = load_gps_log(store, overlap, loaded_by="test")
    assert (got["loaded"], got["already_stored"]) == (1, 1) and store.count("patrol_pings") == 3
    pings = read_pings(store, pd.Timestamp("2024-11-05", tz="UTC"), pd.Timestamp("2024-11-06", tz="UTC"))
    assert pings["at"].is_monotonic_increasing and str(pings["at"].dt.tz) == "UTC"
    assert audit_events(store, "patrol_log")["action"].tolist() == ["patrol_log.load", "patrol_log.load"]
