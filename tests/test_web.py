"""The web pages in process: sign-in, sessions, CSRF, roles, and each user's job on the shipped sample.

The same jobs are walked in a real browser in tests/test_web_browser.py; these tests pin the rules
(cookies, refusals, audit) precisely and quickly."""

import datetime as dt
import re
import time

import pytest
from fastapi.testclient import TestClient
from web_fixtures import copy_site, gps_log

from api.main import create_app
from hotspots.core.config import SHIPPED_DATA, get_settings
from hotspots.services.rosters import load_roster
from hotspots.services.weekly import load_set
from hotspots.store import open_store
from hotspots.store.audit import audit_events
from hotspots.store.hotspot_sets import engagement
from hotspots.store.rosters import list_rosters
from hotspots.store.schedule import claim_run, finish_run
from hotspots.store.tokens import ROLES, add_token, revoke_token

#: page -> roles that may open it (admin opens everything)
PAGES = {"/commander": {"commander"}, "/commander/sets/1/map": {"commander"}, "/analyst": {"analyst"},
         "/tasking": {"tasking"}, "/tasking/rosters/1": {"tasking"}, "/evaluator": {"evaluator"}, "/admin": set()}


PAGES_OF = {"commander": "/commander", "analyst": "/analyst", "tasking": "/tasking", "evaluator": "/evaluator",
            "admin": "/admin"}


@pytest.fixture(scope="module")
def site(sample_site, tmp_path_factory):
    url, tokens, npu = copy_site(sample_site, tmp_path_factory.mktemp("web"))
    with TestClient(create_app(url), raise_server_exceptions=False) as client:
        yield client, tokens, npu, url


def sign_in(client, token, name="", base=""):
    """Sign in as a fresh browser would: open the form, post it with its one-off token."""
    client.cookies.clear()
    form = client.get(f"{base}/sign-in")
    sent = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return client.post(f"{base}/sign-in", data={"csrf_token": sent, "token": token, "name": name},
                       follow_redirects=False)


def csrf(page_text):
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def test_the_start_page_is_the_sign_in_page(site):
    client, *_ = site
    client.cookies.clear()
    start = client.get("/")
    assert start.status_code == 200 and "<h1>Sign in</h1>" in start.text
    assert start.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in start.headers["Content-Security-Policy"]
    assert client.get("/commander", follow_redirects=False).headers["location"] == "/sign-in"


def test_signing_in_sets_a_session_cookie_scripts_cannot_read(site):
    client, tokens, *_ = site
    done = sign_in(client, tokens["tasking"], name="tasking-post")
    assert done.status_code == 303 and done.headers["location"] == "/tasking"
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("hotspots_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert client.get("/").headers.get("location", "/tasking") == "/tasking"
    secure = TestClient(client.app, base_url="https://testserver")
    over_tls = sign_in(secure, tokens["tasking"])
    assert "Secure" in next(c for c in over_tls.headers.get_list("set-cookie") if c.startswith("hotspots_session="))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_its_pages_and_is_refused_the_others(site, role):
    client, tokens, *_ = site
    sign_in(client, tokens[role])
    for path, roles in PAGES.items():
        done = client.get(path)
        if role == "admin" or role in roles:
            assert done.status_code == 200, (path, done.text[-500:])
        else:
            assert done.status_code == 403, path
            assert "This page is for the" in done.text and "Traceback" not in done.text


@pytest.mark.parametrize("role", ["commander", "analyst", "tasking", "evaluator", "admin"])
def test_every_form_field_has_a_label_and_every_page_says_whom_it_is_for(site, role):
    """WCAG basics checked on the markup: a label (or aria-label) for each control, the page's role named,
    a skip link first, and a title on the framed map."""
    client, tokens, *_ = site
    sign_in(client, tokens[role])
    html = client.get(PAGES_OF[role]).text
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if 'type="hidden"' in tag:
            continue
        own = re.search(r'id="([^"]+)"', tag)
        assert "aria-label=" in tag or (own and own.group(1) in labelled), tag
    assert '<p class="for-role">For ' in html and html.index('class="skip"') < html.index("<main")
    assert "<iframe" not in html or re.search(r'<iframe[^>]+title="Map of the', html)


def test_wrong_tokens_are_audited_and_then_throttled(site):
    _, tokens, _, url = site
    client = TestClient(site[0].app, client=("192.0.2.7", 50000))  # its own address: the others stay unthrottled
    for attempt in range(5):
        done = sign_in(client, f"hs_wrong-{attempt}", name="analyst-post")
        assert done.status_code == 401 and "did not match a live token" in done.text
    assert sign_in(client, tokens["analyst"], name="tasking-post").status_code == 429  # name and token disagree
    refused = sign_in(client, tokens["analyst"])
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
    failed = audit_events(open_store(url), action="web.sign_in_failed")
    assert len(failed) == 7 and set(failed["object_id"]) == {"192.0.2.7"}
    assert "hs_wrong" not in " ".join(failed["detail"])  # what was typed as a token is never kept
    assert sign_in(TestClient(site[0].app), tokens["analyst"]).status_code == 303  # other addresses still can


def test_a_sign_in_form_without_its_one_off_token_is_refused(site):
    client, tokens, *_ = site
    client.cookies.clear()
    done = client.post("/sign-in", data={"token": tokens["admin"]}, follow_redirects=False)
    assert done.status_code == 403 and "hotspots_session" not in done.headers.get("set-cookie", "")


def test_forms_without_the_csrf_token_are_refused_and_change_nothing(site):
    client, tokens, _, url = site
    sign_in(client, tokens["commander"])
    hotspot = load_set(open_store(url), 1).hotspots["hotspot_id"].iloc[0]
    before = len(engagement(open_store(url), [hotspot], history=True))
    change = {"status": "agreed", "owner": "NPU inspector", "set_id": "1"}
    for sent in ({}, {"csrf_token": "not-the-token"}):
        done = client.post(f"/commander/engagement/{hotspot}", data={**change, **sent}, follow_redirects=False)
        assert done.status_code == 403 and "security token" in done.text
    assert len(engagement(open_store(url), [hotspot], history=True)) == before
    sign_in(client, tokens["tasking"])
    rosters = len(list_rosters(open_store(url)))
    assert client.post("/tasking/rosters", data={"set_id": "1", "resources": "x = 1"}).status_code == 403
    assert len(list_rosters(open_store(url))) == rosters


def test_a_signed_out_cookie_no_longer_works(site):
    client, tokens, *_ = site
    sign_in(client, tokens["evaluator"])
    page = client.get("/evaluator")
    kept = client.cookies.get("hotspots_session")
    out = client.post("/sign-out", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/sign-in"
    client.cookies.set("hotspots_session", kept)  # a copy of the cookie, replayed
    assert client.get("/evaluator", follow_redirects=False).headers["location"] == "/sign-in"


def test_sessions_end_after_the_idle_time(site, monkeypatch):
    client, tokens, *_ = site
    sign_in(client, tokens["evaluator"])
    assert client.get("/evaluator").status_code == 200
    monkeypatch.setenv("HOTSPOTS_WEB_IDLE_MINUTES", "0.001")  # 60 ms
    get_settings.cache_clear()
    time.sleep(0.2)
    assert client.get("/evaluator", follow_redirects=False).headers["location"] == "/sign-in"


def test_the_framed_map_runs_only_its_own_scripts_sandboxed(site):
    client, tokens, *_ = site
    sign_in(client, tokens["commander"])
    framed = client.get("/commander/sets/1/map")
    policy = framed.headers["Content-Security-Policy"]
    scripts = re.findall(r"<script>(.*?)</script>", framed.text, re.DOTALL)
    script_src = next(p for p in policy.split("; ") if p.startswith("script-src"))
    assert scripts and script_src.count("'sha256-") == len(set(scripts)) and "unsafe" not in script_src
    assert "sandbox allow-scripts" in policy and "frame-ancestors 'self'" in policy
    assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert 'sandbox="allow-scripts"' in client.get("/commander").text


def test_the_json_api_does_not_accept_the_session_cookie(site):
    client, tokens, *_ = site
    sign_in(client, tokens["tasking"])
    assert client.get("/rosters").status_code == 401
    assert client.get("/rosters", headers={"Authorization": f"Bearer {tokens['tasking']}"}).status_code == 200


def test_commanders_edit_plans_within_their_npus_and_every_version_is_kept(site):
    client, tokens, npu, url = site
    hot = load_set(open_store(url), 1).hotspots
    mine = hot.loc[hot["area_name"] == npu, "hotspot_id"].iloc[0]
    other = hot.loc[hot["area_name"] != npu, "hotspot_id"].iloc[0]
    sign_in(client, tokens["limited"])
    page = client.get("/commander")
    assert mine in page.text and f">{other}<" not in page.text  # only their NPU's hotspots
    for status in ("drafted", "agreed"):
        done = client.post(f"/commander/engagement/{mine}", follow_redirects=False, data={
            "csrf_token": csrf(page.text), "set_id": "1", "status": status, "owner": "NPU inspector",
            "next_review": "2018-01-15", "notes": "<script>alert(1)</script>"})
        assert done.status_code == 303 and done.headers["location"].endswith(f"#{mine}")
    page = client.get("/commander")
    assert page.text.count("NPU inspector") >= 3 and "<script>alert(1)" not in page.text  # escaped
    assert engagement(open_store(url), [mine], history=True)["status"].tolist()[-2:] == ["drafted", "agreed"]
    refused = client.post(f"/commander/engagement/{other}", data={"csrf_token": csrf(page.text), "set_id": "1",
                                                                   "status": "agreed"})
    assert refused.status_code == 403 and "outside your NPUs" in refused.text
    bad = client.post(f"/commander/engagement/{mine}", data={"csrf_token": csrf(page.text), "set_id": "1",
                                                             "status": "sorted"})
    assert bad.status_code == 400 and "status=&#39;sorted&#39;" in bad.text and "<h1>That did not work</h1>" in bad.text


def test_tasking_issues_a_roster_and_every_download_is_audited(site):
    client, tokens, _, url = site
    sign_in(client, tokens["tasking"])
    page = client.get("/tasking")
    example = re.search(r'<textarea id="resources" name="resources"[^>]*>(.*?)</textarea>', page.text, re.DOTALL).group(1)
    done = client.post("/tasking/rosters", follow_redirects=False, data={
        "csrf_token": csrf(page.text), "set_id": "1", "days": "7", "seed": "42", "priority": "harm",
        "resources": example.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&"), "reason": "web"})
    assert done.status_code == 303, done.text
    roster_page = client.get(done.headers["location"])
    assert "Seed <strong>42</strong>" in roster_page.text and 'id="per-hotspot"' in roster_page.text
    roster = load_roster(open_store(url), int(done.headers["location"].rsplit("/", 1)[1]))
    assert roster.parameters["seed"] == 42 and roster.issue["issued_by"] == "api:tasking-post"
    unit = roster.visits["unit"].iloc[0]
    before = len(audit_events(open_store(url), action="roster.download"))
    base = done.headers["location"]
    for path in ("/download/csv", "/download/json", f"/units/{unit}/ics", f"/units/{unit}/html"):
        got = client.get(base + path)
        assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store", path
        assert got.headers["Content-Disposition"].startswith("attachment;")
    events = audit_events(open_store(url), action="roster.download")
    assert len(events) == before + 4 and set(events["actor"].iloc[-4:]) == {"api:tasking-post"}
    assert client.get(base + "/units/NO-SUCH/ics").status_code == 404


def test_analysts_see_every_rejected_line_and_a_reload_adds_nothing(site):
    client, tokens, _, url = site
    sign_in(client, tokens["analyst"])
    page = client.get("/analyst")
    header = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context"
    rows = [f"{'ab' * 31}{i:02d},2017-12,West Midlands Police,West Midlands Police,-1.8{90 + i},52.48{i},On or near X,"
            f"E01000000,Birmingham 001A,Robbery,Under investigation," for i in range(3)]
    rows.append(f"{'cd' * 32},2017-12,West Midlands Police,West Midlands Police,west,north,On or near Y,E01000000,"
                "Birmingham 001A,Robbery,,")
    body = ("\n".join([header, *rows]) + "\n").encode()
    done = client.post("/analyst/incidents", data={"csrf_token": csrf(page.text)},
                       files={"file": ("december.csv", body, "text/csv")})
    assert done.status_code == 200, done.text
    assert 'id="loaded">3<' in done.text and 'id="rejected">1<' in done.text
    assert re.search(r'<td class="n">5</td><td>[^<]+', done.text)  # the bad row's line, with its reason
    again = client.post("/analyst/incidents", data={"csrf_token": csrf(page.text)},
                        files={"file": ("december.csv", body, "text/csv")})
    assert "nothing added" in again.text
    assert audit_events(open_store(url), action="incidents.upload")["actor"].iloc[-1] == "api:analyst-post"
    excel = ("\n".join([header, *(r.replace("On or near X", "On or near Café") for r in rows[:1])]) + "\n")
    excel = excel.replace("2017-12", "2017-11").replace("ab" * 31, "ef" * 31).encode("cp1252")
    refused = client.post("/analyst/incidents", data={"csrf_token": csrf(page.text)},
                          files={"file": ("excel.csv", excel, "text/csv")})
    assert refused.status_code == 400 and "byte 0xE9 is not valid UTF-8" in refused.text
    told = client.post("/analyst/incidents", data={"csrf_token": csrf(page.text), "encoding": "cp1252"},
                       files={"file": ("excel.csv", excel, "text/csv")})
    assert told.status_code == 200 and 'id="loaded">1<' in told.text


def test_evaluators_register_upload_and_read_compliance(site, tmp_path):
    client, tokens, _, url = site
    sign_in(client, tokens["evaluator"])
    page = client.get("/evaluator")
    done = client.post("/evaluator/allocations", follow_redirects=False, data={
        "csrf_token": csrf(page.text), "trial": "web-trial", "set_id": "1", "design": "blocked", "seed": "9"})
    assert done.status_code == 303, done.text
    store = open_store(url)
    pings = gps_log(store, 30)
    log = pings.to_csv(index=False) + "A-1,never,0,0\n"
    loaded = client.post("/evaluator/patrol-logs", data={"csrf_token": csrf(page.text)},
                         files={"file": ("avl.csv", log.encode(), "text/csv")})
    assert f'id="loaded">{len(pings):,}<' in loaded.text and 'id="rejected">1<' in loaded.text
    alloc = client.get(done.headers["location"])
    assert alloc.status_code == 200 and 'id="compliance"' in alloc.text
    delivered = re.search(r"Patrolled places: ([\d,]+) minutes delivered", alloc.text).group(1)
    assert int(delivered.replace(",", "")) > 0
    # The trial starts the week after the sample ends and police.uk records are month-only: there is
    # nothing to evaluate yet, and the page says why in one line (which line depends on what else is loaded).
    report = client.get(done.headers["location"] + "/report")
    assert report.status_code == 409 and report.headers["content-type"].startswith("text/html")
    assert re.search(r'role="alert">(no crimes fall|the stored incidents end)[^<\n]+<', report.text)


def test_admins_add_users_see_the_token_once_and_filter_the_audit_log(site):
    client, tokens, _, _ = site
    sign_in(client, tokens["admin"])
    page = client.get("/admin")
    made = client.post("/admin/users", data={"csrf_token": csrf(page.text), "name": "perry-barr-inspector",
                                             "role": "commander", "npus": "Perry Barr"})
    token = re.search(r'<code id="new-token">(hs_[^<]+)</code>', made.text).group(1)
    assert made.headers["Cache-Control"] == "no-store"
    assert token not in client.get("/admin").text  # shown once
    assert sign_in(TestClient(client.app), token).headers["location"] == "/commander"
    sign_in(client, tokens["admin"])
    page = client.get("/admin")
    client.post("/admin/users/perry-barr-inspector/revoke", data={"csrf_token": csrf(page.text)})
    filtered = client.get("/admin", params={"action": "token.revoke"})
    assert filtered.text.count("<td>token.revoke</td>") == 1 and "<td>token.add</td>" not in filtered.text
    assert sign_in(TestClient(client.app), token).status_code == 401


def test_revoking_a_token_ends_its_open_sessions(site):
    client, _, _, url = site
    store = open_store(url)
    temporary = add_token(store, "relief-analyst", "analyst", actor="test")
    sign_in(client, temporary)
    assert client.get("/analyst").status_code == 200
    revoke_token(store, "relief-analyst", actor="test")
    assert client.get("/analyst", follow_redirects=False).headers["location"] == "/sign-in"


def test_user_errors_are_pages_with_one_line_not_json_or_tracebacks(site):
    client, tokens, *_ = site
    sign_in(client, tokens["tasking"])
    missing = client.get("/tasking/rosters/999")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "roster" in missing.text and "Traceback" not in missing.text
    bad = client.get("/tasking/rosters/not-a-number")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")


def test_sessions_work_the_same_on_both_stores(store_url):
    store = open_store(store_url)
    token = add_token(store, "admin-post", "admin", actor="test")
    with TestClient(create_app(store_url)) as client:
        assert sign_in(client, token).headers["location"] == "/admin"
        page = client.get("/admin")
        assert page.status_code == 200 and "web.sign_in" in page.text
        client.post("/sign-out", data={"csrf_token": csrf(page.text)})
        assert client.get("/admin", follow_redirects=False).status_code == 303
    assert audit_events(store, action="web.sign_out")["actor"].tolist() == ["api:admin-post"]


def test_the_weekly_cycles_runs_show_with_their_times_and_a_draft_is_issued_from_the_page(site, monkeypatch):
    """What the schedule did appears on the pages (tests/test_schedule.py drives the schedule itself)."""
    client, tokens, _, url = site
    store = open_store(url)
    due = dt.datetime(2017, 12, 4, 6, 0, tzinfo=dt.UTC)
    run = claim_run(store, "weekly-set", dt.date(2017, 12, 4), "2017-12-04..2017-12-10", due, "host:1")
    finish_run(store, run, "done", "set 1 stored", set_id=1)
    draft = claim_run(store, "roster-draft", dt.date(2017, 12, 4), "2017-12-04..2017-12-31", due, "host:1",
                      set_id=1, seed=2024)
    finish_run(store, draft, "waiting", "waiting for a tasking board to issue it")
    sign_in(client, tokens["commander"])
    page = client.get("/commander").text
    assert 'id="weekly-cycle"' in page and "2017-12-04 06:00 GMT" in page and 'href="/commander?set_id=1"' in page
    monkeypatch.setenv("HOTSPOTS_SCHEDULE_RESOURCES", str(SHIPPED_DATA / "patrol" / "demo_resources.toml"))
    get_settings.cache_clear()
    sign_in(client, tokens["tasking"])
    page = client.get("/tasking")
    assert "Issue draft for 2017-12-04..2017-12-31" in page.text
    done = client.post(f"/tasking/drafts/{draft}/issue", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert done.status_code == 303
    roster = load_roster(store, int(done.headers["location"].rsplit("/", 1)[1]))
    assert roster.parameters["seed"] == 2024 and roster.issue["issued_by"] == "api:tasking-post"
    again = client.post(f"/tasking/drafts/{draft}/issue", data={"csrf_token": csrf(page.text)})
    assert again.status_code == 400 and "can be issued once" in again.text


def test_an_npu_limit_must_name_an_npu_the_stored_sets_know(store, weeks):
    """Before any set, any name is taken; after, a misspelt NPU is refused with the names it may mean."""
    from hotspots.core.errors import ValidationError
    from hotspots.services.weekly import save_set

    add_token(store, "early-inspector", "commander", ["Anywhere"], actor="test")
    week = weeks[0]
    save_set(store, week.hotspot_set, period_label=week.period_label, period_start=week.period_start,
             period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage)
    known = week.hotspot_set.parameters["areas"]
    assert known and add_token(store, "npu-inspector", "commander", [known[0]], actor="test").startswith("hs_")
    with pytest.raises(ValidationError, match=rf"npus=\['{known[0][:-1]}'\]: no stored hotspot set knows .*did you mean"):
        add_token(store, "typo-inspector", "commander", [known[0][:-1]], actor="test")
