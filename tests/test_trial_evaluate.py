"""Evaluating a trial end to end in process: a crossover on the synthetic city, and the simulated trial itself."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from hotspots.synth import PatrolEffect, SynthParams, apply_patrol, generate
from hotspots.trials.allocation import allocate
from hotspots.trials.evaluate import evaluate_trial
from hotspots.trials.simulate import START, TrialSetup, as_stored_frame, simulate_trial, trial_places
from maps.trial_report import render


@pytest.fixture(scope="module")
def crossover_trial(force_area):
    """Weekly crossover over 8 weeks in 30 places; patrols cut crime by 40% where and when they run."""
    city = generate(SynthParams(seed=21, incidents=40_000, days=56 + 56, start=START), force_area)
    members = trial_places(city, 30, 9)
    ids = list(dict.fromkeys(members["hotspot_id"]))
    start = START + dt.timedelta(weeks=8)
    alloc = allocate(pd.DataFrame({"place_id": ids}), "crossover", seed=3, periods=8, period_days=7, start=start,
                     strata=())
    for period in range(8):
        patrolled = set(np.asarray(ids)[alloc.treated[:, period]])
        cells = tuple(members.loc[members["hotspot_id"].isin(patrolled), "h3_cell"])
        first = 56 + 7 * period
        city = apply_patrol(city, PatrolEffect(cells=cells, reduction=0.4, first_day=first, last_day=first + 7),
                            seed=period)
    alloc.issue = {"trial": "crossover-test", "allocation_id": 1, "version": 1}
    return alloc, members, as_stored_frame(city.incidents)


def test_crossover_evaluation_finds_the_known_effect(crossover_trial):
    alloc, members, incidents = crossover_trial
    report = evaluate_trial(alloc, members, incidents, draws=500)
    primary = report["fixed_effects"]["primary"]
    assert primary["irr_ci"][0] < 0.6 < primary["irr_ci"][1] and primary["irr"] < 0.8
    assert report["randomisation"]["p"] < 0.01 and report["window"]["periods_before"] == 0
    assert "difference_in_differences" not in report and "displacement" not in report  # parallel designs only
    html = render(report)
    assert "crossover design" in html and report["fingerprint"] in html and "<svg" in html


def test_parallel_evaluation_reports_every_estimate(crossover_trial, force_area):
    _, members, incidents = crossover_trial
    ids = list(dict.fromkeys(members["hotspot_id"]))
    alloc = allocate(pd.DataFrame({"place_id": ids}), "simple", seed=4, start=START + dt.timedelta(weeks=8))
    report = evaluate_trial(alloc, members, incidents, before=8, during=8, draws=200, rings=1)
    assert {"primary", "poisson", "negative_binomial"} <= set(report["fixed_effects"])
    assert report["difference_in_differences"]["periods_before"] == 8
    ring = report["displacement"]["rings"][0]
    assert ring["ring"] == 1 and ring["cells_patrolled_buffer"] > 0 and "wdq" in ring
    assert any("intention to treat" in line for line in report["reading"])


def test_a_simulated_trial_recovers_its_reduction_on_average(force_area):
    """Known effect in: 12 trials on fresh synthetic cities at a 30% reduction (the benchmark runs 2,000)."""
    setup = TrialSetup(reduction=0.3, places=40, incidents_per_year=20_000, power_draws=20)
    results = pd.DataFrame([simulate_trial(100 + i, setup, force_area) for i in range(12)])
    assert abs(np.exp(np.log(results["primary_irr"]).mean()) - 0.7) < 0.06
    assert ((results["primary_low"] <= 0.7) & (results["primary_high"] >= 0.7)).mean() >= 0.75
    assert results["removed"].gt(0).all() and results["planned_power"].between(0.5, 1).all()


def test_reports_state_how_each_interval_behaved_in_null_simulations(crossover_trial, tmp_path):
    """The shipped null_calibration.csv (written by benchmarks/bench_trials.py) is read into the report;
    intervals outside 3.5-6.5% type I error are marked not to be quoted, in the reading and the page."""
    from hotspots.trials.calibration import CALIBRATION_COLUMNS, QUOTABLE, calibration_for, null_calibration

    stored = null_calibration()
    assert list(stored.columns) == CALIBRATION_COLUMNS
    assert {"count", "harm"} <= set(stored["outcome"]) and stored["null_trials"].min() >= 500
    _, members, incidents = crossover_trial
    ids = list(dict.fromkeys(members["hotspot_id"]))
    alloc = allocate(pd.DataFrame({"place_id": ids}), "simple", seed=4, start=START + dt.timedelta(weeks=8))
    for outcome in ("count", "harm"):
        report = evaluate_trial(alloc, members, incidents, before=8, during=8, draws=100, rings=1, outcome=outcome)
        intervals = report["calibration"]["intervals"]
        assert intervals == calibration_for(outcome)["intervals"] and "primary" in intervals
        for key, found in intervals.items():
            assert found["quote"] == (QUOTABLE[0] <= found["type_i_error"] <= QUOTABLE[1]), key
        flagged = [k for k, v in intervals.items() if not v["quote"]]
        reading = " ".join(report["reading"])
        assert "simulated trials with no effect" in reading
        assert ("Not to be quoted" in reading) == bool(flagged)
        assert ("not to be quoted" in render(report)) == bool(flagged)
    # Without a calibration on record, the report says so rather than implying the intervals are fine.
    empty = calibration_for("count", pd.DataFrame(columns=CALIBRATION_COLUMNS))
    assert empty["intervals"] == {}
