"""Each user's job in a real headless Chromium against a real server on 127.0.0.1, on a store built
from the shipped sample: sign in, do the job, see the result, be refused the other roles' pages,
sign out. Set WEB_SCREENSHOTS to a folder to keep a screenshot of each page (the README's)."""

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES as SAMPLE_DIR
from test_api import _serve, _stop
from test_maps import headless_chromium
from web_fixtures import copy_site, gps_log

from hotspots.services.weekly import load_set
from hotspots.store import open_store
from hotspots.store.audit import audit_events

PAGES = {"commander": "/commander", "analyst": "/analyst", "tasking": "/tasking", "evaluator": "/evaluator",
         "admin": "/admin"}


@pytest.fixture(scope="module")
def server(sample_site, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    url, tokens, _ = copy_site(sample_site, folder)
    port, process = _serve(url, folder, workers=1)
    yield f"http://127.0.0.1:{port}", tokens, url, folder
    _stop(process)


@pytest.fixture
def browser(tmp_path):
    driver = headless_chromium("1280,800", loopback=True, downloads=tmp_path)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait_for(driver, condition, limit_s=30.0, what="the page"):
    from selenium.common.exceptions import WebDriverException

    deadline = time.time() + limit_s
    while time.time() < deadline:
        try:
            found = condition(driver)
        except WebDriverException:  # the element may not be there yet, or be replaced mid-check
            found = None
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} did not appear within {limit_s:.0f} s; at {driver.current_url}")


def by_css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def sign_in(driver, base, token):
    driver.get(base + "/")
    by_css(driver, "#token").send_keys(token)
    by_css(driver, "form[action='/sign-in'] button").click()
    wait_for(driver, lambda d: "/sign-in" not in d.current_url and d.current_url != base + "/", what="the role's page")


def console_errors(driver):
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def refused_elsewhere_then_sign_out(driver, base, role):
    """Every other role's page is a 403 page; signing out leads back to sign-in, and stays there."""
    for other, path in PAGES.items():
        if other in (role, "admin") and role != "admin":
            continue
        driver.get(base + path)
        if role == "admin":
            assert "This page is for" not in driver.page_source, path
        else:
            assert "This page is for the" in driver.page_source, path
    driver.get(base + PAGES[role])
    by_css(driver, "form.sign-out button").click()
    wait_for(driver, lambda d: d.current_url.endswith("/sign-in"), what="the sign-in page")
    driver.get(base + PAGES[role])
    assert driver.current_url.endswith("/sign-in")


def shot(driver, name):
    """The page as PNG bytes; kept in WEB_SCREENSHOTS when that is set."""
    png = driver.get_screenshot_as_png()
    folder = os.environ.get("WEB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.png").write_bytes(png)
    return png


def test_commander_reads_the_map_and_keeps_an_engagement_plan(server, browser):
    from PIL import Image
    from selenium.webdriver.support.ui import Select

    base, tokens, url, _ = server
    sign_in(browser, base, tokens["commander"])
    assert browser.current_url.endswith("/commander")
    rows = all_css(browser, "#hotspots tbody tr")
    assert len(rows) > 0 and len(all_css(browser, "#coverage tbody tr")) >= 4
    browser.switch_to.frame(by_css(browser, "iframe.map"))
    drawn = wait_for(browser, lambda d: len(all_css(d, ".leaflet-interactive")), what="the map's geofences")
    browser.switch_to.default_content()
    assert drawn > 0 and by_css(browser, "iframe.map").get_attribute("title").startswith("Map of the")
    browser.execute_script("document.getElementById('map-h').scrollIntoView()")
    pixels = np.asarray(Image.open(io.BytesIO(shot(browser, "commander"))).convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # the map and table drew, not a blank page
    first = load_set(open_store(url), 1).hotspots["hotspot_id"].iloc[0]
    by_css(browser, f"#{first} summary").click()
    Select(by_css(browser, f"#status-{first}")).select_by_visible_text("agreed")
    by_css(browser, f"#owner-{first}").send_keys("Ladywood NPU inspector")
    by_css(browser, f"#{first} form button").click()
    wait_for(browser, lambda d: d.current_url.endswith(f"#{first}"), what="the saved plan")
    assert "Ladywood NPU inspector" in by_css(browser, f"#{first} table").text
    shot(browser, "commander-plan")
    assert console_errors(browser) == []
    browser.set_window_size(820, 1180)  # a tablet held upright: nothing wider than the screen
    browser.refresh()
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    browser.set_window_size(1280, 800)
    refused_elsewhere_then_sign_out(browser, base, "commander")


def test_analyst_uploads_trains_with_live_progress_compares_and_promotes(server, browser):
    base, tokens, url, folder = server
    sign_in(browser, base, tokens["analyst"])
    upload = folder / "late-2017.csv"
    upload.write_text(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
        "Last outcome category,Context\n"
        f"{'ef' * 32},2017-12,West Midlands Police,West Midlands Police,-1.8950,52.4790,On or near X,E01000000,"
        "Birmingham 001A,Robbery,,\n"
        f"{'fe' * 32},2017-12,West Midlands Police,West Midlands Police,,,On or near Y,E01000000,Birmingham 001A,"
        "Robbery,,\n")
    by_css(browser, "#file").send_keys(str(upload))
    by_css(browser, "form[action='/analyst/incidents'] button").click()
    wait_for(browser, lambda d: all_css(d, "#loaded"), what="the load result")
    assert by_css(browser, "#loaded").text == "1" and by_css(browser, "#rejected").text == "1"
    assert by_css(browser, "#rejects tbody tr td").text == "3"  # the rejected row's line in the file
    for seed in ("0", "1"):
        browser.get(base + "/analyst")
        target = by_css(browser, "#target")
        target.clear()
        target.send_keys("Violence and sexual offences,Robbery")
        for field, value in (("period", "month"), ("resolution", "7"), ("cutoff", "2017-10-01"), ("periods", "1"),
                             ("seed", seed)):
            browser.execute_script("arguments[0].value = arguments[1]", by_css(browser, f"#{field}"), value)
        by_css(browser, "#run-form button[type=submit]").click()
        wait_for(browser, lambda d: "/analyst/jobs/" in d.current_url, what="the job page")
        seen = set()

        def finished(d, seen=seen):
            seen.add(by_css(d, "#job-status").text)
            return by_css(d, "#job-status").text in ("done", "failed")

        wait_for(browser, finished, limit_s=240, what="the training's end")
        assert by_css(browser, "#job-status").text == "done", by_css(browser, "#job-message").text
        assert seen & {"queued", "running"}  # the page followed the job while it ran
    shot(browser, "analyst-job")
    browser.get(base + "/analyst")
    for box in all_css(browser, "#models input[type=checkbox]"):
        box.click()
    by_css(browser, "#models + button").click()
    wait_for(browser, lambda d: all_css(d, "#comparison"), what="the comparison")
    assert len(all_css(browser, ".charts svg")) == 2
    shot(browser, "analyst-compare")
    browser.get(base + "/analyst/models/2")
    by_css(browser, "#note").send_keys("seed 1 read and checked")
    by_css(browser, "form[action='/analyst/models/2/promote'] button").click()
    wait_for(browser, lambda d: "This version serves forecasts." in d.page_source, what="the promoted card")
    assert console_errors(browser) == []
    assert audit_events(open_store(url), action="model.promote")["actor"].tolist() == ["api:analyst-post"]
    refused_elsewhere_then_sign_out(browser, base, "analyst")


def test_tasking_board_issues_a_roster_and_downloads_it(server, browser):
    base, tokens, url, _ = server
    sign_in(browser, base, tokens["tasking"])
    by_css(browser, "#seed").send_keys("11")
    by_css(browser, "#reason").send_keys("period roster from the board")
    by_css(browser, "form[action='/tasking/rosters'] button").click()
    wait_for(browser, lambda d: all_css(d, "#per-hotspot"), what="the issued roster")
    assert "Seed 11" in by_css(browser, ".lede").text.replace("\n", " ")
    assert len(all_css(browser, "#per-hotspot tbody tr")) > 0 and len(all_css(browser, "#per-unit tbody tr")) > 0
    shot(browser, "tasking-roster")
    store = open_store(url)
    before = len(audit_events(store, action="roster.download"))
    for link in all_css(browser, ".downloads a")[:3]:  # CSV, JSON and the first unit's calendar
        link.click()
    wait_for(browser, lambda d: len(audit_events(store, action="roster.download")) == before + 3,
             what="an audit row for each download")
    assert console_errors(browser) == []
    refused_elsewhere_then_sign_out(browser, base, "tasking")


def test_evaluator_registers_an_allocation_uploads_gps_and_reads_compliance(server, browser):
    base, tokens, url, folder = server
    sign_in(browser, base, tokens["evaluator"])
    by_css(browser, "#trial").send_keys("guardian-web")
    by_css(browser, "#seed").send_keys("5")
    by_css(browser, "form[action='/evaluator/allocations'] button").click()
    wait_for(browser, lambda d: all_css(d, "#arms"), what="the allocation")
    allocation_url = browser.current_url
    rows = gps_log(open_store(url), 20)
    log = folder / "avl.csv"
    rows.to_csv(log, index=False)
    browser.get(base + "/evaluator")
    by_css(browser, "#gps-file").send_keys(str(log))
    by_css(browser, "form[action='/evaluator/patrol-logs'] button").click()
    wait_for(browser, lambda d: all_css(d, "#loaded"), what="the GPS load result")
    assert by_css(browser, "#loaded").text == f"{len(rows):,}"
    browser.get(allocation_url)
    assert len(all_css(browser, "#compliance tbody tr")) > 0
    shot(browser, "evaluator-allocation")
    assert console_errors(browser) == []
    refused_elsewhere_then_sign_out(browser, base, "evaluator")


def test_admin_adds_a_user_reads_the_audit_log_and_revokes(server, browser):
    from selenium.webdriver.support.ui import Select

    base, tokens, _, _ = server
    sign_in(browser, base, tokens["admin"])
    by_css(browser, "#name").send_keys("sutton-inspector")
    Select(by_css(browser, "#role")).select_by_visible_text("commander")
    by_css(browser, "#npus").send_keys("Sutton Four Oaks")
    by_css(browser, "form[action='/admin/users'] button").click()
    token = wait_for(browser, lambda d: by_css(d, "#new-token").text, what="the new token")
    assert token.startswith("hs_")
    by_css(browser, "#f-action").send_keys("token.add")
    by_css(browser, "form[action='/admin'] button").click()
    wait_for(browser, lambda d: "action=token.add" in d.current_url, what="the filtered log")
    assert {r.text for r in all_css(browser, "#audit tbody tr td:nth-child(4)")} == {"token.add"}
    shot(browser, "admin")
    by_css(browser, "form[action='/admin/users/sutton-inspector/revoke'] button").click()
    wait_for(browser, lambda d: not all_css(d, "form[action='/admin/users/sutton-inspector/revoke']"),
             what="the revoked user")
    assert console_errors(browser) == []
    refused_elsewhere_then_sign_out(browser, base, "admin")


def test_analyst_counts_stop_search_and_opens_the_return_and_the_public_summary(server, browser):
    """Upload a stop-and-search month on the accountability page: the rates and the outcome test appear;
    the quarterly return opens signed in, the public summary without; the upload is not kept."""
    base, tokens, _, folder = server
    sign_in(browser, base, tokens["analyst"])
    browser.get(base + "/accountability")
    assert "Engagement flags" in browser.page_source and by_css(browser, "#detection").text.startswith("Detection")
    by_css(browser, "#ss-before").clear()
    by_css(browser, "#ss-before").send_keys("84")
    by_css(browser, "#ss-file").send_keys(str(SAMPLE_DIR / "2024-01-west-midlands-stop-and-search.csv.gz"))
    by_css(browser, "form[action='/accountability/stop-search'] button").click()
    wait_for(browser, lambda d: all_css(d, "#comparisons tbody tr"), what="the stop-and-search rates")
    assert len(all_css(browser, "#comparisons tbody tr")) == 4 and all_css(browser, "#find-rates tbody tr")
    shot(browser, "accountability")
    assert console_errors(browser) == []
    assert not list((folder / "uploads").glob("*stop-and-search*"))
    quarter = all_css(browser, "#returns a")[0].get_attribute("href")
    browser.get(quarter)
    assert "Serious violence hotspot return" in browser.page_source and console_errors(browser) == []
    browser.get(base + "/")
    by_css(browser, "form.sign-out button").click()
    wait_for(browser, lambda d: d.current_url.endswith("/sign-in"), what="the sign-in page")
    browser.get(quarter.replace("/accountability/returns/", "/public/transparency/"))
    assert "transparency summary" in browser.page_source and console_errors(browser) == []
    assert "HS-" not in browser.page_source
