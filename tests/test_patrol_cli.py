"""``hotspots patrol`` as a tasking board meets it: plan, list, show, export, and one-line errors."""

import json

import pytest
from test_cli import hotspots

from hotspots.services.rosters import load_roster
from hotspots.services.weekly import save_set
from hotspots.store import open_store
from hotspots.store.audit import audit_events


def resources_toml(npu_names) -> str:
    parts = ["hotspot_share = 0.8\n"]
    for i, name in enumerate(npu_names):
        parts.append(f'[[npu]]\nname = "{name}"\nfunded_hours = 600\n')
        for k in range(5):
            mode = "foot" if k % 2 else "vehicle"
            parts.append(f'[[npu.unit]]\ncallsign = "N{i}-{k}"\nmode = "{mode}"\n'
                         'shifts = { "mon-thu" = "12:00-22:00", "fri-sat" = "16:00-02:00", "sun" = "12:00-20:00" }\n')
    return "\n".join(parts)


@pytest.fixture
def board(tmp_path, weeks, npus):
    """A folder with a store holding a force-wide set, the NPU boundaries and a resources file."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = open_store(url)
    week = weeks[0]
    save_set(store, week.hotspot_set, period_label=week.period_label, period_start=week.period_start,
             period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage)
    store.dispose()
    (tmp_path / "resources.toml").write_text(resources_toml(npus.names), encoding="utf-8")
    npus.frame.to_file(tmp_path / "npus.geojson")
    return tmp_path, url


def test_plan_list_show_export(board):
    folder, url = board
    common = ["--db", url]
    done = hotspots("patrol", "plan", "--resources", "resources.toml", "--npu-areas", "npus.geojson", "--seed", "3",
                    "--reason", "period 12", "--out", "out", *common, cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "roster 1 (version 1) issued for set 1, seed 3" in done.stdout and "Per hotspot" in done.stdout
    assert (folder / "out" / "roster-1.csv").exists() and (folder / "out" / "roster-1.json").exists()
    assert len(list((folder / "out" / "calendars").glob("*.ics"))) == 40
    assert len(list((folder / "out" / "briefings").glob("*-briefing.html"))) == 40
    again = hotspots("patrol", "plan", "--resources", "resources.toml", "--npu-areas", "npus.geojson", "--seed", "3",
                     *common, cwd=folder)
    assert "roster 2 (version 2)" in again.stdout
    listing = hotspots("patrol", "list", *common, cwd=folder)
    assert listing.returncode == 0 and "period 12" in listing.stdout
    shown = hotspots("patrol", "show", "1", *common, cwd=folder)
    assert shown.returncode == 0 and "seed 3" in shown.stdout and "(period 12)" in shown.stdout
    exported = hotspots("patrol", "export", "--roster", "1", "--format", "csv,json", "--out", "again", *common, cwd=folder)
    assert exported.returncode == 0 and "recorded in the audit log" in exported.stdout
    assert sorted(p.name for p in (folder / "again").iterdir()) == ["roster-1.csv", "roster-1.json"]
    store = open_store(url)
    # The same inputs and seed give the same roster: reissue 2 has the same fingerprint as 1.
    assert load_roster(store, 1).issue["fingerprint"] == load_roster(store, 2).issue["fingerprint"]
    events = audit_events(store, "roster")
    assert events["action"].tolist() == ["roster.issue", "roster.export", "roster.issue", "roster.export"]
    assert json.loads(events["detail"].iloc[-1])["formats"] == ["csv", "json"]
    doc = json.loads((folder / "again" / "roster-1.json").read_text(encoding="utf-8"))
    assert doc["roster"]["roster_id"] == 1 and len(doc["dosage"]) == len(load_roster(store, 1).dosage)
    store.dispose()


@pytest.mark.parametrize(("args", "message"), [
    (["--priority", "magic"], "priority='magic' is not known; use one of: harm, score, risk, equal"),
    (["--priority", "risk"], "--priority risk needs --scores"),
    (["--visit-minutes", "30"], "--visit-minutes=30 must be 10 to 20"),
    (["--format", "pdf"], "--format='pdf': use a comma-separated choice of csv, ics, html, json"),
    (["--set", "99"], "the store holds no hotspot set for set 99"),
    (["--arms", "missing.csv"], "--arms: no such file 'missing.csv'"),
])
def test_plan_errors_are_one_line(board, args, message):
    folder, url = board
    done = hotspots("patrol", "plan", "--resources", "resources.toml", *args, "--db", url, cwd=folder)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"error: {message}" or message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 3


def test_export_without_a_roster_is_a_clear_error(tmp_path):
    done = hotspots("patrol", "export", "--out", "x", cwd=tmp_path)
    assert done.returncode == 2 and "the store holds no rosters yet;" in done.stderr
    assert "issue one with 'hotspots patrol plan'" in done.stderr and "Traceback" not in done.stderr
