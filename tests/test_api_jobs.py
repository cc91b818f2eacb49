"""The API's longer jobs, as each user meets them: tasking boards issue rosters, evaluators measure dosage and
evaluate the trial, analysts train, backtest, compare, promote and forecast, commanders read coverage."""

import datetime as dt
import time
import tomllib

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from test_api import auth
from test_patrol_cli import resources_toml
from test_trial_cli import gps_log

from api.main import create_app
from hotspots.core.config import get_settings
from hotspots.ingest.files import IngestOptions
from hotspots.services.ingest import ingest_files
from hotspots.services.trials import save_allocation
from hotspots.services.weekly import load_set, save_set
from hotspots.store import open_store
from hotspots.store.audit import audit_events
from hotspots.store.jobs import create_job, get_job, interrupt_orphans, interrupt_worker, list_jobs, start_job
from hotspots.store.tokens import ROLES, add_token
from hotspots.synth import PatrolEffect, SynthParams, apply_patrol, generate, write_city
from hotspots.trials.allocation import allocate, places_from_set


@pytest.fixture(scope="module")
def trial_service(tmp_path_factory, weeks, npus, force_area):
    """A store with a set, a registered blocked allocation, and a year of incidents in which patrols of the
    treated places halved crime from the trial's start; a client and a token per role."""
    folder = tmp_path_factory.mktemp("api-jobs")
    url = f"sqlite:///{folder / 'store.sqlite'}"
    week = weeks[0]
    store = open_store(url)
    set_id = save_set(store, week.hotspot_set, period_label=week.period_label, period_start=week.period_start,
                      period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage)
    alloc = allocate(places_from_set(load_set(store), "harm"), "blocked", seed=5, start=week.period_start)
    save_allocation(store, alloc, trial="guardian-api", set_id=set_id, created_by="test:evaluator")
    members = week.hotspot_set.members
    patrolled = alloc.places.loc[alloc.treated[:, 0], "place_id"]
    city = generate(SynthParams(seed=3, incidents=30_000), force_area)
    first_day = (week.period_start - dt.date(2024, 1, 1)).days
    cells = tuple(members.loc[members["hotspot_id"].isin(patrolled), "h3_cell"])
    files = write_city(apply_patrol(city, PatrolEffect(cells=cells, reduction=0.5, first_day=first_day), seed=1),
                       folder / "incidents", "geoparquet")
    ingest_files(files, store, IngestOptions(force_area=force_area))
    tokens = {role: add_token(store, f"{role}-post", role, actor="test") for role in ROLES}
    tokens["limited"] = add_token(store, "one-npu-inspector", "commander", [npus.names[0]], actor="test")
    store.dispose()
    with TestClient(create_app(url), raise_server_exceptions=False) as client:
        yield client, tokens, url, members, folder, tomllib.loads(resources_toml(npus.names))


def wait_for(client, token, job_id, limit_s=300):
    """Poll a job until it ends; returns its last state and every progress share seen."""
    seen = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=auth(token)).json()
        seen.append(job["progress"])
        if job["status"] not in ("queued", "running"):
            return job, seen
        time.sleep(0.2)
    pytest.fail(f"job {job_id} did not end within {limit_s} s")


def test_tasking_issues_a_roster_that_honours_the_trial(trial_service):
    client, tokens, url, *_, resources = trial_service
    body = {"resources": resources, "allocation_id": 1, "seed": 3, "reason": "period 1"}
    made = client.post("/rosters", json=body, headers=auth(tokens["tasking"]))
    assert made.status_code == 201, made.text
    assert made.headers["Cache-Control"] == "no-store"
    roster = made.json()
    assert roster["set_id"] == 1 and roster["seed"] == 3 and roster["visits"] > 100
    assert roster["issued_by"] == "api:tasking-post" and roster["reason"] == "period 1"
    csv = client.get(f"/rosters/{roster['roster_id']}/download/csv", headers=auth(tokens["tasking"])).text
    visited = set(pd.read_csv(pd.io.common.StringIO(csv), comment="#")["hotspot_id"])
    alloc = client.get("/allocations/1", headers=auth(tokens["evaluator"])).json()
    controls = {p["place_id"] for p in alloc["places"] if p["arms"][0] == "control"}
    assert visited and not visited & controls  # control places get no targeted visits
    assert client.post("/rosters", json=body, headers=auth(tokens["evaluator"])).status_code == 403
    bad = client.post("/rosters", json={**body, "resources": {"npu": []}}, headers=auth(tokens["tasking"]))
    assert bad.status_code == 400 and "\n" not in bad.json()["detail"]
    issued = audit_events(open_store(url), "roster")
    assert issued.loc[issued["action"] == "roster.issue", "actor"].tolist() == ["api:tasking-post"]


def test_evaluators_get_dosage_and_the_evaluation(trial_service):
    client, tokens, url, members, folder, _ = trial_service
    if client.get("/rosters", headers=auth(tokens["tasking"])).json() == []:
        test_tasking_issues_a_roster_that_honours_the_trial(trial_service)
    pings = gps_log(url, members, folder / "avl.csv")
    with (folder / "avl.csv").open("rb") as fh:
        loaded = client.post("/patrol-logs", headers=auth(tokens["evaluator"]), files={"file": ("avl.csv", fh)})
    assert loaded.json()["loaded"] == pings
    dosage = client.get("/allocations/1/compliance", headers=auth(tokens["evaluator"]))
    assert dosage.status_code == 200, dosage.text
    doc = dosage.json()
    treated = [h for h in doc["hotspots"] if h["arm"] == "treatment"]
    controls = [h for h in doc["hotspots"] if h["arm"] == "control"]
    assert sum(h["delivered_visits"] for h in treated) > 0 and sum(h["delivered_visits"] for h in controls) == 0
    assert doc["summary"]["control_visits"] == 0 and 0 < doc["summary"]["koper_share"] <= 1
    assert all(h["planned_minutes"] is not None for h in treated)
    report = client.get("/allocations/1/evaluation?draws=200", headers=auth(tokens["evaluator"]))
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["fingerprint"] and body["reading"] and body["trial"]["allocation_id"] == 1
    assert body["fixed_effects"]["primary"]["irr"] < 0.8  # patrols halved crime in the treated places
    page = client.get("/allocations/1/evaluation?format=html&draws=200", headers=auth(tokens["evaluator"]))
    assert page.status_code == 200 and "<script" not in page.text and "<svg" in page.text
    assert "style-src 'unsafe-inline'" in page.headers["Content-Security-Policy"]
    events = audit_events(open_store(url), "allocation")
    assert events["action"].tolist()[-2:] == ["trial.evaluate"] * 2
    assert events["actor"].iloc[-1] == "api:evaluator-post"
    assert client.get("/allocations/1/compliance", headers=auth(tokens["analyst"])).status_code == 403
    assert client.get("/allocations/9/evaluation", headers=auth(tokens["evaluator"])).status_code == 404


def test_analysts_train_backtest_compare_promote_and_forecast(trial_service, monkeypatch):
    client, tokens, url, *_ = trial_service
    analyst = auth(tokens["analyst"])
    run = {"period": "month", "resolution": 8, "backtest_periods": 1}
    started = client.post("/jobs/train", json=run, headers=analyst)
    assert started.status_code == 202, started.text
    job, seen = wait_for(client, tokens["analyst"], started.json()["job_id"])
    assert job["status"] == "done", job["message"]
    assert seen == sorted(seen) and job["progress"] == 1.0
    first = job["result"]["version"]
    assert job["result"]["backtest"]["verdict"].startswith("The model")
    second = wait_for(client, tokens["analyst"],
                      client.post("/jobs/train", json={**run, "seed": 1}, headers=analyst).json()["job_id"])[0]
    assert second["status"] == "done", second["message"]
    backtest = wait_for(client, tokens["analyst"], client.post(
        "/jobs/backtest", json={"period": "month", "resolution": 8, "periods": 2}, headers=analyst).json()["job_id"])[0]
    assert backtest["status"] == "done" and len(backtest["result"]["summary"]) > 2
    listed = client.get("/jobs", headers=analyst).json()
    assert [j["kind"] for j in listed[:3]] == ["backtest", "train", "train"]
    models = client.get("/models", headers=analyst).json()
    assert {m["version"] for m in models} >= {first, second["result"]["version"]} and not any(m["promoted"] for m in models)
    compared = client.get(f"/models/compare?versions={first}&versions={second['result']['version']}", headers=analyst)
    assert compared.status_code == 200 and len(compared.json()["measures"]["pai@1.4%"]) == 2
    card = client.get(f"/models/{first}", headers=analyst).json()
    assert "features" in card and card["card"].startswith("#") and "Detection effect" in card["card"]
    assert client.post(f"/models/{first}/promote", json={"note": "beats KDE"}, headers=auth(tokens["tasking"])).status_code == 403
    promoted = client.post(f"/models/{first}/promote", json={"note": "beats KDE"}, headers=analyst)
    assert promoted.status_code == 200 and promoted.json()["promoted"]
    again = client.post(f"/models/{first}/promote", json={}, headers=analyst)
    assert again.status_code == 400 and "already" in again.json()["detail"]
    forecast = client.get("/forecasts?limit=5", headers=auth(tokens["commander"]))
    assert forecast.status_code == 200, forecast.text
    doc = forecast.json()
    assert doc["version"] == first and len(doc["cells"]) == 5 and doc["cells_scored"] > 5
    assert [c["rank"] for c in doc["cells"]] == [1, 2, 3, 4, 5]
    import api.routes.models as routes

    computed, real = [], routes.forecast_promoted
    monkeypatch.setattr(routes, "forecast_promoted", lambda *a, **k: computed.append(1) or real(*a, **k))
    assert client.get("/forecasts?limit=5", headers=auth(tokens["commander"])).json() == doc and computed == []
    client.post(f"/models/{second['result']['version']}/promote", json={"note": "newer"}, headers=analyst)
    newer = client.get("/forecasts?limit=5", headers=auth(tokens["commander"])).json()
    assert newer["version"] == second["result"]["version"] and computed == [1]  # a promotion is a new key
    client.post(f"/models/{first}/promote", json={"note": "back to the first"}, headers=analyst)
    assert client.get("/forecasts", headers=auth(tokens["evaluator"])).status_code == 403
    assert client.get("/models/999", headers=analyst).status_code == 404
    actions = audit_events(open_store(url), "model")["action"].tolist()
    assert actions == ["model.promote"] * 3
    assert audit_events(open_store(url), "job")["action"].tolist()[-3:] == ["job.train", "job.train", "job.backtest"]


def test_a_limited_commander_reads_forecasts_only_for_cells_in_their_npus(trial_service, npus, monkeypatch):
    """Without the NPU boundaries a limited commander is refused the force-wide forecast; with them, every
    cell returned lies in their NPU and the cells are ranked among themselves. Needs the promoted model
    of the test above."""
    client, tokens, *_ = trial_service
    refused = client.get("/forecasts", headers=auth(tokens["limited"]))
    assert refused.status_code == 403 and "HOTSPOTS_NPU_AREAS" in refused.json()["detail"]
    boundaries = trial_service[4] / "npus.geojson"
    npus.frame.to_file(boundaries, driver="GeoJSON")
    monkeypatch.setenv("HOTSPOTS_NPU_AREAS", str(boundaries))
    monkeypatch.setenv("HOTSPOTS_NPU_FIELD", "npu")
    get_settings.cache_clear()
    every = client.get("/forecasts?limit=200000", headers=auth(tokens["commander"])).json()
    mine = client.get("/forecasts?limit=200000", headers=auth(tokens["limited"]))
    assert mine.status_code == 200, mine.text
    cells = mine.json()["cells"]
    assert 0 < len(cells) == mine.json()["cells_scored"] < every["cells_scored"]
    names = npus.name_of(np.array([c["lon"] for c in cells]), np.array([c["lat"] for c in cells]))
    assert set(names) == {npus.names[0]}
    assert [c["rank"] for c in cells] == list(range(1, len(cells) + 1))


def test_a_job_that_fails_says_why_in_one_line(trial_service):
    client, tokens, *_ = trial_service
    refused = client.post("/jobs/train", json={"target": "Knitting"}, headers=auth(tokens["analyst"]))
    assert refused.status_code == 400 and "Knitting" in refused.json()["detail"]
    started = client.post("/jobs/backtest", json={"period": "week", "periods": 3, "cutoff": "2024-01-08"},
                          headers=auth(tokens["analyst"]))
    job, _ = wait_for(client, tokens["analyst"], started.json()["job_id"])
    assert job["status"] == "failed" and "too short to backtest" in job["message"] and "\n" not in job["message"]


def test_commanders_read_coverage_within_their_npus(trial_service):
    client, tokens, *_ = trial_service
    every = client.get("/hotspot-sets/1/coverage", headers=auth(tokens["commander"])).json()
    mine = client.get("/hotspot-sets/1/coverage", headers=auth(tokens["limited"])).json()
    measures = {m["measure"]: m for m in every["measures"]}
    assert 0 < measures["area (m²)"]["share"] < 0.05 and measures["area (m²)"]["pai"] == 1.0
    assert 0 < len(mine["hotspots"]) < len(every["hotspots"])
    assert [h["rank"] for h in every["hotspots"]] == sorted(h["rank"] for h in every["hotspots"])


def test_jobs_left_by_a_dead_or_stopping_worker_are_marked_interrupted(store):
    dead = create_job(store, "train", {"seed": 0}, actor="test")
    with store.engine.begin() as conn:  # a process of this host that no longer exists
        from hotspots.store.schema import jobs

        conn.execute(jobs.update().where(jobs.c.job_id == dead).values(worker=f"{_host()}:999999999"))
    live = create_job(store, "backtest", {}, actor="test")
    start_job(store, live)
    assert interrupt_orphans(store) == 1
    assert get_job(store, dead)["status"] == "interrupted" and get_job(store, live)["status"] == "running"
    assert interrupt_worker(store, get_job(store, live)["worker"]) == 1
    from hotspots.store.jobs import finish_job

    finish_job(store, live, {"version": 1}, "done")  # too late: the stop already marked it
    assert get_job(store, live)["status"] == "interrupted"
    assert list_jobs(store)["status"].tolist() == ["interrupted", "interrupted"]


def _host():
    import socket

    return socket.gethostname()[:60]
