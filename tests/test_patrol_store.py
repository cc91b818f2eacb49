"""Issued rosters in the store (SQLite and PostgreSQL) and the files tasking boards download."""

import csv
import io
import json

import icalendar
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError
from test_patrol_roster import plan

from hotspots.patrol.exports import neutralise, roster_document, unit_calendar, visits_table, write_csv, write_ics
from hotspots.services.rosters import load_roster, save_roster
from hotspots.services.weekly import save_set
from hotspots.store.audit import audit_events
from hotspots.store.rosters import list_rosters
from maps.briefing import write_briefings


@pytest.fixture(scope="module")
def roster(guardian):
    return plan(guardian, seed=21)


def stored(store, weeks, roster):
    week = weeks[0]
    set_id = save_set(store, week.hotspot_set, period_label=week.period_label, period_start=week.period_start,
                      period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage)
    return set_id, save_roster(store, roster, set_id=set_id, issued_by="test:tasking", reason="first issue",
                               resources={"npu": []})


def test_rosters_round_trip_and_reissue_as_new_versions(store, weeks, roster):
    set_id, rid = stored(store, weeks, roster)
    again = save_roster(store, roster, set_id=set_id, issued_by="test:tasking", reason="a unit went sick")
    back = load_roster(store, rid)
    assert back.fingerprint == roster.fingerprint
    pd.testing.assert_frame_equal(back.visits, roster.visits, check_dtype=False)
    pd.testing.assert_frame_equal(back.dosage.reset_index(drop=True), roster.dosage.reset_index(drop=True),
                                  check_dtype=False, atol=0.05)
    assert back.warnings == roster.warnings and len(back.units) == len(roster.units)
    listing = list_rosters(store)
    assert listing["roster_id"].tolist() == [again, rid] and listing["version"].tolist() == [2, 1]
    assert listing["visits"].tolist() == [len(roster.visits)] * 2
    assert load_roster(store).issue["roster_id"] == again and back.issue["reason"] == "first issue"
    events = audit_events(store, "roster")
    assert events["action"].tolist() == ["roster.issue", "roster.issue"]
    assert json.loads(events["detail"].iloc[1])["reason"] == "a unit went sick"


@pytest.mark.parametrize("statement", [
    "UPDATE roster_visits SET unit = 'X' WHERE visit_no = 1",
    "DELETE FROM roster_visits",
    "UPDATE rosters SET seed = 1",
    "DELETE FROM roster_dosage",
    "UPDATE audit_log SET actor = 'someone else'",
    "DELETE FROM audit_log",
])
def test_the_database_refuses_to_change_an_issued_roster(store, weeks, roster, statement):
    stored(store, weeks, roster)
    with pytest.raises(DatabaseError, match="never changed"), store.engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert store.count("roster_visits") == len(roster.visits)


def test_a_failed_issue_leaves_nothing(store, weeks, roster):
    set_id, _ = stored(store, weeks, roster)
    bad = type(roster)(visits=roster.visits.assign(unit=None), dosage=roster.dosage, units=roster.units,
                       npus=roster.npus, parameters=dict(roster.parameters), warnings=[])
    with pytest.raises(sa.exc.IntegrityError):
        save_roster(store, bad, set_id=set_id, issued_by="test", reason="")
    assert len(list_rosters(store)) == 1 and len(audit_events(store)) == 1


def test_csv_has_one_row_per_visit_and_neutralises_formulas(tmp_path, roster):
    hostile = roster.visits.assign(hotspot_name="=HYPERLINK(\"http://evil\")")
    evil = type(roster)(hostile, roster.dosage, roster.units, roster.npus, roster.parameters)
    path = write_csv(evil, tmp_path / "r.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# OFFICIAL-SENSITIVE")
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
    assert len(rows) == len(roster.visits)
    assert rows[0]["hotspot_name"].startswith("'=")
    assert {"date", "start", "end", "unit", "hotspot_id", "hotspot_name", "centroid_lon", "centroid_lat"} <= set(rows[0])
    assert neutralise("-1+1") == "'-1+1" and neutralise("Broad Street") == "Broad Street" and neutralise(3) == 3
    assert visits_table(roster)["starts_at_utc"].str.endswith("Z").all()


def test_icalendar_per_unit_parses_with_every_visit(tmp_path, roster):
    paths = write_ics(roster, tmp_path)
    assert len(paths) == roster.visits["unit"].nunique()
    unit = roster.visits["unit"].iloc[0]
    raw = unit_calendar(roster, unit)
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # RFC 5545 folds long lines
    events = icalendar.Calendar.from_ical(raw).walk("VEVENT")
    mine = roster.visits[roster.visits["unit"] == unit]
    assert len(events) == len(mine)
    starts = sorted(e.decoded("dtstart") for e in events)
    assert starts == sorted(mine["starts_at"].dt.to_pydatetime())
    assert len({str(e["uid"]) for e in events}) == len(events)


def test_json_document_holds_everything(roster):
    doc = json.loads(json.dumps(roster_document(roster)))
    assert doc["marking"] == "OFFICIAL-SENSITIVE" and doc["roster"]["seed"] == 21
    assert len(doc["visits"]) == len(roster.visits) and len(doc["dosage"]) == len(roster.dosage)
    assert doc["visits"][0]["starts_at"].endswith("Z")


def test_briefings_have_a_page_per_unit_day_with_a_map_and_no_network(tmp_path, roster, weeks):
    hs = weeks[0].hotspot_set
    paths = write_briefings(roster, dict(zip(hs.hotspots["hotspot_id"], hs.hotspots["geofence"], strict=True)), tmp_path)
    assert paths[0].name.endswith("briefings.html") and len(paths) == 1 + roster.visits["unit"].nunique()
    unit = sorted(roster.visits["unit"].unique())[0]
    page = next(p for p in paths if f"-{unit}-" in p.name).read_text(encoding="utf-8")
    days = roster.visits.loc[roster.visits["unit"] == unit, "date"].nunique()
    assert page.count('<section class="page">') == days and page.count("<svg") == days
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert "<script" not in page and "OFFICIAL-SENSITIVE" in page


def test_exports_are_audited_before_any_byte_is_written(store, weeks, roster, tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import hotspots.services.rosters as service
    from hotspots.core.errors import NotReadyError
    from hotspots.services.rosters import export_roster

    _, rid = stored(store, weeks, roster)
    issued, hs = load_roster(store, rid), weeks[0].hotspot_set
    seen = []

    def csv_after_audit(r, path):
        seen.append("roster.export" in audit_events(store, "roster", rid)["action"].tolist())
        return write_csv(r, path)

    monkeypatch.setattr(service, "write_roster_csv", csv_after_audit)
    written = export_roster(store, issued, hs, tmp_path / "ok", ["csv", "json"], "test:tasking")
    assert seen == [True] and len(written) == 2
    # The store refuses the audit row (locked, unreachable): one clear error, and no file at all.
    def refuse(*args, **kwargs):
        raise OperationalError("INSERT INTO audit_log", {}, Exception("database is locked"))

    monkeypatch.setattr(service, "record", refuse)
    with pytest.raises(NotReadyError, match="could not be recorded in the audit log .*database is locked.*nothing "
                                           "was written"):
        export_roster(store, issued, hs, tmp_path / "refused", ["csv", "ics", "html", "json"], "test:tasking")
    assert not (tmp_path / "refused").exists()
