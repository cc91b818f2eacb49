"""Legitimacy and accountability (issue 22): stop and search kept as counts and checked against an
independent count of the raw file, no personal field in the store, the intervals' coverage by
simulation, small-number suppression against differencing, engagement flags with a clock, and the
quarterly return and the public summary."""

import datetime as dt
import gzip
import subprocess
import sys

import h3
import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import null_space
from sqlalchemy import inspect, select, text

from hotspots.core.errors import FormatError, NotReadyError, ValidationError
from hotspots.geo import cells as h3cells
from hotspots.ingest.stop_search import read_population, read_stop_search
from hotspots.places.engagement import engagement_flags
from hotspots.places.selection import hotspot_select
from hotspots.services.engagement import hotspot_flags, log_activity, plans_with_flags
from hotspots.services.returns import parse_quarter, quarterly_return, transparency_summary
from hotspots.services.stop_search import load_stop_search, stop_search_report
from hotspots.services.weekly import save_set, update_engagement
from hotspots.store.db import Store
from hotspots.store.schema import metadata
from hotspots.trials.disclosure import SUPPRESSED, suppress, suppress_together, with_totals
from hotspots.trials.stop_search import poisson_interval, rate_ratio, wilson

STOP_SEARCH = SAMPLES / "2024-01-west-midlands-stop-and-search.csv.gz"
START, END = dt.date(2024, 1, 15), dt.date(2024, 1, 28)


@pytest.fixture(scope="module")
def searched_set(force_area):
    """Six hotspots where January 2024's searches concentrate (a stand-in for a set chosen from crime)."""
    frame = read_stop_search(STOP_SEARCH).frame.dropna(subset=["lon"])
    cells = h3cells.to_strings(h3cells.points_to_cells(frame["lon"].to_numpy(), frame["lat"].to_numpy(), 10))
    scores = pd.Series(1.0, index=cells).groupby(level=0).sum()
    return hotspot_select(scores, force_area.cells(10), crs="EPSG:27700", max_hotspots=6, max_cells=10)


def stored_set(store: Store, hs) -> int:
    return save_set(store, hs, period_label="2024-01-15", period_start=START, period_end=END, resolution=10,
                    score_source="stop and search (test)", coverage=pd.DataFrame())


def test_counts_match_an_independent_count_of_the_raw_file_and_reload_adds_nothing(store, searched_set):
    set_id = stored_set(store, searched_set)
    load = load_stop_search(store, set_id, [STOP_SEARCH], loaded_by="test", before_days=14)
    assert load.added and load.rows_read == 2326 and load.months == ["2024-01"]
    again = load_stop_search(store, set_id, [STOP_SEARCH], loaded_by="test", before_days=14)
    assert not again.added and again.load_id == load.load_id
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM stop_search_loads")).scalar() == 1

    raw = pd.read_csv(STOP_SEARCH, dtype=str, keep_default_na=False)
    local = pd.to_datetime(raw["Date"], utc=True).dt.tz_convert("Europe/London").dt.tz_localize(None).dt.normalize()
    members = searched_set.members.set_index("h3_cell")["hotspot_id"]
    cell = [h3.latlng_to_cell(float(la), float(lo), 10) if la else None for la, lo in zip(raw["Latitude"], raw["Longitude"])]
    place = pd.Series([members.get(c, "rest of force") if c else "unplaced" for c in cell])
    window = np.where(local < pd.Timestamp(START) - pd.Timedelta(days=14), "earlier",
                      np.where(local < pd.Timestamp(START), "before",
                               np.where(local <= pd.Timestamp(END), "during", "after")))
    expected = pd.DataFrame({"hotspot_id": place, "window": window, "legislation": raw["Legislation"].replace("", "not recorded")})
    expected = expected.groupby(["hotspot_id", "window", "legislation"]).size()
    got = load.counts.groupby(["hotspot_id", "window", "legislation"])["searches"].sum()
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    white = raw["Self-defined ethnicity"].str.startswith("White")
    assert load.counts.loc[load.counts["self_group"].eq("White"), "searches"].sum() == white.sum()

    report = stop_search_report(store, set_id)
    rates = report.rates.set_index(["place", "window"])
    inside = place.ne("rest of force") & place.ne("unplaced")
    assert rates.loc[("hotspots", "during"), "searches"] == (inside & (window == "during")).sum()
    assert rates.loc[("rest", "before"), "searches"] == (place.eq("rest of force") & (window == "before")).sum()
    assert report.days == {"before": 14, "during": 14} and report.find_measure == "any outcome"


def test_no_personal_field_is_stored(store, searched_set, tmp_path):
    """Schema and store scanned: no gender, age-range, ethnicity or date-time field as the source gives it,
    no position of a search, and rejected rows keep their line and reason but no text."""
    damaged = tmp_path / "2024-01-damaged.csv"
    lines = gzip.open(STOP_SEARCH, "rt", encoding="utf-8").read().splitlines()
    lines[5] = lines[5].replace("2024-01-01T", "yesterday-T")
    damaged.write_text("\n".join(lines[:200]) + "\n", encoding="utf-8")
    set_id = stored_set(store, searched_set)
    load_stop_search(store, set_id, [damaged], loaded_by="test", before_days=14)
    raw = pd.read_csv(STOP_SEARCH, dtype=str, keep_default_na=False)
    personal = set(raw["Self-defined ethnicity"]) | set(raw["Gender"]) | set(raw["Date"]) - {""}
    columns = {c.name.lower() for t in metadata.tables.values() if t.name.startswith("stop_search") for c in t.columns}
    assert not columns & {"gender", "age_range", "self_defined_ethnicity", "officer_defined_ethnicity", "lat", "lon",
                          "latitude", "longitude", "occurred_at", "date"}
    with store.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(select(metadata.tables[table])) if table in metadata.tables else []:
                leaked = {str(v) for v in row if isinstance(v, str)} & personal
                assert not leaked, (table, leaked)
        rejects = conn.execute(text("SELECT line, reason FROM stop_search_rejects")).all()
    assert [tuple(r) for r in rejects] == [(6, "unreadable date (expected ISO 8601 with its offset, e.g. "
                                                 "2024-01-31T23:20:00+00:00)")]


def test_rate_ratio_interval_covers_the_true_ratio_in_simulation():
    """Known ratio in, interval out: the exact conditional interval covers at least its nominal 95%."""
    rng = np.random.default_rng(7)
    for true_ratio, base in ((1.0, 3.0), (2.5, 8.0), (0.4, 40.0)):
        a = rng.poisson(base * true_ratio * 2.0, 2000)  # exposure 2 against 5
        b = rng.poisson(base * 5.0, 2000)
        hits = [(r["low"] <= true_ratio <= r["high"]) for r in (rate_ratio(x, 2.0, y, 5.0) for x, y in zip(a, b))
                if np.isfinite(r["low"])]
        assert np.mean(hits) >= 0.94, (true_ratio, np.mean(hits))


def test_wilson_and_poisson_intervals_cover_in_simulation():
    rng = np.random.default_rng(3)
    for p, n in ((0.05, 40), (0.3, 120)):
        k = rng.binomial(n, p, 2000)
        assert np.mean([lo <= p <= hi for lo, hi in (wilson(x, n) for x in k)]) >= 0.92
    k = rng.poisson(6.0, 2000)
    assert np.mean([lo <= 6.0 <= hi for lo, hi in (poisson_interval(x) for x in k)]) >= 0.95


def test_disproportionality_per_1000_and_ratio(store, searched_set, tmp_path):
    set_id = stored_set(store, searched_set)
    load_stop_search(store, set_id, [STOP_SEARCH], loaded_by="test", before_days=14)
    population = tmp_path / "population.csv"
    population.write_text("lsoa21cd,ethnic_group,population\nE01,White,100000\nE01,\"Black, Black British, Black "
                          "Welsh, Caribbean or African\",20000\nE02,Asian or Asian British,50000\nE02,White,50000\n")
    table = stop_search_report(store, set_id, population=population).disproportionality.set_index("group")
    raw = pd.read_csv(STOP_SEARCH, dtype=str, keep_default_na=False)["Self-defined ethnicity"]
    black, white = raw.str.startswith("Black").sum(), raw.str.startswith("White").sum()
    assert table.loc["White", "per_1000"] == pytest.approx(1000 * white / 150000)
    assert table.loc["Black", "ratio_to_white"] == pytest.approx((black / 20000) / (white / 150000))
    assert table.loc["Black", "ratio_low"] < table.loc["Black", "ratio_to_white"] < table.loc["Black", "ratio_high"]
    bad = tmp_path / "bad.csv"
    bad.write_text("ethnic_group,people\nWhite,3\n")
    with pytest.raises(FormatError, match="missing column"):
        read_population(bad)


def _recoverable(published_mask: np.ndarray) -> np.ndarray:
    """Hidden cells whose value the published cells pin down, by the null space of the table's sums."""
    n_rows, n_cols = published_mask.shape
    hidden = list(zip(*np.nonzero(published_mask)))
    if not hidden:
        return np.zeros(0, bool)
    equations = []
    for i in range(n_rows):
        equations.append({(i, j): 1.0 for j in range(n_cols - 1)} | {(i, n_cols - 1): -1.0})
    for j in range(n_cols):
        equations.append({(i, j): 1.0 for i in range(n_rows - 1)} | {(n_rows - 1, j): -1.0})
    a = np.array([[eq.get(c, 0.0) for c in hidden] for eq in equations])
    free = null_space(a)
    return np.all(np.abs(free) < 1e-9, axis=1) if free.size else np.ones(len(hidden), bool)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5).flatmap(lambda r: st.integers(2, 4).flatmap(
    lambda c: st.lists(st.integers(0, 30), min_size=r * c, max_size=r * c).map(lambda v: np.array(v).reshape(r, c)))))
def test_suppression_hides_small_counts_and_what_would_reveal_them(values):
    table = pd.DataFrame(values, index=[f"r{i}" for i in range(values.shape[0])],
                         columns=[f"c{j}" for j in range(values.shape[1])])
    published, hidden = suppress(table)
    full = with_totals(table).to_numpy()
    shown = published.to_numpy()[~hidden]
    assert all(v == 0 or v >= 5 for v in shown)
    assert (published.to_numpy()[hidden] == SUPPRESSED).all()
    assert not _recoverable(hidden).any()
    assert (full[~hidden] == shown.astype(np.int64)).all()


def test_tables_of_the_same_searches_hide_the_same_totals():
    by_group = pd.DataFrame({"hotspots": [3, 40, 20], "rest": [50, 60, 70]}, index=["a", "b", "c"])
    by_outcome = pd.DataFrame({"hotspots": [30, 33], "rest": [90, 90]}, index=["x", "y"])
    done = suppress_together({"group": by_group, "outcome": by_outcome})
    hidden = {name: set(t.columns[t.loc["Total"].eq(SUPPRESSED)]) for name, t in done.items()}
    assert hidden["group"] == hidden["outcome"]


def test_engagement_flags_follow_the_clock():
    designated = pd.Series({"HS-0001": dt.date(2024, 1, 1), "HS-0002": dt.date(2024, 1, 1),
                            "HS-0003": dt.date(2024, 1, 12), "HS-0004": dt.date(2024, 1, 1)})
    plans = pd.DataFrame({"hotspot_id": ["HS-0002", "HS-0004"], "status": ["agreed", "closed"],
                          "next_review": [dt.date(2024, 1, 20), None]})
    early = engagement_flags(designated, plans, today=dt.date(2024, 1, 12)).set_index("hotspot_id")["flag"]
    assert (early == "").all()
    late = engagement_flags(designated, plans, today=dt.date(2024, 1, 25)).set_index("hotspot_id")
    assert late.loc["HS-0001", "flag"].startswith("no agreed plan 24 days after designation")
    assert late.loc["HS-0001", "days_over"] == 10
    assert late.loc["HS-0002", "flag"] == "review overdue since 2024-01-20"
    assert late.loc["HS-0003", "flag"] == "" and late.loc["HS-0004", "flag"] == ""


def test_engagement_flags_reach_the_service_api_and_map(store, searched_set):
    stored_set(store, searched_set)
    ids = searched_set.hotspots["hotspot_id"].tolist()
    update_engagement(store, ids[0], actor="test", status="agreed", owner="Ladywood NPU", owner_role="inspector",
                      next_review=dt.date(2024, 2, 20))
    log_activity(store, ids[0], kind="knife sweep", happened_on=dt.date(2024, 1, 20), actor="test")
    with pytest.raises(ValidationError, match="kind"):
        log_activity(store, ids[0], kind="raid", happened_on=dt.date(2024, 1, 20), actor="test")
    flags = hotspot_flags(store, today=dt.date(2024, 2, 5)).set_index("hotspot_id")
    assert flags.loc[ids[0], "flag"] == "" and flags.loc[ids[1], "flag"].startswith("no agreed plan 21 days")
    merged = plans_with_flags(store, ids, today=dt.date(2024, 2, 5)).set_index("hotspot_id")
    assert merged.loc[ids[1], "status"] == "none recorded" and merged.loc[ids[0], "owner_role"] == "inspector"


def test_quarterly_return_and_public_summary(store, searched_set):
    with pytest.raises(NotReadyError):
        quarterly_return(store, "2024Q1")
    set_id = stored_set(store, searched_set)
    load_stop_search(store, set_id, [STOP_SEARCH], loaded_by="test", before_days=14)
    ret = quarterly_return(store, "2024-q1")
    table = ret.table()
    assert list(table["period_label"]) == ["2024-01-15", "2024Q1 total"]
    assert table["searches_in_hotspots"].iloc[0] == table["searches_in_hotspots"].iloc[-1] > 0
    assert "2024-01-15" in ret.csv() and "Serious violence hotspot return" in ret.page()
    with pytest.raises(NotReadyError, match="published from 2024-04-28"):
        transparency_summary(store, "2024Q1", today=dt.date(2024, 4, 27))
    summary = transparency_summary(store, "2024Q1", today=dt.date(2024, 4, 28))
    page = summary.page()
    for hotspot in searched_set.hotspots.itertuples():
        assert hotspot.hotspot_id not in page and hotspot.name not in page
    for table in summary.tables.values():
        inner = table.to_numpy().ravel()
        assert all(v == SUPPRESSED or v == 0 or v >= 5 for v in inner)
    assert parse_quarter("2024Q4")[1:] == (dt.date(2024, 10, 1), dt.date(2024, 12, 31))
    with pytest.raises(ValidationError, match="2024Q1"):
        parse_quarter("2024-13")


def test_cli_stop_search_return_and_transparency(searched_set, tmp_path):
    from hotspots.store import open_store

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    set_id = stored_set(open_store(url), searched_set)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "hotspots.cli", *args, "--db", url], capture_output=True,
                              text=True, cwd=tmp_path)

    done = run("stop-search", "load", str(STOP_SEARCH), "--set", str(set_id), "--before-days", "14")
    assert done.returncode == 0 and "2,326 searches" in done.stdout, done.stderr
    done = run("stop-search", "report", "--set", str(set_id), "--out", str(tmp_path / "t"))
    assert done.returncode == 0 and (tmp_path / "t" / "stop_search_find_rates.csv").exists(), done.stderr
    done = run("return", "2024Q1", "--csv", str(tmp_path / "r.csv"), "--html", str(tmp_path / "r.html"))
    assert done.returncode == 0 and pd.read_csv(tmp_path / "r.csv")["searches_in_hotspots"].iloc[0] > 0, done.stderr
    done = run("transparency", "2024Q1", "--today", "2024-03-01")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert done.returncode == 2 and len(errors) == 1 and "published from" in errors[0], done.stderr
    done = run("stop-search", "report", "--set", "99")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_return_and_public_summary_open_in_headless_chromium(store_url, searched_set, tmp_path):
    from test_maps import headless_chromium
    from test_web_browser import console_errors

    from hotspots.store import open_store

    store = open_store(store_url)
    set_id = stored_set(store, searched_set)
    load_stop_search(store, set_id, [STOP_SEARCH], loaded_by="test", before_days=14)
    pages = {"return.html": quarterly_return(store, "2024Q1").page(),
             "summary.html": transparency_summary(store, "2024Q1", today=dt.date(2025, 1, 1)).page()}
    driver = headless_chromium()
    try:
        for name, page in pages.items():
            path = tmp_path / name
            path.write_text(page, encoding="utf-8")
            driver.get(path.as_uri())
            assert driver.execute_script("return document.querySelectorAll('table').length") >= 1
            assert console_errors(driver) == [], name
    finally:
        driver.quit()



@pytest.mark.parametrize("uplift", [0.0, 1.0])
def test_detection_effect_recovers_a_known_uplift_on_the_synthetic_city(force_area, uplift):
    """Known detection effect in (patrolled places record 1 + uplift times the weapons and drugs offences),
    estimate and interval out; with no uplift the interval holds 1."""
    from hotspots.synth import PatrolEffect, SynthParams, apply_patrol, generate
    from hotspots.trials.allocation import allocate
    from hotspots.trials.detection import detection_effect
    from hotspots.trials.simulate import START, as_stored_frame, trial_places

    before = during = 12
    city = generate(SynthParams(seed=11, incidents=60_000, days=7 * (before + during), start=START), area=force_area)
    members = trial_places(city, 40, 9)
    ids = list(dict.fromkeys(members["hotspot_id"]))
    start = START + dt.timedelta(weeks=before)
    alloc = allocate(pd.DataFrame({"place_id": ids, "risk": np.arange(len(ids))}), "blocked", seed=5,
                     strata=("risk_band",), start=start)
    treated = set(np.asarray(ids)[alloc.treated[:, 0]])
    cells = tuple(members.loc[members["hotspot_id"].isin(treated), "h3_cell"])
    city = apply_patrol(city, PatrolEffect(cells=cells, reduction=0.0, detection_uplift=uplift, first_day=7 * before),
                        seed=6)
    detected = city.incidents[city.incidents["offence"].eq("possession_of_weapons")]
    got = detection_effect(alloc, members, as_stored_frame(detected), before=before, during=during,
                           offences=["possession_of_weapons"], timezone=city.params.timezone)
    low, high = got["irr_ci"]
    assert low <= 1 + uplift <= high, got
    if uplift:
        assert low > 1 and "patrols recorded more" in got["reading"]


def test_shipped_months_on_a_set_chosen_from_crime_counts(store):
    """The shipped West Midlands months (June to September 2024) on the force-wide set chosen for
    September 2024 from violence and robbery counts (not from the searches): the stored counts equal an
    independent count of the raw files, and every table is produced."""
    import tomllib

    from hotspots.core.config import SHIPPED_DATA
    from hotspots.geo.areas import NamedAreas
    from hotspots.services.counts import select_from_counts

    counts = SHIPPED_DATA / "counts" / "west_midlands_lsoa_month_counts.csv.gz"
    districts = NamedAreas.from_file(SHIPPED_DATA / "boundaries" / "west_midlands_districts.geojson.gz", "LAD_name")
    named = tomllib.loads(counts.with_name("west_midlands_lsoa_month_counts.toml").read_text())["incomplete"]
    run = select_from_counts(store, counts, SHIPPED_DATA / "boundaries" / "west_midlands_lsoa21.geojson.gz",
                             districts=districts, incomplete_months=named, month="2024-09",
                             categories=["Violence and sexual offences", "Robbery"])
    files = sorted((SHIPPED_DATA / "stop_search").glob("2024-0*-west-midlands-stop-and-search.csv.gz"))
    load = load_stop_search(store, run.set_id, files, loaded_by="test", before_days=92)
    raw = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files], ignore_index=True)
    assert load.rows_read == len(raw) == 8640 and load.months == ["2024-06", "2024-07", "2024-08", "2024-09"]
    members = run.result.hotspot_set.members.set_index("h3_cell")["hotspot_id"]
    resolution = h3.get_resolution(members.index[0])
    inside = pd.Series([members.get(h3.latlng_to_cell(float(la), float(lo), resolution)) is not None if la else False
                        for la, lo in zip(raw["Latitude"], raw["Longitude"])])
    local = pd.to_datetime(raw["Date"], utc=True).dt.tz_convert("Europe/London")
    during = local.dt.strftime("%Y-%m").eq("2024-09")
    report = stop_search_report(store, run.set_id)
    rates = report.rates.set_index(["place", "window"])["searches"]
    assert rates["hotspots", "during"] == (inside & during).sum()
    assert rates["hotspots", "before"] == (inside & ~during).sum()
    assert rates["rest", "during"] == (~inside & during).sum()
    assert report.days == {"before": 92, "during": 30}
    drugs = raw["Object of search"].eq("Controlled drugs") & inside & during
    assert report.by_object.set_index("object_of_search").loc["Controlled drugs", "hotspots"] == drugs.sum()
    assert set(report.tables()) == {"rates", "comparisons", "per_hotspot", "by_legislation", "by_object", "find_rates"}


def test_detection_by_period_recovers_a_known_uplift(force_area):
    """Known uplift in (patrolled hotspots record twice the weapons offences during their period), the
    per-period ratio of ratios out, its interval holding 2; the pooled sentence says it."""
    from hotspots.synth import PatrolEffect, SynthParams, apply_patrol, generate
    from hotspots.trials.detection import detection_by_period, detection_sentence
    from hotspots.trials.simulate import START, as_stored_frame, trial_places

    city = generate(SynthParams(seed=12, incidents=80_000, days=112, start=START), area=force_area)
    members = trial_places(city, 40, 9)
    city = apply_patrol(city, PatrolEffect(cells=tuple(members["h3_cell"]), reduction=0.0, detection_uplift=1.0,
                                           first_day=56, last_day=84), seed=4)
    detected = as_stored_frame(city.incidents[city.incidents["offence"].eq("possession_of_weapons")])
    start = pd.Timestamp(START + dt.timedelta(days=56)).tz_localize("Europe/London").tz_convert("UTC")
    end = pd.Timestamp(START + dt.timedelta(days=84)).tz_localize("Europe/London").tz_convert("UTC")
    table, pooled = detection_by_period(detected, [("P1", start, end, members)])
    row = table.iloc[0]
    assert row["low"] <= 2.0 <= row["high"] and row["low"] > 1, row.to_dict()
    assert pooled["periods"] == 1 and pooled["ratio"] == pytest.approx(row["ratio"])
    assert "changed" in detection_sentence(pooled, ["possession_of_weapons"])
    assert "not measured" in detection_sentence({"periods": 0}, ["drugs"])


def test_flags_reach_the_api_and_the_map(store_url, searched_set, force_area):
    """The set's period (January 2024) is long past, so with no plan every hotspot is flagged; an agreed
    plan reviewed in the future clears one; a review date in the past flags it again."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from hotspots.store import open_store
    from maps.weekly import weekly_map
    from hotspots.store.tokens import add_token

    store = open_store(store_url)
    set_id = stored_set(store, searched_set)
    token = add_token(store, "flags-commander", "commander", actor="test")
    first, second = searched_set.hotspots["hotspot_id"].tolist()[:2]
    ids = searched_set.hotspots["hotspot_id"]
    page = weekly_map(searched_set, region=force_area.geometry, resolution=10, engagement=plans_with_flags(store, ids))
    assert "none recorded \\u26a0 no agreed plan" in page and set_id
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(store_url)) as client:
        flags = {f["hotspot_id"]: f for f in client.get("/engagement-plans/flags", headers=headers).json()}
        assert set(flags) == set(searched_set.hotspots["hotspot_id"])
        assert all(f["flag"].startswith("no agreed plan") for f in flags.values())
        future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
        client.put(f"/engagement-plans/{first}", json={"status": "agreed", "next_review": future}, headers=headers)
        client.put(f"/engagement-plans/{second}", json={"status": "agreed", "next_review": "2024-03-01"}, headers=headers)
        done = client.post(f"/engagement-plans/{first}/activities", headers=headers,
                           json={"kind": "youth provision", "happened_on": "2024-01-20"})
        assert done.status_code == 201, done.text
        flags = {f["hotspot_id"]: f for f in client.get("/engagement-plans/flags", headers=headers).json()}
        assert flags[first]["flag"] == "" and flags[second]["flag"] == "review overdue since 2024-03-01"
        flagged = client.get("/engagement-plans/flags?flagged_only=true", headers=headers).json()
        assert first not in {f["hotspot_id"] for f in flagged}
        logged = client.get(f"/engagement-plans/{first}/activities", headers=headers).json()
        assert [a["kind"] for a in logged] == ["youth provision"]
    store.dispose()
