"""The API in process (TestClient) on both stores, and as a real server on 127.0.0.1: roles, audit, headers."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.deps import get_store
from api.main import create_app
from hotspots.store import open_store
from hotspots.store.audit import audit_events
from hotspots.store.hotspot_sets import save_set
from hotspots.store.rosters import save_roster
from hotspots.store.tokens import ROLES, add_token, revoke_token
from hotspots.store.trials import save_allocation
from hotspots.trials.allocation import allocate
from test_patrol_roster import plan

ROUTES = {  # route -> roles that may call it (admin may call everything)
    "/hotspot-sets": {"commander", "analyst", "tasking", "evaluator"},
    "/hotspot-sets/1/geojson": {"commander", "analyst", "tasking", "evaluator"},
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
def served(tmp_path_factory, weeks, guardian):
    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'store.sqlite'}"
    store = open_store(url)
    tokens, npu = fill(store, weeks, guardian)
    store.dispose()
    with TestClient(create_app(url), raise_server_exceptions=False) as client:
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
    ics = client.get(f"/rosters/1/download/ics?unit={unit}", headers=auth(tokens["tasking"]))
    assert ics.status_code == 200 and ics.text.startswith("BEGIN:VCALENDAR")
    assert client.get("/rosters/1/download/ics", headers=auth(tokens["tasking"])).status_code == 400
    events = audit_events(open_store(url), "roster")
    downloads = events[events["action"] == "roster.download"]
    assert downloads["actor"].tolist()[-2:] == ["api:tasking-post"] * 2
    assert json.loads(downloads["detail"].iloc[-1]) == {"format": "ics", "unit": unit}
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


def test_openapi_describes_every_route_with_its_responses(served):
    client, _, _, _ = served
    doc = client.get("/openapi.json").json()
    paths = set(doc["paths"])
    assert {"/health", "/ready", "/hotspot-sets", "/hotspot-sets/{set_id}/geojson", "/rosters",
            "/rosters/{roster_id}/download/{fmt}", "/allocations", "/allocations/{allocation_id}", "/audit"} <= paths
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert "200" in op["responses"] and op.get("summary"), path
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_both_stores_serve_sets_and_refuse_revoked_tokens(store, weeks, guardian, store_url):
    tokens, _ = fill(store, weeks, guardian)
    with TestClient(create_app(store_url)) as client:
        assert client.get("/ready").json()["backend"] == store.backend
        assert len(client.get("/hotspot-sets/1/geojson", headers=auth(tokens["analyst"])).json()["features"]) > 0
        allocation = client.get("/allocations/1", headers=auth(tokens["evaluator"])).json()
        assert allocation["design"] == "blocked" and len(allocation["fingerprint"]) == 64
        revoke_token(store, "analyst-post", actor="test")
        assert client.get("/hotspot-sets", headers=auth(tokens["analyst"])).status_code == 401


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_server_on_loopback_with_two_workers(served, tmp_path):
    _, tokens, _, url = served
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")} | {"HOTSPOTS_DATA_DIR": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "hotspots.cli", "serve", "--port", str(port), "--workers", "2",
                               "--db", url], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer /health within 30 s")
        assert httpx.get(f"{base}/hotspot-sets", headers=auth(tokens["commander"])).status_code == 200
        assert httpx.get(f"{base}/rosters", headers=auth(tokens["commander"])).status_code == 403
        csv = httpx.get(f"{base}/rosters/1/download/csv", headers=auth(tokens["tasking"]))
        assert csv.status_code == 200 and csv.headers["cache-control"] == "no-store"
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=40)
    assert code == 0
