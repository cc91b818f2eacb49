"""The weekly cycle on a controllable clock: one set per week, one roster draft per tactical period,
catch-up after downtime, and no duplicates when two workers run it at the same moment."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest

from hotspots.core.config import SHIPPED_DATA, get_settings
from hotspots.core.errors import ValidationError
from hotspots.ingest.files import IngestOptions
from hotspots.services.ingest import ingest_files
from hotspots.services.schedule import ROSTER_DRAFT, WEEKLY_SET, WeeklyTime, issue_draft, run_due
from hotspots.store.audit import audit_events
from hotspots.store.hotspot_sets import list_sets
from hotspots.store.rosters import list_rosters
from hotspots.store.schedule import list_runs
from hotspots.synth import SynthParams, generate, write_city

LONDON = ZoneInfo("Europe/London")


def at(day: str, hhmm: str = "06:00") -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(hhmm), LONDON)


@pytest.fixture(scope="module")
def city_files(tmp_path_factory, force_area):
    """A synthetic 2024 as files (the same for both stores)."""
    folder = tmp_path_factory.mktemp("city")
    return write_city(generate(SynthParams(seed=5, incidents=8_000), force_area), folder, "geoparquet")


@pytest.fixture
def cycle(store, city_files, force_area, monkeypatch):
    """A store holding the synthetic year, with the weekly cycle configured (Monday 06:00, demo resources)."""
    ingest_files(city_files, store, IngestOptions(force_area=force_area))
    monkeypatch.setenv("HOTSPOTS_SCHEDULE_WEEKLY", "MON 06:00")
    monkeypatch.setenv("HOTSPOTS_SCHEDULE_RESOURCES", str(SHIPPED_DATA / "patrol" / "demo_resources.toml"))
    monkeypatch.setenv("HOTSPOTS_H3_RESOLUTION", "9")  # the schedule's cells: coarser keeps the test quick
    get_settings.cache_clear()
    return store


def _weeks(store):
    return sorted(list_runs(store, WEEKLY_SET, newest=100)["period_label"])


@pytest.mark.slow
def test_one_set_per_week_with_catch_up_after_downtime(cycle, force_area):
    store = cycle
    # First start, Monday 05:59: last week's run was missed (the service was not running), so it runs now.
    assert run_due(store, at("2024-11-04", "05:59"), force_area, worker="w1")[0].startswith(f"{WEEKLY_SET} 2024-10-28")
    assert run_due(store, at("2024-11-04", "06:00"), force_area, worker="w1")[0].startswith(f"{WEEKLY_SET} 2024-11-04")
    for later in (at("2024-11-04", "07:00"), at("2024-11-06", "12:00"), at("2024-11-11", "05:59")):
        assert not [d for d in run_due(store, later, force_area, worker="w1") if d.startswith(WEEKLY_SET)]
    # Down for two weeks: on Wednesday of the third, only that week's set is made, not the missed ones.
    run_due(store, at("2024-11-27", "09:30"), force_area, worker="w2")
    assert _weeks(store) == ["2024-10-28..2024-11-03", "2024-11-04..2024-11-10", "2024-11-25..2024-12-01"]
    runs = list_runs(store, WEEKLY_SET)
    assert set(runs["status"]) == {"done"} and runs["set_id"].notna().all()
    assert len(list_sets(store)) == 3
    assert (audit_events(store, "scheduled_run")["action"] == f"schedule.{WEEKLY_SET}").sum() == 3


@pytest.mark.slow
def test_one_roster_draft_per_tactical_period_issued_once(cycle, force_area):
    store = cycle
    run_due(store, at("2024-11-04"), force_area, worker="w1")  # a set first: drafts roster the latest set
    for moment in (at("2024-11-05"), at("2024-11-20"), at("2024-12-01", "23:59"), at("2024-12-02", "00:01"),
                   at("2024-12-03")):
        run_due(store, moment, force_area, worker="w1")
    drafts = list_runs(store, ROSTER_DRAFT)
    # Tactical periods run 28 days from 2024-01-01: 2024-11-04..12-01, then 2024-12-02..12-29.
    assert sorted(drafts["period_label"]) == ["2024-11-04..2024-12-01", "2024-12-02..2024-12-29"]
    assert set(drafts["status"]) == {"waiting"} and drafts["seed"].notna().all()
    waiting = drafts.iloc[0]
    roster, _ = issue_draft(store, int(waiting["run_id"]), actor="test:tasking")
    assert roster.parameters["seed"] == int(waiting["seed"]) and str(roster.parameters["start"]) == "2024-12-02"
    assert list_runs(store, ROSTER_DRAFT, status="issued")["roster_id"].tolist() == [roster.issue["roster_id"]]
    with pytest.raises(ValidationError, match="can be issued once"):
        issue_draft(store, int(waiting["run_id"]), actor="test:tasking")
    assert len(list_rosters(store)) == 1


@pytest.mark.slow
def test_two_workers_at_the_same_moment_make_one_set_and_one_draft(cycle, force_area):
    store = cycle
    moment = at("2024-11-11", "06:00")
    done, start = [], threading.Barrier(2)

    def worker(name):
        start.wait()
        done.extend(run_due(store, moment, force_area, worker=name))

    threads = [threading.Thread(target=worker, args=(f"host-{i}:1",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(list_sets(store)) == 1 and len(list_runs(store, WEEKLY_SET)) == 1
    assert len(list_runs(store, ROSTER_DRAFT)) == 1
    assert sorted(d.split(":")[0] for d in done) == sorted([f"{WEEKLY_SET} 2024-11-11..2024-11-17",
                                                             f"{ROSTER_DRAFT} 2024-11-04..2024-12-01"])


def test_the_weekly_time_is_read_and_checked():
    monday = WeeklyTime.parse("mon 06:00", "Europe/London")
    assert monday.latest(at("2024-11-06", "12:00")) == at("2024-11-04", "06:00")
    assert monday.latest(at("2024-11-04", "05:59")) == at("2024-10-28", "06:00")
    assert WeeklyTime.parse("Sunday 23:30", "Europe/London").latest(at("2024-11-04")) == at("2024-11-03", "23:30")
    for bad in ("06:00", "MON 6", "XYZ 06:00", "MON 25:00"):
        with pytest.raises(ValidationError, match="schedule_weekly="):
            WeeklyTime.parse(bad, "Europe/London")


def test_nothing_runs_unless_configured(store, force_area):
    assert run_due(store, at("2024-11-04"), force_area, worker="w1") == []
    assert list_runs(store).empty
