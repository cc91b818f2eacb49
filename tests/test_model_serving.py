"""The served forecast: chosen and recalibrated on earlier test periods only, never worse than counting
where counting ranks better, and calibrated by simulation (known bias in, ratio near one out)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from models.metrics import score_forecast
from models.predictor import RiskModel
from models.serving import (
    BLEND,
    MODEL,
    RECALIBRATION_PERIODS,
    SERVED,
    ServedForecast,
    blend,
    choose_served,
    walk_forward,
)

HEADLINE = "pai@1.4%"


def _world(seed=0, cells=2_000, periods=8, bias=1.0):
    """A known intensity, Poisson counts from it, a 'model' that knows it up to ``bias`` and a noisy
    'baseline' that does not."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.3, 0.5, cells)
    observed = [rng.poisson(lam).astype(float) for _ in range(periods)]
    good = [lam * bias for _ in range(periods)]
    noisy = [lam * rng.lognormal(0, 1.5, cells) for _ in range(periods)]
    return lam, observed, good, noisy, np.full(cells, 1.0)


def test_each_period_is_chosen_on_the_periods_before_it():
    """The choice and the factor for period t do not move when period t (or any later) changes."""
    _, observed, good, noisy, areas = _world()
    labels = [f"p{i}" for i in range(len(observed))]
    forecasts = {MODEL: noisy, "all_counts": good}
    walked = walk_forward(labels, forecasts, observed, areas, HEADLINE)
    first = walked.choices.iloc[0]
    assert first["served"] == BLEND and first["calibration"] == 1.0  # nothing earlier to choose on
    assert (walked.choices["served"].iloc[1:] == "all_counts").all()  # it ranks far better than the blend
    changed = [o.copy() for o in observed]
    for t in range(3, len(observed)):
        changed[t] = np.roll(changed[t], 17) * 3
    again = walk_forward(labels, forecasts, changed, areas, HEADLINE)
    assert again.choices.iloc[:4][["served", "partner", "calibration"]].equals(
        walked.choices.iloc[:4][["served", "partner", "calibration"]])


def test_the_factor_is_observed_over_forecast_of_the_last_earlier_periods():
    _, observed, good, noisy, areas = _world(bias=1.3, periods=10)
    labels = [f"p{i}" for i in range(len(observed))]
    walked = walk_forward(labels, {MODEL: good, "last_period": noisy}, observed, areas, HEADLINE)
    for t in range(1, len(observed)):
        method = walked.choices["served"].iloc[t]
        assert method == MODEL
        lo = max(0, t - RECALIBRATION_PERIODS)
        expected = sum(o.sum() for o in observed[lo:t]) / sum(f.sum() for f in good[lo:t])
        assert walked.choices["calibration"].iloc[t] == pytest.approx(expected)


@pytest.mark.parametrize("bias", [0.7, 1.3, 1.6])
def test_recalibration_brings_a_biased_forecast_within_five_percent(bias):
    """Simulation: a forecast off by a known factor, recalibrated on earlier periods, totals within ±5%
    of what happened on average over the later periods."""
    _, observed, good, noisy, areas = _world(seed=3, cells=5_000, periods=10, bias=bias)
    labels = [f"p{i}" for i in range(len(observed))]
    walked = walk_forward(labels, {MODEL: good, "last_period": noisy}, observed, areas, HEADLINE)
    ratios = walked.choices["forecast/observed"].iloc[1:]
    assert abs(ratios.mean() - 1.0) < 0.05
    raw = np.mean([f.sum() / o.sum() for f, o in zip(good[1:], observed[1:], strict=True)])
    assert abs(raw - bias) < 0.05


def test_the_blend_is_served_unless_another_method_ranked_clearly_better():
    """Two methods as good as each other: their blend is served, never one picked on noise."""
    lam, observed, _, _, areas = _world(seed=9, periods=8)
    rng = np.random.default_rng(1)
    twins = {MODEL: [lam * rng.lognormal(0, 0.3, lam.size) for _ in observed],
             "all_counts": [lam * rng.lognormal(0, 0.3, lam.size) for _ in observed]}
    walked = walk_forward([f"p{i}" for i in range(len(observed))], twins, observed, areas, HEADLINE)
    assert (walked.choices["served"] == BLEND).all()


def test_blend_keeps_the_model_total_and_mixes_shares():
    m = np.array([4.0, 0.0, 0.0, 0.0])
    b = np.array([0.0, 10.0, 0.0, 10.0])
    out = blend(m, b)
    assert out.sum() == pytest.approx(m.sum())
    np.testing.assert_allclose(out, [2.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(blend(m, np.zeros(4)), [2.0, 0, 0, 0])


def test_served_rows_score_what_was_served():
    _, observed, good, noisy, areas = _world(seed=5)
    labels = [f"p{i}" for i in range(len(observed))]
    forecasts = {MODEL: noisy, "all_counts": good}
    walked = walk_forward(labels, forecasts, observed, areas, HEADLINE)
    served = [r for r in walked.rows if r["method"] == SERVED]
    blends = [r for r in walked.rows if r["method"] == BLEND]
    assert len(served) == len(blends) == len(labels)
    for t, row in enumerate(served):
        c = walked.choices.iloc[t]
        if c["served"] == BLEND:
            source = blend(noisy[t], forecasts[c["partner"]][t])
        else:
            source = forecasts[c["served"]][t]
        again = score_forecast(source * c["calibration"], observed[t], areas)
        assert row[HEADLINE] == pytest.approx(again[HEADLINE])
        assert row["calibration_ratio"] == pytest.approx(again["calibration_ratio"])


def test_choose_served_takes_the_best_mean_and_says_why():
    import pandas as pd

    rows = []
    for t in range(3):
        rows += [{"method": MODEL, "period": t, HEADLINE: 10.0}, {"method": "all_counts", "period": t, HEADLINE: 12.0},
                 {"method": BLEND, "period": t, HEADLINE: 11.0}, {"method": SERVED, "period": t, HEADLINE: 12.0}]
    per_period = pd.DataFrame(rows)
    forecasts = {MODEL: [np.ones(3)] * 3, "all_counts": [np.full(3, 2.0)] * 3}
    observed = [np.full(3, 1.0)] * 3
    model = RiskModel()
    served = choose_served(model, per_period, forecasts, observed, HEADLINE)
    assert served.method == "all_counts" and served.partner == "all_counts"
    assert served.calibration == pytest.approx(0.5)
    assert "all_counts 12.00" in served.reason and "the model 10.00" in served.reason
    assert "more than 5% above the blend" in served.reason
    assert choose_served(model, per_period, None, None, HEADLINE).method == MODEL


def test_a_served_baseline_forecasts_and_round_trips(history):
    from models.baselines import AllCounts

    served = ServedForecast("all_counts", 0.8, RiskModel(), "all_counts", "because")
    p = history.last_period
    np.testing.assert_allclose(served.predict(history, p), 0.8 * AllCounts().forecast(history, p))
    again = pickle.loads(pickle.dumps(served))
    np.testing.assert_allclose(again.predict(history, p), served.predict(history, p))
    assert "all_counts" in served.describe() and "0.800" in served.describe()
