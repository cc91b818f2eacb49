"""The API in process (TestClient) on both stores, and as a real server on 127.0.0.1: roles, audit, headers."""

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from damage import FILE_KINDS, ROW_KINDS, damaged_file
from test_patrol_roster import plan

from api.deps import get_store
from api.main import create_app
from hotspots.ingest.files import IngestOptions
from hotspots.services.ingest import ingest_files
from hotspots.services.rosters import save_roster
from hotspots.services.trials import save_allocation
from hotspots.services.weekly import save_set
from hotspots.store import open_store
from hotspots.store.audit import audit_events
from hotspots.store.tokens import ROLES, add_token, revoke_token
from hotspots.synth import SynthParams, generate, write_city
from hotspots.trials.allocation import allocate

ROUTES = {  # route -> roles that may call it (admin may call everything)
    "/hotspot-sets": {"commander", "analyst", "tasking", "evaluator"},
    "/engagement-plans": {"commander", "analyst", "tasking", "evaluator"},
    "/engagement-plans/flags": {"commander", "analyst", "tasking", "evaluator"},
    "/returns/2024Q4": {"commander", "analyst"},
    "/detection-effect": {"analyst", "evaluator"},
    "/hotspot-sets/1/geojson": {"commander", "analyst", "tasking", "evaluator"},
    "/hotspot-sets/1/coverage": {"commander", "analyst", "tasking", "evaluator"},
    "/jobs": {"analyst"},
    "/models": {"analyst"},
    "/rosters": {"tasking"},
    "/rosters/1/download/csv": {"tasking"},
    "/allocations": {"evaluator"},
    "/allocations/1": {"evaluator"},
    "/audit": set(),
}


def fill(store, weeks, guardian):
    """A set, an issued roster, a registered allocation, and a token per role (plus a limited commander)."""
    week = weeks[0]
    set_id = save_set(store, week.hotspot_set, period_label=week.period_label, period_start=week.period_start,
                      period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage)
    save_roster(store, plan(guardian, seed=5, days=7), set_id=set_id, issued_by="test:tasking", reason="api test")
    hot = week.hotspot_set.hotspots
    alloc = allocate(pd.DataFrame({"place_id": hot["hotspot_id"], "npu": hot["area_name"], "risk": hot["harm"]}),
                     "blocked", seed=3, start=week.period_start)
    save_allocation(store, alloc, trial="api-trial", set_id=set_id, created_by="test:evaluator")
    tokens = {role: add_token(store, f"{role}-post", role, actor="test") for role in ROLES}
    npu = hot["area_name"].dropna().iloc[0]
    tokens["limited"] = add_token(store, "one-npu-inspector", "commander", [npu], actor="test")
    return tokens, npu


@pytest.fixture(scope="module")
def served(tmp_path_factory, weeks, guardian, force_area):
    """A SQLite store with the set's own synthetic year loaded (the map rebuilds its surface from it)."""
    folder = tmp_path_factory.mktemp("api")
    url = f"sqlite:///{folder / 'store.sqlite'}"
    store = open_store(url)
    tokens, npu = fill(store, weeks, guardian)
    files = write_city(generate(SynthParams(seed=3, incidents=30_000), force_area), folder / "city", "geoparquet")
    ingest_files(files, store, IngestOptions(force_area=force_area))
    store.dispose()
    with TestClient(create_app(url, docs=True), raise_server_exceptions=False) as client:
        yield client, tokens, npu, url


def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_only_what_its_job_needs(served, route, role):
    client, tokens, _, _ = served
    done = client.get(route, headers=auth(tokens[role]))
    allowed = role == "admin" or role in ROUTES[route]
    assert done.status_code == (200 if allowed else 403), done.text
    if not allowed:
        assert "may not do this" in done.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer hs_not-a-token"}, {"Authorization": "Basic eDp5"}])
def test_no_or_bad_token_is_401(served, headers):
    client, _, _, _ = served
    done = client.get("/hotspot-sets", headers=headers)
    assert done.status_code == 401 and done.headers["WWW-Authenticate"] == "Bearer"


def test_a_limited_commander_reads_only_their_npus_plans_and_map_layers(served):
    """Object level: plans of other NPUs' hotspots, and the map's dropped hotspots, incidents and surface
    outside their hotspots, are not in what a commander limited to one NPU reads."""
    client, tokens, npu, _ = served
    doc = client.get("/hotspot-sets/1/geojson", headers=auth(tokens["commander"])).json()
    inside = next(f["properties"]["hotspot_id"] for f in doc["features"] if f["properties"]["area_name"] == npu)
    outside = next(f["properties"]["hotspot_id"] for f in doc["features"] if f["properties"]["area_name"] != npu)
    for hotspot in (inside, outside):
        change = {"status": "drafted", "notes": f"plan of {hotspot}"}
        assert client.put(f"/engagement-plans/{hotspot}", json=change,
                          headers=auth(tokens["commander"])).status_code == 200
    mine = {p["hotspot_id"] for p in client.get("/engagement-plans", headers=auth(tokens["limited"])).json()}
    assert inside in mine and outside not in mine
    assert client.get(f"/engagement-plans?hotspot_id={outside}", headers=auth(tokens["limited"])).json() == []
    everyone = {p["hotspot_id"] for p in client.get("/engagement-plans", headers=auth(tokens["commander"])).json()}
    assert {inside, outside} <= everyone
    whole = client.get("/hotspot-sets/1/map", headers=auth(tokens["commander"])).text
    limited = client.get("/hotspot-sets/1/map", headers=auth(tokens["limited"])).text
    assert outside in whole and outside not in limited and inside in limited

    def incidents(page):
        return int(re.search(r"Incidents last period \((\d+)\)", page).group(1))

    assert incidents(limited) < incidents(whole)


#: A value for each path parameter of the API, naming objects the served store holds.
PATH_VALUES = {"set_id": "1", "allocation_id": "1", "roster_id": "1", "version": "1", "job_id": "1", "fmt": "csv",
               "unit": "A1", "quarter": "2024Q4", "hotspot_id": "HS-0001"}


def test_object_level_every_read_a_limited_commander_can_make_holds_only_their_npu(served):
    """Every GET route of the OpenAPI document, as a commander limited to one NPU: each answers 200,
    403 (not their role) or 409 (nothing to serve yet), and no 200 names a hotspot outside the NPU,
    in the body or in any engagement plan, map layer or coverage row it carries."""
    client, tokens, npu, _ = served
    doc = client.get("/hotspot-sets/1/geojson", headers=auth(tokens["commander"])).json()
    outside = {f["properties"]["hotspot_id"] for f in doc["features"] if f["properties"]["area_name"] != npu}
    inside = {f["properties"]["hotspot_id"] for f in doc["features"]} - outside
    for hotspot in sorted(outside | inside)[:6]:  # plans exist for hotspots of both kinds
        client.put(f"/engagement-plans/{hotspot}", json={"status": "drafted"}, headers=auth(tokens["commander"]))
    paths = [path for path, ops in client.get("/openapi.json").json()["paths"].items() if "get" in ops]
    answered = {}
    for path in paths:
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        done = client.get(url, headers=auth(tokens["limited"]))
        answered[path] = done.status_code
        assert done.status_code in (200, 403, 409), (path, done.text)
        if done.status_code == 200:
            named = set(re.findall(r"HS-\d{4,}", done.text))
            assert not named & outside, (path, sorted(named & outside))
    assert {p for p, code in answered.items() if code == 200} >= {
        "/hotspot-sets", "/engagement-plans", "/hotspot-sets/{set_id}/geojson", "/hotspot-sets/{set_id}/coverage",
        "/hotspot-sets/{set_id}/map"}
    assert answered["/forecasts"] in (403, 409) and answered["/rosters"] == answered["/allocations"] == 403


def test_api_docs_are_off_unless_asked_for(store_url):
    """By default only /health and /ready answer without a token: no route map for anyone who can reach it."""
    with TestClient(create_app(store_url)) as client:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert client.get(path).status_code == 404, path
    with TestClient(create_app(store_url, docs=True)) as client:
        assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200


def test_health_needs_no_token_and_says_nothing_more(served):
    client, _, _, _ = served
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready", "backend": "sqlite"}


def test_a_limited_commander_sees_only_their_npu(served):
    client, tokens, npu, _ = served
    every = client.get("/hotspot-sets/1/geojson", headers=auth(tokens["commander"])).json()
    mine = client.get("/hotspot-sets/1/geojson", headers=auth(tokens["limited"])).json()
    assert 0 < len(mine["features"]) < len(every["features"])
    assert {f["properties"]["area_name"] for f in mine["features"]} == {npu}
    assert every["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert every["properties"]["set_id"] == 1


def test_roster_downloads_are_not_cached_and_are_audited(served):
    client, tokens, _, url = served
    done = client.get("/rosters/1/download/csv", headers=auth(tokens["tasking"]))
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    assert done.text.startswith("# OFFICIAL-SENSITIVE") and "attachment" in done.headers["Content-Disposition"]
    unit = pd.read_csv(io.StringIO(done.text), comment="#")["unit"].iloc[0]
    ics = client.get(f"/rosters/1/calendars/{unit}", headers=auth(tokens["tasking"]))
    assert ics.status_code == 200 and ics.text.startswith("BEGIN:VCALENDAR")
    assert client.get("/rosters/1/calendars/NOBODY", headers=auth(tokens["tasking"])).status_code == 404
    events = audit_events(open_store(url), "roster")
    downloads = events[events["action"] == "roster.download"]
    assert downloads["actor"].tolist()[-2:] == ["api:tasking-post"] * 2
    assert json.loads(downloads["detail"].iloc[-1]) == {"format": "ics", "unit": unit}
    assert json.loads(downloads["detail"].iloc[-2]) == {"format": "csv"}
    listed = client.get("/audit?object_type=roster", headers=auth(tokens["admin"])).json()
    assert listed[0]["action"] == "roster.download" and listed[0]["detail"]["unit"] == unit


def test_errors_are_clear_and_never_leak_internals(served):
    client, tokens, _, _ = served
    missing = client.get("/rosters/999/download/csv", headers=auth(tokens["tasking"]))
    assert missing.status_code == 404 and missing.json()["detail"].startswith("the store holds no roster 999")
    assert client.get("/rosters/1/download/pdf", headers=auth(tokens["tasking"])).status_code == 422

    class Broken:
        @property
        def engine(self):
            raise RuntimeError("password=hunter2 at /srv/secret")

    client.app.dependency_overrides[get_store] = lambda: Broken()
    try:
        done = client.get("/hotspot-sets", headers=auth(tokens["admin"]))
    finally:
        client.app.dependency_overrides.clear()
    assert done.status_code == 500 and done.json() == {"detail": "internal error; it has been logged"}
    assert "hunter2" not in done.text


def test_security_headers_on_every_response(served):
    client, tokens, _, _ = served
    for response in (client.get("/health"), client.get("/rosters", headers=auth(tokens["tasking"]))):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_worker_runs_as_many_requests_at_once_as_api_threads(tmp_path, monkeypatch):
    from anyio import to_thread

    from hotspots.core.config import get_settings

    monkeypatch.setenv("HOTSPOTS_API_THREADS", "3")
    get_settings.cache_clear()
    try:
        with TestClient(create_app(f"sqlite:///{tmp_path / 'store.sqlite'}")) as client:
            assert client.portal.call(lambda: to_thread.current_default_thread_limiter().total_tokens) == 3
    finally:
        get_settings.cache_clear()


def test_a_server_process_freezes_its_startup_heap(tmp_path, monkeypatch):
    """What 'hotspots serve' runs in each worker leaves the objects alive at startup out of the garbage
    collector's scans (full collections of them stalled every request for 150-230 ms); an app built
    by create_app for tests and embedding does not."""
    import gc

    from api.main import serving_app
    from hotspots.core.config import get_settings

    monkeypatch.setenv("HOTSPOTS_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            assert client.get("/health").status_code == 200 and gc.get_freeze_count() == 0
        with TestClient(serving_app()) as client:
            assert client.get("/health").status_code == 200 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        get_settings.cache_clear()


def test_openapi_describes_every_route_with_its_responses(served):
    client, _, _, _ = served
    doc = client.get("/openapi.json").json()
    paths = set(doc["paths"])
    assert {"/health", "/ready", "/hotspot-sets", "/hotspot-sets/{set_id}/geojson", "/rosters",
            "/rosters/{roster_id}/download/{fmt}", "/allocations", "/allocations/{allocation_id}", "/audit",
            "/hotspot-sets/{set_id}/coverage", "/jobs/train", "/jobs/backtest", "/jobs/{job_id}", "/models/compare",
            "/models/{version}/promote", "/forecasts", "/allocations/{allocation_id}/compliance",
            "/allocations/{allocation_id}/evaluation"} <= paths
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert {"200", "201", "202"} & set(op["responses"]) and op.get("summary"), path
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_both_stores_serve_sets_and_refuse_revoked_tokens(store, weeks, guardian, store_url):
    """On each store: sets served, an NPU-limited commander's reads cut to their NPU (sets, coverage and
    engagement plans, which the store filters), and a revoked token refused."""
    tokens, npu = fill(store, weeks, guardian)
    with TestClient(create_app(store_url)) as client:
        assert client.get("/ready").json()["backend"] == store.backend
        assert len(client.get("/hotspot-sets/1/geojson", headers=auth(tokens["analyst"])).json()["features"]) > 0
        hot = weeks[0].hotspot_set.hotspots
        for hotspot in hot["hotspot_id"]:
            client.put(f"/engagement-plans/{hotspot}", json={"status": "drafted"}, headers=auth(tokens["commander"]))
        mine = set(hot.loc[hot["area_name"] == npu, "hotspot_id"])
        limited = auth(tokens["limited"])
        assert {p["hotspot_id"] for p in client.get("/engagement-plans", headers=limited).json()} == mine
        assert {h["hotspot_id"] for h in client.get("/hotspot-sets/1/coverage", headers=limited).json()["hotspots"]} == mine
        allocation = client.get("/allocations/1", headers=auth(tokens["evaluator"])).json()
        assert allocation["design"] == "blocked" and len(allocation["fingerprint"]) == 64
        revoke_token(store, "analyst-post", actor="test")
        # SQLite reads the token each request; PostgreSQL's workers keep principals until the table's
        # trigger announces a change, which arrives shortly after the commit.
        refused = lambda: client.get("/hotspot-sets", headers=auth(tokens["analyst"])).status_code == 401  # noqa: E731
        if store.backend == "sqlite":
            assert refused()
        else:
            deadline = time.monotonic() + 2
            while not refused() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert refused()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url, folder, workers=2):
    """Start 'hotspots serve' on a free loopback port; returns (port, process) once /health answers."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")} | {"HOTSPOTS_DATA_DIR": str(folder)}
    server = subprocess.Popen([sys.executable, "-m", "hotspots.cli", "serve", "--port", str(port), "--workers",
                               str(workers), "--docs", "--db", url], env=env, cwd=folder, stdout=subprocess.DEVNULL,
                              stderr=open(folder / "server.log", "wb"))
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return port, server
        except httpx.TransportError:
            time.sleep(0.2)
    _stop(server)
    pytest.fail("the server did not answer /health within 30 s")


def _stop(server) -> int:
    server.send_signal(signal.SIGTERM)
    return server.wait(timeout=40)


def test_a_real_server_on_loopback_with_two_workers(served, tmp_path):
    _, tokens, _, url = served
    port, server = _serve(url, tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/hotspot-sets", headers=auth(tokens["commander"])).status_code == 200
        assert httpx.get(f"{base}/rosters", headers=auth(tokens["commander"])).status_code == 403
        csv = httpx.get(f"{base}/rosters/1/download/csv", headers=auth(tokens["tasking"]))
        assert csv.status_code == 200 and csv.headers["cache-control"] == "no-store"
    finally:
        code = _stop(server)
    assert code == 0  # a graceful stop on SIGTERM

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "2011-02-west-midlands-street.csv.gz"


def test_an_upload_in_flight_when_the_server_is_stopped_is_committed(tmp_path):
    """SIGTERM arrives while an incident file is still streaming in: the server finishes the request,
    answers it, commits the batch, and only then exits."""
    import threading

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    token = add_token(open_store(url), "analyst-post", "analyst", actor="test")
    port, server = _serve(url, tmp_path, workers=1)
    boundary = "hotspots-test-boundary"
    data = SAMPLE.read_bytes()
    streaming = threading.Event()

    def body():
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{SAMPLE.name}"\r\n'
               "Content-Type: application/gzip\r\n\r\n").encode()
        step = len(data) // 8 + 1
        for i in range(0, len(data), step):
            yield data[i:i + step]
            streaming.set()
            time.sleep(0.4)
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = {}

    def upload():
        answer["response"] = httpx.post(f"http://127.0.0.1:{port}/incidents", content=body(), timeout=60,
                                        headers={**auth(token), "Content-Type": f"multipart/form-data; boundary={boundary}"})

    sender = threading.Thread(target=upload)
    sender.start()
    assert streaming.wait(20)
    server.send_signal(signal.SIGTERM)  # mid-upload
    sender.join(60)
    # One process: uvicorn shuts down gracefully, then re-raises the SIGTERM it caught, so the exit
    # status says how it was stopped (the multi-worker supervisor exits 0 instead).
    assert server.wait(timeout=40) in (0, -signal.SIGTERM)
    done = answer["response"]
    assert done.status_code == 200, done.text
    loaded = done.json()["loaded"]
    assert loaded > 1000
    from hotspots.store.incidents import read_incidents

    assert len(read_incidents(open_store(url))) == loaded


def test_analysts_upload_incident_files_once_with_rejects_reported(served):
    client, tokens, _, _ = served
    with SAMPLE.open("rb") as fh:
        first = client.post("/incidents", headers=auth(tokens["analyst"]), files={"file": (SAMPLE.name, fh)})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["loaded"] > 1000 and not body["already_loaded"] and body["rows_read"] >= body["loaded"]
    assert len(body["rejects"]) == min(body["rejected"], 100)
    assert all(r["line"] >= 2 and r["reason"] for r in body["rejects"])
    with SAMPLE.open("rb") as fh:
        again = client.post("/incidents", headers=auth(tokens["analyst"]), files={"file": (SAMPLE.name, fh)})
    assert again.json()["already_loaded"] and again.json()["loaded"] == 0
    with SAMPLE.open("rb") as fh:
        refused = client.post("/incidents", headers=auth(tokens["tasking"]), files={"file": (SAMPLE.name, fh)})
    assert refused.status_code == 403


def test_evaluators_upload_gps_logs(served):
    client, tokens, _, _ = served
    log = b"unit,timestamp,lon,lat\nA-1,2024-11-05T20:00:00Z,-1.89,52.48\nA-1,never,-1.89,52.48\n"
    done = client.post("/patrol-logs", headers=auth(tokens["evaluator"]), files={"file": ("avl.csv", log)})
    assert done.status_code == 200 and (done.json()["loaded"], done.json()["rejected"]) == (1, 1)
    assert done.json()["rejects"][0]["line"] == 3


def test_truncated_gzip_uploads_are_a_clear_400_and_store_nothing(served):
    """A download cut short: past its first 4 kB the stream ends. One line naming the file (never the
    server's upload path), status 400, and nothing of it stored, for incidents and GPS logs alike."""
    client, tokens, _, url = served
    import gzip
    import hashlib

    from hotspots.store.incidents import batch_of

    cut = SAMPLE.read_bytes()[:20_000]
    done = client.post("/incidents", headers=auth(tokens["analyst"]), files={"file": ("cut.csv.gz", cut)})
    assert done.status_code == 400, done.text
    assert done.json()["detail"] == ("cut.csv.gz: the compressed file is truncated (the download or copy was cut "
                                     "short); nothing of it was stored")
    assert batch_of(open_store(url), hashlib.sha256(cut).hexdigest()) is None
    rows = "".join(f"A-{i % 7},2024-11-05T20:{i % 60:02d}:{i % 59:02d}Z,-1.{890 + i % 97},52.{480 + i % 89}\n"
                   for i in range(20_000))
    log = gzip.compress(("unit,timestamp,lon,lat\n" + rows).encode())
    assert len(log) > 12_000
    done = client.post("/patrol-logs", headers=auth(tokens["evaluator"]), files={"file": ("avl.csv.gz", log[:6000])})
    assert done.status_code == 400 and done.json()["detail"].startswith("avl.csv.gz: the compressed file is truncated")
    assert "/" not in done.json()["detail"]


def test_bodies_over_the_limit_are_refused_while_streaming(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    with TestClient(create_app(url, max_upload_bytes=10_000)) as client:
        whole = client.post("/incidents", files={"file": ("big.csv", b"x" * 20_000)})
        assert whole.status_code == 413 and "over the limit of 10,000 bytes" in whole.json()["detail"]

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(20):
                yield b"y" * 1000

        streamed = client.post("/incidents", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=x"})
        assert streamed.status_code == 413


def test_engagement_plans_read_by_all_updated_by_commanders_within_their_npus(served):
    client, tokens, npu, url = served
    doc = client.get("/hotspot-sets/1/geojson", headers=auth(tokens["commander"])).json()
    inside = next(f["properties"]["hotspot_id"] for f in doc["features"] if f["properties"]["area_name"] == npu)
    outside = next(f["properties"]["hotspot_id"] for f in doc["features"] if f["properties"]["area_name"] != npu)
    change = {"status": "agreed", "owner": "NPU inspector", "next_review": "2025-01-06"}
    done = client.put(f"/engagement-plans/{inside}", json=change, headers=auth(tokens["limited"]))
    assert done.status_code == 200 and done.json()["status"] == "agreed" and done.json()["plan_version"] >= 1
    assert client.put(f"/engagement-plans/{outside}", json=change, headers=auth(tokens["limited"])).status_code == 403
    assert client.put(f"/engagement-plans/{inside}", json=change, headers=auth(tokens["analyst"])).status_code == 403
    bad = client.put(f"/engagement-plans/{inside}", json={"status": "sorted"}, headers=auth(tokens["commander"]))
    assert bad.status_code == 422 and "status" in bad.text
    unknown = client.put("/engagement-plans/HS-9999", json=change, headers=auth(tokens["commander"]))
    assert unknown.status_code == 404
    plans = client.get(f"/engagement-plans?hotspot_id={inside}", headers=auth(tokens["evaluator"])).json()
    assert plans[0]["owner"] == "NPU inspector"
    assert "engagement.update" in audit_events(open_store(url), "hotspot")["action"].tolist()


def test_the_served_weekly_map_draws_in_headless_chromium(served, tmp_path):
    """The map from a real server, opened in Chromium with the commander's token: drawn, no console errors."""
    from test_maps import headless_chromium

    _, tokens, _, url = served

    port, server = _serve(url, tmp_path, workers=1)
    try:
        driver = headless_chromium(loopback=True)
        try:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": auth(tokens["commander"])})
            driver.get(f"http://127.0.0.1:{port}/hotspot-sets/1/map")
            deadline = time.time() + 30
            while time.time() < deadline and not driver.execute_script(
                    "return document.querySelectorAll('.leaflet-interactive').length"):
                time.sleep(0.2)
            drawn = driver.execute_script("return document.querySelectorAll('.leaflet-interactive').length")
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        finally:
            driver.quit()
    finally:
        _stop(server)
    assert errors == [] and drawn > 0


def test_schemathesis_finds_no_server_error_and_no_response_off_schema(served, tmp_path):
    """Every operation of a real server's OpenAPI document, with generated valid and invalid inputs, as
    admin: no 5xx, and every response as documented (status, headers, body schema)."""
    import schemathesis
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    _, tokens, _, url = served
    port, server = _serve(url, tmp_path)
    try:
        schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 14
        for operation in operations:
            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def check(case):
                # A file's content is not described by the schema, so a well-formed upload of a bad file is
                # rightly a 400: the "schema-valid data is accepted" check does not apply to uploads.
                excluded = [positive_data_acceptance] if case.method == "POST" else []
                case.call_and_validate(headers=auth(tokens["admin"]), excluded_checks=excluded)

            check()
        damaged_uploads(f"http://127.0.0.1:{port}", tokens)
    finally:
        _stop(server)


#: Uploads damaged in ways tests/damage.py does not write: GeoJSON of the wrong shape or not JSON at all.
ODD_UPLOADS = {
    "lines.geojson": (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"month": "2024-01", "offence": "robbery"},
         "geometry": {"type": "LineString", "coordinates": [[-1.9, 52.48], [-1.8, 52.5]]}},
        {"type": "Feature", "properties": {"month": "2999-01", "offence": "robbery"},
         "geometry": {"type": "Point", "coordinates": [-1.9, 52.48]}}]}).encode(), 200),
    "broken.geojson": (b'{"type": "FeatureCollection", "features": [', 400),
    "junk.parquet": (b"PAR1" + bytes(range(256)) * 4, 400),
}


def damaged_uploads(base, tokens):
    """Every file kind of tests/damage.py (with every row kind in it), and odd GeoJSON, uploaded to a real
    server as incidents and as GPS logs: never a 5xx; a file that cannot be read is a 400 in one line
    naming the client's file and no server path; one that can is loaded with its rejects listed."""
    for file_kind in sorted(FILE_KINDS):
        made = damaged_file(sorted(ROW_KINDS) + ["good"] * 12, file_kind, 11, prefix=f"upload-{file_kind}")
        name = f"upload{made.suffix}"
        params = {"encoding": made.encoding} if made.encoding else {}
        for route, role in (("/incidents", "analyst"), ("/patrol-logs", "evaluator")):
            done = httpx.post(base + route, headers=auth(tokens[role]), files={"file": (name, made.data)},
                              params=params if route == "/incidents" else {}, timeout=120)
            assert done.status_code in (200, 400), (file_kind, route, done.status_code, done.text[:300])
            if route == "/incidents":
                assert done.status_code == (200 if made.must_load else 400), (file_kind, done.text[:300])
            _one_clear_answer(done, name)
    for name, (data, status) in ODD_UPLOADS.items():
        done = httpx.post(base + "/incidents", headers=auth(tokens["analyst"]), files={"file": (name, data)}, timeout=60)
        assert done.status_code == status, (name, done.text)
        _one_clear_answer(done, name)
        if name == "lines.geojson":
            assert [r["reason"] for r in done.json()["rejects"]] == ["geometry is a LineString, not a point",
                                                                    "date outside 1900 to " + done.json()["rejects"][1]["reason"][-4:]]


def _one_clear_answer(done, name):
    body = done.json()
    if done.status_code == 400:
        detail = body["detail"]
        assert "\n" not in detail and detail.startswith(name) and "/" not in detail.removeprefix(name), detail
    else:
        assert body["rows_read"] == body["loaded"] + body["already_stored"] + body["rejected"] or body["already_loaded"]


def test_evaluators_register_allocations_through_the_api(served):
    client, tokens, _, url = served
    body = {"trial": "api-made", "design": "pair", "seed": 11, "risk": "score"}
    made = client.post("/allocations", json=body, headers=auth(tokens["evaluator"]))
    assert made.status_code == 201, made.text
    doc = made.json()
    assert doc["design"] == "pair" and doc["seed"] == 11 and doc["version"] == 1
    assert client.get(f"/allocations/{doc['allocation_id']}", headers=auth(tokens["evaluator"])).json() == doc
    again = client.post("/allocations", json=body, headers=auth(tokens["evaluator"]))
    assert again.status_code == 400 and "needs reason " in again.json()["detail"]
    assert "--" not in again.json()["detail"]  # the API names its own field, not the CLI's flag
    assert client.post("/allocations", json=body, headers=auth(tokens["tasking"])).status_code == 403
    events = audit_events(open_store(url), "allocation")
    assert events["actor"].iloc[-1] == "api:evaluator-post"


def test_unit_briefings_download_as_printable_html(served):
    client, tokens, _, _ = served
    csv = client.get("/rosters/1/download/csv", headers=auth(tokens["tasking"])).text
    unit = pd.read_csv(io.StringIO(csv), comment="#")["unit"].iloc[0]
    page = client.get(f"/rosters/1/briefings/{unit}", headers=auth(tokens["tasking"]))
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "OFFICIAL-SENSITIVE" in page.text and "<svg" in page.text and "<script" not in page.text
