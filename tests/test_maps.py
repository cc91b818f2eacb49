"""The weekly map: small, self-contained, and drawn by a real headless Chromium with no console errors."""

import io
import os
import re
import shutil
import time

import numpy as np
import pandas as pd
import pytest

from maps import weekly_map, write_map
from maps.offline import png_rgba


@pytest.fixture(scope="module")
def page(weeks, force_area, npus):
    first, second = weeks
    return weekly_map(second.hotspot_set, region=force_area.geometry, resolution=10, scores=second.scores,
                      incidents=second.last_period_incidents, previous=first.hotspot_set, areas=npus,
                      title=f"Hotspots {second.period_label}", subtitle=second.sentence)


def test_force_wide_map_is_small_and_needs_no_network(page):
    assert len(page.encode()) < 3_000_000
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', page)
    assert "L.map(" in page and "ImageOverlay" in page.replace("imageOverlay", "ImageOverlay")


def test_popups_carry_what_commanders_read(page, weeks):
    for field in ("Rank", "Harm (CCHI days)", "Trend", "Engagement plan", "Incidents last period"):
        assert field in page
    assert weeks[1].hotspot_set.hotspots["hotspot_id"].iloc[0] in page


def test_npu_map_holds_only_that_npu(weeks, force_area, npus):
    hs = weeks[1].hotspot_set
    one = hs.hotspots["area_name"].iloc[0]
    page = weekly_map(hs, region=force_area.geometry, resolution=10, scores=weeks[1].scores, areas=npus, npu=one)
    others = hs.hotspots.loc[hs.hotspots["area_name"] != one, "hotspot_id"]
    assert hs.hotspots["hotspot_id"].iloc[0] in page and not any(f'"{h}"' in page for h in others)


def test_png_encoder_round_trips():
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (7, 5, 4), dtype=np.uint8)
    back = np.asarray(Image.open(io.BytesIO(png_rgba(pixels))))
    np.testing.assert_array_equal(back, pixels)


def test_map_path_must_be_html(tmp_path):
    from hotspots.core.errors import HotspotsError

    with pytest.raises(HotspotsError, match="ending .html"):
        write_map("<html></html>", tmp_path / "map.png")


def _chromium():
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if all(found):
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but Chromium/ChromeDriver are missing: run scripts/install-browser")
    pytest.skip("Chromium is not installed here; scripts/install-browser installs it")


def headless_chromium(window: str = "1200,900", loopback: bool = False, downloads=None):
    """A headless Chromium with no network (with ``loopback``, 127.0.0.1 only), its console logged,
    and downloads (if a folder is given) saved there without asking."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    rules = "MAP * ~NOTFOUND" + (", EXCLUDE 127.0.0.1" if loopback else "")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={window}",
                "--disable-dev-shm-usage", f"--host-resolver-rules={rules}"):  # no network, on purpose
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
    return webdriver.Chrome(service=Service(driver_path), options=options)


def test_map_draws_in_headless_chromium(page, tmp_path):
    from PIL import Image

    path = write_map(page, tmp_path / "weekly.html")
    driver = headless_chromium()
    try:
        driver.get(path.as_uri())
        deadline = time.time() + 20
        while time.time() < deadline and not driver.execute_script(
                "return document.querySelectorAll('.leaflet-interactive').length"):
            time.sleep(0.2)
        drawn = driver.execute_script("return document.querySelectorAll('.leaflet-interactive').length")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        shot = np.asarray(Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB"))
    finally:
        driver.quit()
    assert errors == []
    assert drawn > 0
    # Not blank: many distinct colours (surface ramp, geofences, legend), not one background.
    assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 50


def test_script_planted_in_the_data_never_runs_in_the_map(weeks, force_area, npus, tmp_path):
    """Every free-text field a map shows (hotspot and area names, trend, engagement status) carries
    script; opened in Chromium with every tooltip and popup shown, none of it runs, and it reads as text.
    The page is opened from a file, without the service's CSP, so escaping alone is what is tested."""
    planted = ['<img src=x onerror="window.__pwned=1">', "<script>window.__pwned=2</script>",
               '"><svg onload="window.__pwned=3">', "<b onmouseover=window.__pwned=4>hover</b>"]
    first, second = weeks
    hs = second.hotspot_set
    hs.hotspots = hs.hotspots.copy()
    n = len(hs.hotspots)
    hs.hotspots["name"] = [planted[i % 4] for i in range(n)]
    hs.hotspots["area_name"] = [planted[(i + 1) % 4] for i in range(n)]
    hs.hotspots["emerging_class"] = planted[2]
    plans = pd.DataFrame({"hotspot_id": hs.hotspots["hotspot_id"], "status": planted[3], "next_review": planted[0]})
    page = weekly_map(hs, region=force_area.geometry, resolution=10, scores=second.scores,
                      incidents=second.last_period_incidents, previous=first.hotspot_set, areas=npus,
                      engagement=plans, title=planted[1], subtitle=planted[0])
    driver = headless_chromium()
    try:
        driver.get(write_map(page, tmp_path / "planted.html").as_uri())
        deadline = time.time() + 20
        while time.time() < deadline and not driver.execute_script(
                "return document.querySelectorAll('.leaflet-interactive').length"):
            time.sleep(0.2)
        shown = driver.execute_script("""
            // Hover and click every feature, as a commander would: the parent layer renders its
            // tooltip and popup for it. Keep what each showed.
            const shown = [];
            for (const key of Object.keys(window)) {
              const layer = window[key];
              if (!key.startsWith('geo_json_') || !layer || !layer.eachLayer) continue;
              layer.eachLayer((l) => {
                const at = l.getBounds ? l.getBounds().getCenter() : l.getLatLng();
                l.fire('mouseover', {latlng: at, layer: l}, true);
                l.fire('click', {latlng: at, layer: l}, true);
                for (const box of document.querySelectorAll('.leaflet-popup-content, .leaflet-tooltip')) {
                  shown.push(box.innerText);
                }
              });
            }
            return shown;""")
        time.sleep(0.5)
        pwned = driver.execute_script("return window.__pwned === undefined ? null : window.__pwned")
        injected = driver.execute_script("return document.querySelectorAll('img[src=\"x\"], b[onmouseover]').length")
    finally:
        driver.quit()
    assert len(shown) > 0 and pwned is None and injected == 0
    text = "\n".join(shown)
    assert "<img src=x" in text and "<script>" in text  # shown as text, not run as markup
