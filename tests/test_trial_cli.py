"""``hotspots trial`` as an evaluator meets it: allocate, plan power, roster, load GPS, evaluate, one-line errors."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from test_cli import hotspots
from test_patrol_cli import resources_toml

from hotspots.geo import cells as h3cells
from hotspots.services.rosters import load_roster
from hotspots.services.weekly import save_set
from hotspots.store import open_store
from hotspots.store.audit import audit_events
from hotspots.synth import PatrolEffect, SynthParams, apply_patrol, generate, write_city


def _ok(done):
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def trial_folder(tmp_path_factory, weeks, npus, force_area):
    """A store with a registered allocation, a roster honouring it, and incidents in which patrols halved crime."""
    folder = tmp_path_factory.mktemp("trial")
    url = f"sqlite:///{folder / 'store.sqlite'}"
    week = weeks[0]
    store = open_store(url)
    save_set(store, week.hotspot_set, period_label=week.period_label, period_start=week.period_start,
             period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage)
    store.dispose()
    (folder / "resources.toml").write_text(resources_toml(npus.names), encoding="utf-8")
    npus.frame.to_file(folder / "npus.geojson")
    done = _ok(hotspots("trial", "allocate", "--name", "guardian-24", "--seed", "5", "--out", "arms.csv",
                        "--db", url, cwd=folder))
    assert "allocation 1 ('guardian-24' version 1) registered for set 1, seed 5: blocked design" in done.stdout
    arms = pd.read_csv(folder / "arms.csv")
    patrolled = arms.loc[arms["arm"] == "treatment", "hotspot_id"]
    members = week.hotspot_set.members
    # The city the set was drawn from (the session's seed-3 year), with patrols halving crime from the start.
    city = generate(SynthParams(seed=3, incidents=30_000), force_area)
    first_day = (week.period_start - dt.date(2024, 1, 1)).days
    cells = tuple(members.loc[members["hotspot_id"].isin(patrolled), "h3_cell"])
    write_city(apply_patrol(city, PatrolEffect(cells=cells, reduction=0.5, first_day=first_day), seed=1),
               folder / "incidents", "geoparquet")
    _ok(hotspots("ingest", "incidents", "--db", url, cwd=folder))
    _ok(hotspots("patrol", "plan", "--resources", "resources.toml", "--npu-areas", "npus.geojson", "--seed", "3",
                 "--arms", "arms.csv", "--db", url, cwd=folder))
    return folder, url, members


def gps_log(store_url, members, path):
    """Pings every 30 s at a member cell of each visited hotspot, for the roster's first 120 visits, plus junk."""
    roster = load_roster(open_store(store_url), 1)
    first_cell = members.groupby("hotspot_id")["h3_cell"].first()
    rows = []
    for v in roster.visits.head(120).itertuples():
        lon, lat = h3cells.cell_centres(h3cells.from_strings([first_cell[v.hotspot_id]]))
        for k in range(0, 15 * 60, 30):
            rows.append((v.unit, (v.starts_at + pd.Timedelta(seconds=k)).isoformat(), float(lon[0]), float(lat[0])))
    frame = pd.DataFrame(rows, columns=["unit", "timestamp", "lon", "lat"])
    frame = pd.concat([frame, pd.DataFrame([("X-9", "soon", 0.0, 0.0), ("", "2024-11-05T20:00:00Z", -1.9, 52.5)],
                                           columns=frame.columns)])
    frame.to_csv(path, index=False)
    return len(rows)


def test_power_dosage_evaluate_list(trial_folder):
    folder, url, members = trial_folder
    common = ["--db", url]
    power = _ok(hotspots("trial", "power", "--reduction", "0.2", "--reduction", "0.5", "--weeks", "4,8", *common,
                         cwd=folder))
    assert "over-dispersion" in power.stdout and "50% reduction: 80% power needs" in power.stdout
    pings = gps_log(url, members, folder / "avl.csv")
    dosage = _ok(hotspots("trial", "dosage", "--gps", "avl.csv", "--rejects", "rejects.csv", "--out", "compliance.csv",
                          *common, cwd=folder))
    assert f"{pings:,} pings stored" in dosage.stdout and "2 rejected" in dosage.stdout
    assert (pd.read_csv(folder / "rejects.csv")["line"] == [pings + 2, pings + 3]).all()
    table = pd.read_csv(folder / "compliance.csv")
    assert (table.loc[table["arm"] == "control", "delivered_visits"] == 0).all()  # the roster honoured the arms
    assert table["delivered_visits"].sum() == 120 and table["koper_share"].dropna().eq(1.0).all()
    again = _ok(hotspots("trial", "dosage", "--gps", "avl.csv", *common, cwd=folder))
    assert "loaded before" in again.stdout
    done = _ok(hotspots("trial", "evaluate", "--out", "report", "--draws", "999", *common, cwd=folder))
    assert "report written to" in done.stdout and "fewer crimes" in done.stdout
    doc = json.loads((folder / "report" / "trial-guardian-24-v1-count.json").read_text(encoding="utf-8"))
    primary = doc["fixed_effects"]["primary"]
    assert primary["irr_ci"][1] < 1 and 0.3 < primary["irr"] < 0.75  # halved in patrolled places, diluted by
    assert doc["randomisation"]["p"] <= 0.01 and doc["randomisation"]["draws"] == 999  # offspring crimes
    assert doc["fingerprint"] == doc["trial"]["fingerprint"] and doc["compliance"]["control_visits"] == 0
    assert {r["ring"] for r in doc["displacement"]["rings"]} == {1, 2}
    html = (folder / "report" / "trial-guardian-24-v1-count.html").read_text(encoding="utf-8")
    assert doc["fingerprint"] in html and "<svg" in html and "<script" not in html
    harm = _ok(hotspots("trial", "evaluate", "--out", "report", "--outcome", "harm", "--draws", "200", *common,
                        cwd=folder))
    assert "harm" in harm.stdout
    listing = _ok(hotspots("trial", "list", *common, cwd=folder))
    assert "guardian-24" in listing.stdout
    actions = audit_events(open_store(url))["action"].tolist()
    assert actions.count("allocation.register") == 1 and actions.count("patrol_log.load") == 1
    assert actions.count("trial.evaluate") == 2


@pytest.mark.parametrize(("args", "message"), [
    (["allocate", "--name", "x", "--design", "stepped"], "design='stepped' is not known; use one of: simple, blocked"),
    (["allocate", "--name", "x", "--strata", "ward"], "strata='ward' is not known"),
    (["evaluate", "--out", "r", "--outcome", "joy"], "--outcome='joy' is not known; use one of: count, harm"),
    (["evaluate", "--out", "r", "--allocation", "9"], "the store holds no allocation 9"),
    (["power", "--reduction", "1.5"], "reduction=1.5 must be a fraction"),
])
def test_errors_are_one_line(trial_folder, args, message):
    folder, url, _ = trial_folder
    done = hotspots("trial", *args, "--db", url, cwd=folder)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 3


def test_evaluate_on_an_empty_store_says_what_to_do(tmp_path):
    done = hotspots("trial", "evaluate", "--out", "r", cwd=tmp_path)
    assert done.returncode == 2 and "register one with 'hotspots trial allocate'" in done.stderr


def test_gps_pings_for_unknown_places_are_not_visits(trial_folder):
    # Sanity of the fixture's geography: member cells belong to exactly one hotspot.
    _, _, members = trial_folder
    assert not members["h3_cell"].duplicated().any() and np.unique(members["hotspot_id"]).size > 10
