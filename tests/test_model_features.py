"""Predictor features: counts match a plain recount, nothing from the forecast period or after leaks in."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from model_fixtures import TACTICAL

from hotspots.core.errors import HotspotsError
from hotspots.geo import cells as h3cells
from models.features import CellHistory, FeatureConfig, PointLayer, neighbour_matrix
from models.target import parse_target


def _column(history, period, name):
    return history.features(period)[:, history.feature_names.index(name)]


def test_lag_counts_match_a_recount(history, two_years):
    p = history.last_period - 2
    start, end = history.calendar.bounds(p - 3)[0], history.calendar.bounds(p - 1)[1]
    target = two_years[history.target.mask(two_years)]
    window = target[(target["occurred_from"] >= start) & (target["occurred_from"] < end)]
    cells = h3cells.points_to_cells(window["lon"].to_numpy(), window["lat"].to_numpy(), 9)
    want = pd.Series(1, index=cells).groupby(level=0).sum()
    got = _column(history, p, "lag_3")
    idx = np.searchsorted(history.cells, want.index.to_numpy(np.uint64))
    np.testing.assert_array_equal(got[idx], want.to_numpy())
    assert got.sum() == want.sum()


def test_features_use_only_the_past(history, two_years, force_area):
    """Features of period p are the same whatever happened in p and after: drop it all and compare."""
    p = history.last_period - 3
    cutoff = history.calendar.bounds(p)[0]
    past = two_years[two_years["occurred_to"] < cutoff]
    truncated = CellHistory(past, force_area.cells(9), TACTICAL, history.target, "EPSG:27700")
    np.testing.assert_array_equal(history.features(p), truncated.features(p))


def test_a_month_that_runs_past_the_start_is_not_used():
    """A data.police.uk month straddling the period start is scored by its days but not used to forecast."""
    lon, lat = -1.8983, 52.4796
    months = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]).tz_localize("Europe/London")
    frame = pd.DataFrame({
        "incident_id": ["a", "b", "c", "d"], "lon": lon, "lat": lat,
        "occurred_from": months.tz_convert("UTC"),
        "occurred_to": (months + pd.offsets.MonthBegin(1)).tz_convert("UTC"),
        "offence": "violence_with_injury", "offence_group": "violence_and_sexual_offences",
        "knife_enabled": None, "victim_under_25": None, "harm_weight": 365.0,
    })
    cell = h3cells.points_to_cells(np.array([lon]), np.array([lat]), 10)
    h = CellHistory(frame, h3cells.k_ring(cell, 1), TACTICAL, parse_target("violence_with_injury"), "EPSG:27700",
                    FeatureConfig(bandwidths_m=(300.0,)))
    p = TACTICAL.period_of(dt.date(2024, 3, 25))  # 2024-03-25..04-21: March and April both straddle it
    i = int(np.searchsorted(h.cells, cell[0]))
    assert _column(h, p, "lag_12")[i] == 2  # January and February only
    assert h.observed(p)[i] == pytest.approx(7 / 31 + 21 / 30)  # scored by the days inside the period
    assert h.known_targets(p).size == 2


def test_neighbour_matrix_rings():
    centre = h3cells.points_to_cells(np.array([-1.9]), np.array([52.48]), 9)
    region = h3cells.k_ring(centre, 3)
    one, two = neighbour_matrix(region, 1), neighbour_matrix(region, 2)
    i = int(np.searchsorted(region, centre[0]))
    assert one[i].sum() == 6 and two[i].sum() == 18
    assert (one != one.T).nnz == 0 and one.diagonal().sum() == 0


def test_layers_give_distance_and_count(history):
    lon, lat = h3cells.cell_centres(history.cells[:1])
    from hotspots.geo.projection import project

    x, y = project(lon, lat, "EPSG:27700")
    h = CellHistory(history.incidents_used, history.cells, TACTICAL, history.target, "EPSG:27700",
                    FeatureConfig(bandwidths_m=(300.0,)), (PointLayer("schools", x, y),))
    p = h.last_period
    assert _column(h, p, "dist_schools")[0] == pytest.approx(0.0, abs=1e-6)
    assert _column(h, p, "count_schools")[0] == 1
    assert _column(h, p, "dist_schools")[1:].min() > 0


def test_targets():
    t = parse_target("Violence and sexual offences, Robbery")
    assert t.offences == ("violence_and_sexual_offences", "robbery")
    with pytest.raises(HotspotsError, match="found by police activity"):
        parse_target("Possession of weapons")
    assert parse_target("drugs", allow_police_detected=True).offences == ("drugs",)
    with pytest.raises(HotspotsError, match="not a known offence"):
        parse_target("knives")
    police_uk = pd.DataFrame({"offence": ["robbery"], "offence_group": ["robbery"], "knife_enabled": [None],
                              "victim_under_25": [None]})
    with pytest.raises(HotspotsError, match="knife flag and victim age"):
        parse_target("knife_syv").mask(police_uk)


def test_periods_outside_the_data_are_refused(history):
    with pytest.raises(HotspotsError, match="outside what the data can forecast"):
        history.features(history.last_period + 5)
    with pytest.raises(HotspotsError, match="outside what the data can score"):
        history.observed(history.last_period + 1)


def test_long_run_features_are_the_mean_and_its_shrinkage(history):
    """``mean_all`` is each cell's mean count over every earlier period; ``shrunk_mean`` lies between it and
    its ring's mean, and keeps the ring's mean where a cell is as busy as its ring."""
    from models.features import neighbour_matrix

    p = history.last_period
    i = p - history.first_period
    mean = history.known_counts[:i].mean(axis=0)
    np.testing.assert_allclose(_column(history, p, "mean_all"), mean, rtol=1e-6)
    ring = neighbour_matrix(history.cells, history.config.shrink_steps)
    local = (ring @ mean + mean) / (np.asarray(ring.sum(axis=1)).ravel() + 1)
    shrunk = _column(history, p, "shrunk_mean")
    lo, hi = np.minimum(mean, local), np.maximum(mean, local)
    assert ((shrunk >= lo - 1e-6) & (shrunk <= hi + 1e-6)).all()
    k = history.config.shrink_periods
    np.testing.assert_allclose(shrunk, (mean * i + k * local) / (i + k), rtol=1e-5, atol=1e-7)
