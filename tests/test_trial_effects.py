"""Effect estimators: published worked examples, slow twins, and simulation (known effect in, interval out)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import score_statistic_loop

from hotspots.core.errors import HotspotsError
from hotspots.trials.allocation import allocate, redraw
from hotspots.trials.displacement import buffer_rings, wdd, wdq
from hotspots.trials.effects import (
    Panel,
    difference_in_differences,
    fixed_effects,
    phase_model,
    randomisation_test,
    score_statistic,
)
from hotspots.trials.power import baseline, periods_needed, trial_power

# --- worked examples from the literature ---------------------------------------------------


def test_wdd_reproduces_wheeler_and_ratcliffe_2018():
    # Their worked example (as in ptools' test "Est & Variance Paper"): treated 207 -> 110,
    # control 308 -> 318, displacement 178 -> 157, its control 150 -> 140: WDD -118,
    # variance 1568, z -2.98, 95% interval -196 to -40.
    got = wdd(treated=(207, 110), control=(308, 318), disp_treated=(178, 157), disp_control=(150, 140))
    assert got.local == -107 and got.displacement == -11 and got.total == -118
    assert got.total_se == pytest.approx(np.sqrt(1568))
    assert round(got.z, 2) == -2.98
    assert round(got.ci[0]) == -196 and round(got.ci[1]) == -40


def test_wdd_reproduces_wheelers_time_weighted_example():
    # Wheeler (2021), "The WDD test with different pre/post time periods": treated 80 -> 20,
    # control 100 -> 50. Unweighted: -10, SE 15.8. Two years before, one after: -20, SE 10.7.
    plain = wdd(treated=(80, 20), control=(100, 50))
    assert plain.total == -10 and round(plain.total_se, 1) == 15.8
    weighted = wdd(treated=(80, 20), control=(100, 50), time_weights=(2, 1))
    assert weighted.total == -20 and round(weighted.total_se, 1) == 10.7


def test_rirr_reproduces_wilsons_example_as_worked_by_wheeler():
    # Wheeler (2021), "Comparing the WDD vs the Wilson log IRR estimator": treated 50 -> 30,
    # control 60 -> 55: WDD -15, log IRR -0.4238142, IRR 0.6545455.
    panel = Panel(["t", "c"], np.array([[50.0, 30.0], [60.0, 55.0]]), np.array([[False, True], [False, False]]),
                  np.array([False, True]), np.array([True, False]))
    did = difference_in_differences(panel)
    assert did["did_per_period"] == -15
    assert np.log(did["rirr"]) == pytest.approx(-0.4238142, abs=1e-7)
    assert did["rirr"] == pytest.approx(0.6545455, abs=1e-7)
    se = np.sqrt(1 / 50 + 1 / 30 + 1 / 60 + 1 / 55)
    assert did["rirr_ci"][0] == pytest.approx(np.exp(np.log(0.6545455) - 1.959964 * se), rel=1e-5)


def test_wdq_follows_bowers_and_johnson_as_set_out_by_guerette():
    # Guerette (2009), Appendix B formulas, on the Wheeler and Ratcliffe counts (R treated,
    # D its buffer, C control): every term by exact fractions.
    got = wdq(r_before=207, r_after=110, d_before=178, d_after=157, c_before=308, c_after=318)
    success = 110 / 318 - 207 / 308
    buffer = 157 / 318 - 178 / 308
    assert got.success_measure == pytest.approx(success) and got.buffer_measure == pytest.approx(buffer)
    assert got.wdq == pytest.approx(buffer / success) and 0 < got.wdq < 1  # diffusion of benefit, smaller than the effect
    assert got.total_net_effect == pytest.approx((207 * 318 / 308 - 110) + (178 * 318 / 308 - 157))


def test_wdq_needs_control_crimes():
    with pytest.raises(HotspotsError, match="control area both before and after"):
        wdq(10, 5, 3, 3, 0, 4)


# --- estimators against each other and their slow twins ------------------------------------


def parallel_panel(rng, n=30, before=8, during=8, reduction=0.0, mean=4.0, dispersion_k=None):
    means = rng.gamma(2.0, mean / 2.0, n)
    arm = np.zeros(n, bool)
    arm[rng.permutation(n)[: n // 2]] = True
    t = before + during
    during_mask = np.arange(t) >= before
    treated = arm[:, None] & during_mask[None, :]
    mu = means[:, None] * np.where(treated, 1 - reduction, 1.0) * np.ones((1, t))
    if dispersion_k is None:
        y = rng.poisson(mu)
    else:  # clustered counts: each crime brings a geometric number of others (variance linear in the mean)
        clusters = rng.poisson(mu / dispersion_k)
        y = np.array([[rng.geometric(1 / dispersion_k, c).sum() if c else 0 for c in row] for row in clusters])
    return Panel([f"P{i}" for i in range(n)], y.astype(float), treated, during_mask, arm)


def test_phase_model_equals_the_rirr_for_two_phases():
    # With place and phase effects on before/during sums, the Poisson MLE is the ratio of ratios.
    panel = parallel_panel(np.random.default_rng(1), reduction=0.3)
    assert phase_model(panel)["irr"] == pytest.approx(difference_in_differences(panel)["rirr"], rel=1e-8)


def test_difference_in_differences_is_the_local_wdd_per_period():
    panel = parallel_panel(np.random.default_rng(2), before=6, during=3)
    did = difference_in_differences(panel)
    local = wdd(treated=(did["treatment_before"], did["treatment_during"]),
                control=(did["control_before"], did["control_during"]), time_weights=(6, 3))
    assert did["did_per_period"] == pytest.approx(local.local) and did["did_per_period_se"] == pytest.approx(local.local_se)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 7), t=st.integers(1, 6), draws=st.integers(0, 5), seed=st.integers(0, 10_000))
def test_score_statistic_matches_its_slow_twin(n, t, draws, seed):
    rng = np.random.default_rng(seed)
    y = rng.poisson(rng.uniform(0, 5), (n, t)).astype(float)
    d = rng.random((draws, n, t)) < 0.5
    assert np.allclose(score_statistic(y, d), score_statistic_loop(y, d))


def test_randomisation_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(3)
    places = pd.DataFrame({"place_id": [f"P{i}" for i in range(24)], "risk": rng.gamma(2, 2, 24)})
    alloc = allocate(places, "blocked", seed=1, strata=("risk_band",))
    p = []
    for k in range(300):
        draw = redraw(alloc, rng, 1)[0]
        during = np.arange(10) >= 5
        y = rng.negative_binomial(2, 2 / (2 + places["risk"].to_numpy()[:, None] * np.ones((1, 10))))
        panel = Panel(places["place_id"].tolist(), y.astype(float), draw[:, :1] & during, during, draw[:, 0])
        alloc.treated = draw
        p.append(randomisation_test(panel, alloc, draws=199, seed=k)["p"])
    p = np.array(p)
    assert 0.02 <= (p <= 0.05).mean() <= 0.09 and 0.4 <= np.median(p) <= 0.6


@pytest.mark.parametrize("dispersion_k", [None, 3])
def test_primary_interval_covers_a_known_effect(dispersion_k):
    """Known effect in (30% fewer), estimate and interval out, over 200 simulated trials."""
    rng = np.random.default_rng(4)
    covered, estimates = [], []
    for _ in range(200):
        panel = parallel_panel(rng, reduction=0.3, dispersion_k=dispersion_k)
        est = phase_model(panel)
        covered.append(est["irr_ci"][0] <= 0.7 <= est["irr_ci"][1])
        estimates.append(est["log_irr"])
    assert 0.91 <= np.mean(covered) <= 0.99
    assert abs(np.exp(np.mean(estimates)) - 0.7) < 0.03


def test_weekly_models_report_irr_and_the_dose_column():
    panel = parallel_panel(np.random.default_rng(5), reduction=0.3, mean=8)
    fe = fixed_effects(panel)
    assert set(fe) >= {"primary", "poisson", "negative_binomial"}
    for key in ("primary", "poisson", "negative_binomial"):
        assert 0.5 < fe[key]["irr"] < 0.9 and fe[key]["irr_ci"][0] < fe[key]["irr"] < fe[key]["irr_ci"][1]
    assert fe["negative_binomial"]["alpha"] >= 0
    harm = fixed_effects(Panel(panel.place_ids, panel.outcome * 37.5, panel.treated, panel.during, panel.arm),
                         count_outcome=False)
    assert "negative_binomial" not in harm and harm["primary"]["irr"] == pytest.approx(fe["primary"]["irr"])


def test_places_without_crime_are_left_out_not_fatal():
    panel = parallel_panel(np.random.default_rng(6))
    panel.outcome[:3] = 0
    fe = fixed_effects(panel)
    assert fe["places_left_out_no_crime"] == 3 and np.isfinite(fe["primary"]["irr"])


def test_difference_in_differences_needs_a_parallel_design():
    panel = parallel_panel(np.random.default_rng(7))
    panel.arm = None
    with pytest.raises(HotspotsError, match="parallel design"):
        difference_in_differences(panel)


# --- power -----------------------------------------------------------------------------------


def test_power_agrees_with_simulated_power():
    """The planned power of the primary test against its rejection rate on simulated trials."""
    rng = np.random.default_rng(8)
    n, before, during, reduction = 30, 8, 8, 0.25
    means = rng.gamma(2.0, 1.0, n)
    places = pd.DataFrame({"place_id": [f"P{i}" for i in range(n)], "risk": means})
    alloc = allocate(places, "blocked", seed=2, strata=("risk_band",))
    base = baseline(rng.poisson(means[:, None] * np.ones((1, 12))))
    planned = trial_power(base, alloc, reduction, before=before, during=during, draws=100)
    rejected = []
    during_mask = np.arange(before + during) >= before
    for draw in redraw(alloc, rng, 400):
        treated = draw[:, :1] & during_mask
        y = rng.poisson(means[:, None] * np.where(treated, 1 - reduction, 1.0))
        est = phase_model(Panel(places["place_id"].tolist(), y.astype(float), treated, during_mask, draw[:, 0]))
        rejected.append(est["p"] < 0.05)
    assert abs(planned - np.mean(rejected)) < 0.08  # 400 trials: Monte Carlo SE about 2.5 points


def test_power_rises_with_weeks_and_effect_and_weeks_needed_is_the_first_enough():
    rng = np.random.default_rng(9)
    places = pd.DataFrame({"place_id": [f"P{i}" for i in range(20)], "risk": np.arange(20.0)})
    alloc = allocate(places, "blocked", seed=1, strata=("risk_band",))
    base = baseline(rng.poisson(1.5, (20, 12)))
    p = [trial_power(base, alloc, 0.2, before=12, during=w, draws=30) for w in (2, 8, 32)]
    assert p[0] < p[1] < p[2]
    assert trial_power(base, alloc, 0.4, before=12, during=8, draws=30) > p[1]
    need = periods_needed(base, alloc, 0.3, before=12, target=0.8, draws=30)
    assert trial_power(base, alloc, 0.3, before=12, during=need, draws=30) >= 0.8
    assert trial_power(base, alloc, 0.3, before=12, during=need - 1, draws=30) < 0.8


def test_crossover_power_uses_only_the_trial_periods():
    places = pd.DataFrame({"place_id": [f"P{i}" for i in range(20)], "risk": np.arange(20.0)})
    alloc = allocate(places, "crossover", seed=1, periods=4, start=dt.date(2025, 1, 6))
    base = baseline(np.random.default_rng(1).poisson(2.0, (20, 8)))
    assert 0 < trial_power(base, alloc, 0.3, before=0, during=8, draws=20) < 1


def test_power_refuses_impossible_inputs():
    base = baseline(np.ones((4, 6)))
    alloc = allocate(pd.DataFrame({"place_id": list("abcd")}), "simple", seed=1)
    with pytest.raises(HotspotsError, match="reduction=1.0 must be above 0 and below 1"):
        trial_power(base, alloc, 1.0, before=4, during=4)
    with pytest.raises(HotspotsError, match="at least 4 baseline periods"):
        baseline(np.ones((4, 2)))


# --- buffer rings ------------------------------------------------------------------------------


def test_buffer_rings_leave_out_own_cells_and_shared_cells():
    from hotspots.geo import cells as h3cells

    a = h3cells.points_to_cells(np.array([-1.90]), np.array([52.48]), 10)
    b_far = h3cells.points_to_cells(np.array([-1.80]), np.array([52.48]), 10)
    members = pd.DataFrame({"hotspot_id": ["A", "B"], "h3_cell": h3cells.to_strings(np.r_[a, b_far])})
    rings = buffer_rings(members, {"A": True, "B": False}, 2)
    assert len(rings) == 2 * (6 + 12) and not set(rings["h3_cell"]) & set(members["h3_cell"])
    assert rings.groupby(["hotspot_id", "ring"]).size().tolist() == [6, 12, 6, 12]
    # B next door to A: the cells both reach at the same ring are left out.
    b_near = h3cells.k_ring(a, 2)[~np.isin(h3cells.k_ring(a, 2), h3cells.k_ring(a, 1))][:1]
    members = pd.DataFrame({"hotspot_id": ["A", "B"], "h3_cell": h3cells.to_strings(np.r_[a, b_near])})
    near = buffer_rings(members, {"A": True, "B": False}, 1)
    ring_a = set(h3cells.to_strings(h3cells.k_ring(a, 1))) - set(members["h3_cell"])
    ring_b = set(h3cells.to_strings(h3cells.k_ring(b_near, 1))) - set(members["h3_cell"])
    assert set(near["h3_cell"]) == ring_a ^ ring_b  # shared cells dropped
