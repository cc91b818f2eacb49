"""hotspot_kde as analysts use it: time decay, harm weights, bandwidth by cross-validation, the CLI."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLES
from test_cli import hotspots

from hotspots.core.errors import HotspotsError
from hotspots.density.bandwidth import choose_bandwidth
from hotspots.density.kde import KDE_COLUMNS
from hotspots.density.surface import hotspot_kde
from hotspots.density.weighting import time_weights
from hotspots.geo import cells as h3cells
from hotspots.geo.projection import BRITISH_NATIONAL_GRID, project, unproject

CENTRE_LONLAT = (-1.8983, 52.4796)


@pytest.fixture(scope="module")
def region():
    centre = h3.str_to_int(h3.latlng_to_cell(CENTRE_LONLAT[1], CENTRE_LONLAT[0], 10))
    return h3cells.k_ring(np.array([centre], dtype=np.uint64), 20)


def _blobs(n, sd, seed, centres_m=((0, 0), (1500, 800), (-1200, -900))):
    """Incidents around three places, ``sd`` metres wide, over 2024, as the store returns them."""
    rng = np.random.default_rng(seed)
    cx, cy = project(np.array([CENTRE_LONLAT[0]]), np.array([CENTRE_LONLAT[1]]), BRITISH_NATIONAL_GRID)
    which = rng.integers(0, len(centres_m), n)
    offsets = np.asarray(centres_m, float)[which]
    x = cx[0] + offsets[:, 0] + rng.normal(0, sd, n)
    y = cy[0] + offsets[:, 1] + rng.normal(0, sd, n)
    lon, lat = unproject(x, y, BRITISH_NATIONAL_GRID)
    when = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 366, n), unit="D")
    return pd.DataFrame({"lon": lon, "lat": lat, "x": x, "y": y, "occurred_from": when, "occurred_to": when,
                         "harm_weight": rng.choice([1.0, 365.0], n)})


def test_time_weights_halve_each_half_life():
    ref = pd.Timestamp("2024-06-01", tz="UTC")
    times = pd.Series(pd.to_datetime(["2024-06-01", "2024-05-04", "2024-04-06", "2024-06-02"], utc=True))
    np.testing.assert_allclose(time_weights(times, ref, 28.0), [1.0, 0.5, 0.25, 0.0])
    with pytest.raises(HotspotsError, match="half_life_days=0 must be greater than zero"):
        time_weights(times, ref, 0)


def test_prospective_surface_ignores_later_incidents(region):
    frame = _blobs(3000, 200.0, seed=1)
    ref = "2024-06-30"
    table = hotspot_kde(frame, region, bandwidth=400, half_life_days=28, reference_time=ref)
    earlier = frame[frame["occurred_from"] <= pd.Timestamp(ref, tz="UTC")]
    same = hotspot_kde(earlier, region, bandwidth=400, half_life_days=28, reference_time=ref)
    pd.testing.assert_frame_equal(table, same)
    assert table.attrs["left_out_after_reference"] == len(frame) - len(earlier)
    assert table.attrs["half_life_days"] == 28.0 and table.attrs["reference_time"].startswith("2024-06-30")
    # Decay makes recent incidents count more: total expected weight falls well below the count.
    assert table["expected"].sum() < 0.5 * len(earlier)


def test_harm_weights_and_schema(region):
    frame = _blobs(2000, 200.0, seed=2)
    counts = hotspot_kde(frame, region, bandwidth=400)
    harm = hotspot_kde(frame, region, bandwidth=400, weight="harm")
    assert list(counts.columns) == KDE_COLUMNS and counts.attrs["weight"] == "count"
    assert counts.attrs["crs"] == BRITISH_NATIONAL_GRID
    assert harm["expected"].sum() == pytest.approx(counts["expected"].sum() * frame["harm_weight"].mean(), rel=0.15)
    with pytest.raises(HotspotsError, match="weight='severity' is not known; use one of: count, harm"):
        hotspot_kde(frame, region, weight="severity")
    with pytest.raises(HotspotsError, match="reference_time='soon' is not a date"):
        hotspot_kde(frame, region, reference_time="soon")


def test_cross_validation_finds_the_bandwidth_theory_expects():
    # Known truth: three Gaussian bumps of SD sd, 1,000 incidents each. The AMISE-optimal Gaussian
    # bandwidth in 2-D is sd * n^(-1/6); a quartic kernel matches it with a radius sqrt(7)≈2.65
    # times larger. Likelihood cross-validation should land near that, and track sd.
    for sd in (100.0, 500.0):
        train, held = _blobs(3000, sd, seed=3), _blobs(600, sd, seed=4)
        choice = choose_bandwidth(train["x"], train["y"], held["x"], held["y"], area_m2=40e6,
                                  candidates_m=np.arange(25.0, 1500.0, 25.0))
        theory = np.sqrt(7.0) * sd * 1000 ** (-1 / 6)
        assert choice.bandwidth_m == pytest.approx(theory, rel=0.35), sd
        assert len(choice.scores) == len(choice.candidates_m) and choice.n_held_out == 600


def test_auto_bandwidth_scores_only_later_incidents(region):
    frame = _blobs(4000, 150.0, seed=5)
    table = hotspot_kde(frame, region, bandwidth="auto", holdout_days=60)
    assert "likelihood cross-validation" in table.attrs["bandwidth_choice"]
    assert table.attrs["bandwidth_m"] in (150.0, 200.0, 250.0, 300.0, 400.0, 500.0)
    few = frame[frame["occurred_from"] < pd.Timestamp("2024-01-05", tz="UTC")]
    with pytest.raises(HotspotsError, match="held-out incidents .* to choose a bandwidth"):
        hotspot_kde(few, region, bandwidth="auto", holdout_days=1)


def city_of_london(folder):
    """The City of London sample loaded into the folder's default store; returns a boundary file around it."""
    sample = SAMPLES / "2019-07-city-of-london-street.csv.gz"
    assert hotspots("ingest", "--force-area", "none", str(sample), cwd=folder).returncode == 0
    area = folder / "city.geojson"
    area.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": '
                    '{"type": "Polygon", "coordinates": [[[-0.115, 51.505], [-0.07, 51.505], [-0.07, 51.525], '
                    '[-0.115, 51.525], [-0.115, 51.505]]]}}]}')
    return area


def test_kde_command(tmp_path):
    area = city_of_london(tmp_path)
    done = hotspots("kde", "--area", str(area), "--resolution", "11", "--bandwidth", "250", "--mode", "binned",
                    "--top", "3", "--out", "kde.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Densest 3 of" in done.stdout and "binned: incidents moved at most" in done.stdout
    table = pd.read_csv(tmp_path / "kde.csv")
    assert list(table.columns) == KDE_COLUMNS and len(table) > 100
    for args, message in [(["--kernel", "box"], "kernel='box' is not known"),
                          (["--bandwidth", "wide"], "--bandwidth='wide' must be metres"),
                          (["--since", "July"], "--since='July' is not a date")]:
        bad = hotspots("kde", "--area", str(area), *args, cwd=tmp_path)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
