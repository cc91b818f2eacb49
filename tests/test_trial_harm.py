"""Harm as a trial outcome: a weighted count's variance is Σ w² N, published harm-weighted WDD, and
simulations with known harm weights (known effect in, interval out)."""

import numpy as np
import pytest

from hotspots.trials.displacement import wdd, wdd_harm
from hotspots.trials.effects import Panel, difference_in_differences, phase_model

# Harm weights of five crime types (days of imprisonment, Cambridge-like: most crimes light, a few grave).
WEIGHTS = np.array([1.0, 5.0, 20.0, 90.0, 365.0])
SHARES = np.array([0.55, 0.25, 0.12, 0.06, 0.02])


def test_harm_weighted_wdd_reproduces_wheelers_published_example():
    # Wheeler (2020), "Amending the WDD test to incorporate harm weights" (ptools test "Cumulative
    # Harm"): five crime types, control then treated (before, during), weights 3, 2, 5, 7, 10.
    types = [((133, 91), (130, 74)), ((388, 305), (327, 202)), ((148, 97), (398, 190)),
             ((86, 64), (144, 92)), ((94, 67), (183, 96))]
    parts = [wdd(treated=treated, control=control) for control, treated in types]
    got = wdd_harm(parts, [3, 2, 5, 7, 10])
    assert got.total == pytest.approx(-1721.0)
    assert got.total_se == pytest.approx(304.10360077, rel=1e-8)
    assert got.z == pytest.approx(-5.65925558, rel=1e-8)
    assert got.ci[0] == pytest.approx(-2317.03210507, rel=1e-8) and got.ci[1] == pytest.approx(-1124.96789493, rel=1e-8)


def test_wdd_of_harm_sums_with_squared_weights_equals_the_per_type_combination():
    rng = np.random.default_rng(7)
    counts = rng.poisson(40, (4, 2, len(WEIGHTS)))  # treated, control, buffer, control buffer x before/during x type
    harm, harm_sq = counts @ WEIGHTS, counts @ WEIGHTS**2
    pairs = [tuple(harm[k]) for k in range(4)]
    direct = wdd(*pairs, time_weights=(3, 2), variances=tuple(tuple(harm_sq[k]) for k in range(4)))
    per_type = [wdd(*[tuple(counts[k, :, j]) for k in range(4)], time_weights=(3, 2)) for j in range(len(WEIGHTS))]
    combined = wdd_harm(per_type, WEIGHTS.tolist())
    assert direct.total == pytest.approx(combined.total, rel=1e-12)
    assert direct.total_se == pytest.approx(combined.total_se, rel=1e-12)
    assert direct.local_se == pytest.approx(combined.local_se, rel=1e-12)
    # Treating the harm sums as Poisson counts (Σ w N as its own variance) is far too narrow.
    assert wdd(*pairs, time_weights=(3, 2)).total_se < direct.total_se / 5


def test_wdd_harm_refuses_weights_that_do_not_match():
    with pytest.raises(Exception, match="one finite weight"):
        wdd_harm([wdd((10, 5), (10, 10))], [1.0, 2.0])


def harm_panel(rng, n=40, before=12, during=12, reduction=0.0, mean=3.0):
    """Crimes Poisson per place-week (place means gamma), each of a type drawn by SHARES with its
    weight; patrolled place-weeks lose ``reduction`` of their crimes, whatever the type."""
    means = rng.gamma(2.0, mean / 2.0, n)
    arm = np.zeros(n, bool)
    arm[rng.permutation(n)[: n // 2]] = True
    t = before + during
    during_mask = np.arange(t) >= before
    treated = arm[:, None] & during_mask[None, :]
    mu = means[:, None] * np.where(treated, 1 - reduction, 1.0) * np.ones((1, t))
    by_type = rng.poisson(mu[..., None] * SHARES)  # (n, t, types)
    harm, harm_sq = by_type @ WEIGHTS, by_type @ WEIGHTS**2
    expected = mu * float(SHARES @ WEIGHTS)
    return Panel([f"P{i}" for i in range(n)], harm, treated, during_mask, arm, variance=harm_sq), expected


def test_harm_intervals_cover_the_truth_in_simulation():
    """1,000 simulated trials with known harm weights and a 20% reduction: the primary estimate's
    95% interval covers the harm rate ratio 0.8, and the harm DiD's covers the expected DiD, 93-97%
    of the time; the DiD computed with harm totals as variances does not."""
    rng = np.random.default_rng(11)
    primary, did_ok, did_totals_ok = [], [], []
    for _ in range(1000):
        panel, expected = harm_panel(rng, reduction=0.2)
        est = phase_model(panel)
        primary.append(est["irr_ci"][0] <= 0.8 <= est["irr_ci"][1])
        did = difference_in_differences(panel)
        before, during = ~panel.during, panel.during
        truth = ((expected[panel.arm][:, during].sum() / during.sum() - expected[panel.arm][:, before].sum() / before.sum())
                 - (expected[~panel.arm][:, during].sum() / during.sum()
                    - expected[~panel.arm][:, before].sum() / before.sum()))
        did_ok.append(did["did_per_period_ci"][0] <= truth <= did["did_per_period_ci"][1])
        as_counts = difference_in_differences(Panel(panel.place_ids, panel.outcome, panel.treated, panel.during,
                                                    panel.arm))
        did_totals_ok.append(as_counts["did_per_period_ci"][0] <= truth <= as_counts["did_per_period_ci"][1])
    assert 0.93 <= np.mean(primary) <= 0.97, np.mean(primary)
    assert 0.93 <= np.mean(did_ok) <= 0.97, np.mean(did_ok)
    assert np.mean(did_totals_ok) < 0.6, np.mean(did_totals_ok)


def test_harm_rirr_uses_squared_weights():
    rng = np.random.default_rng(12)
    panel, _ = harm_panel(rng)
    did = difference_in_differences(panel)
    v, y = panel.variance, panel.outcome
    arm, before = panel.arm, ~panel.during
    sums = [y[rows][:, cols].sum() for rows in (arm, ~arm) for cols in (before, ~before)]
    variances = [v[rows][:, cols].sum() for rows in (arm, ~arm) for cols in (before, ~before)]
    se = np.sqrt(sum(var / s**2 for var, s in zip(variances, sums, strict=True)))
    low = np.exp(np.log(did["rirr"]) - 1.959964 * se)
    assert did["rirr_ci"][0] == pytest.approx(low, rel=1e-5)


def test_harm_power_agrees_with_simulated_power():
    """Power planned from baseline harm (over-dispersion at least Σw²/Σw) against the primary
    harm test's rejection rate on simulated trials."""
    import pandas as pd

    from hotspots.trials.allocation import allocate, redraw
    from hotspots.trials.power import baseline, trial_power

    rng = np.random.default_rng(13)
    n, before, during, reduction = 40, 12, 12, 0.3
    means = rng.gamma(2.0, 3.0, n)
    places = pd.DataFrame({"place_id": [f"P{i}" for i in range(n)], "risk": means})
    alloc = allocate(places, "blocked", seed=2, strata=("risk_band",))
    by_type = rng.poisson(means[:, None, None] * np.ones((1, 12, 1)) * SHARES)
    base = baseline(by_type @ WEIGHTS, by_type @ WEIGHTS**2)
    assert base.dispersion >= float((by_type @ WEIGHTS**2).sum() / (by_type @ WEIGHTS).sum())
    planned = trial_power(base, alloc, reduction, before=before, during=during, draws=100)
    rejected = []
    during_mask = np.arange(before + during) >= before
    for draw in redraw(alloc, rng, 400):
        treated = draw[:, :1] & during_mask
        mu = means[:, None] * np.where(treated, 1 - reduction, 1.0)
        counts = rng.poisson(mu[..., None] * SHARES)
        panel = Panel(places["place_id"].tolist(), counts @ WEIGHTS, treated, during_mask, draw[:, 0],
                      variance=counts @ WEIGHTS**2)
        rejected.append(phase_model(panel)["p"] < 0.05)
    assert abs(planned - np.mean(rejected)) < 0.08, (planned, np.mean(rejected))
