"""The predictor: training and backtest time on a force-wide synthetic city, and the model against
every baseline on the synthetic city (with its known ground truth) and on the real data sets.

Run:  .venv/bin/python -m benchmarks.bench_model [--incidents 300000] [--years 3] [--repeats 3] [--periods 6]

* Synthetic: ``--years`` of the West Midlands synthetic city (seed 7), every resolution-10 cell,
  knife-enabled serious youth violence, 28-day periods. Times counting the history, one fit for
  the next period (median of ``--repeats``), and a rolling-origin backtest of ``--periods``
  periods; the backtest table adds the oracle, the city's true background intensity, as the
  ceiling no forecast can beat on average.
* Real: every data set in ../shared/data/real with enough history and an offence column
  (skipped with the reason where absent). Monthly police.uk data is backtested on calendar months.

Writes benchmarks/results/model.md. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import describe_machine
from benchmarks.model_sets import LSOA_RUNS, lsoa_history, real_history, real_sets
from hotspots.core.config import DEFAULT_FORCE_AREA
from hotspots.crime.offences import vocabulary
from hotspots.geo.areas import Area
from hotspots.geo.periods import Calendar
from hotspots.synth import SynthParams, generate
from models.backtest import HEADLINE, MODEL, SERVED, noise_ceiling, rolling_backtest, test_periods_for
from models.card import served_markdown, summary_markdown
from models.features import CellHistory, FeatureConfig
from models.metrics import score_forecast
from models.predictor import RiskModel
from models.target import parse_target

CEILING_NOTE = (
    "Under each table, the noise ceiling: counts drawn from each cell's long-run mean (Poisson), ranked by that "
    "mean. It is a yardstick, not a bound: the long-run mean keeps some noise of its own periods, which sets it "
    "high (the synthetic city's ceiling is above its true background's PAI), and real counts vary more than "
    "Poisson, which sets it low (the count baselines pass it on 11 months of central Birmingham).")


def _median(fn, repeats):
    runs = []
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t)
    return out, statistics.median(runs), runs


def synthetic(incidents: int, years: int, repeats: int, periods: int, overall: list) -> list[str]:
    area = Area.from_file(DEFAULT_FORCE_AREA)
    city = generate(SynthParams(seed=7, incidents=incidents * years, days=365 * years), area)
    inc = city.incidents
    ts = inc["occurred_at"].dt.tz_convert("UTC")
    inc = inc.assign(occurred_from=ts, occurred_to=ts, offence_group=vocabulary().group_of(inc["offence"].to_numpy(object)))
    cells = area.cells(10)
    cal = Calendar("tactical", dt.date(2024, 1, 1), 28)
    history, t_hist, hist_runs = _median(
        lambda: CellHistory(inc, cells, cal, parse_target("knife_syv"), "EPSG:27700"), 1)
    nxt = int(history.complete_periods()[-1]) + 1
    model, t_fit, fit_runs = _median(lambda: RiskModel().fit(history, nxt), repeats)
    t0 = time.perf_counter()
    result = rolling_backtest(history, periods, RiskModel())
    t_bt = time.perf_counter() - t0
    # The oracle: the city's true background intensity, the same ranking in every period.
    truth = city.expected_background_per_cell(history.cells)
    oracle_rows = []
    for label in result.per_period["period"].unique():
        p = int(np.flatnonzero(cal.label(history.covered_periods()) == label)[0]) + history.first_period
        obs = history.observed(p)
        scaled = truth * obs.sum() / truth.sum()
        oracle_rows.append(score_forecast(scaled, obs, history.areas_m2))
    oracle = {k: float(np.mean([r[k] for r in oracle_rows])) for k in oracle_rows[0]}
    ceiling_lines, ceiling = _against_ceiling(result, history)
    s = result.summary
    best = result.best_baseline()
    overall.append({"set": "Synthetic city, force-wide, 3 years", "best": best, "best_pai": s.loc[best, HEADLINE],
                    "model": s.loc[MODEL, HEADLINE], "served": s.loc[SERVED, HEADLINE], "ceiling": ceiling,
                    "ratio": s.loc[SERVED, "calibration_ratio"]})
    summary = result.summary.drop(columns=["headline_wins"])
    summary.loc["oracle (true background)"] = [len(oracle_rows)] + [oracle[c] for c in summary.columns[1:]]
    return [
        f"## Synthetic city, force-wide: {len(inc):,} incidents over {years} years, {cells.size:,} resolution-10 cells",
        "",
        f"Target: knife-enabled serious youth violence, {int(history.target_counts.sum()):,} incidents; "
        f"28-day periods {cal.label(np.array([history.first_period]))[0]} to "
        f"{cal.label(np.array([history.last_period]))[0]}.",
        "",
        "| stage | median s | runs |", "|---|---:|---|",
        f"| count the history (cells x periods, once) | {t_hist:.2f} | {', '.join(f'{r:.2f}' for r in hist_runs)} |",
        f"| train one model for the next period ({model.n_rows_:,} rows, features included) | {t_fit:.2f} | "
        f"{', '.join(f'{r:.2f}' for r in fit_runs)} |",
        f"| rolling-origin backtest, {periods} periods, model and {len(result.baselines)} baselines | {t_bt:.2f} | "
        "one run |",
        "",
        "Seconds inside the backtest: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()) + ".",
        "The first fit computes every period's features (KDE at three bandwidths included); later fits reuse them.",
        "",
        summary_markdown(summary),
        "",
        f"**{result.verdict()}**",
        "",
        *served_markdown(result),
        *ceiling_lines,
        "",
    ]


def _against_ceiling(result, history) -> tuple[list[str], float]:
    """Each method's PAI at 1.4% as a share of the noise ceiling, and the periods the model beat it in."""
    cal = history.calendar
    labels = cal.label(history.covered_periods())
    periods = [int(np.flatnonzero(labels == label)[0]) + history.first_period
               for label in result.per_period["period"].unique()]
    ceiling = noise_ceiling(history, periods)
    s = result.summary
    best = result.best_baseline()
    lines = [f"Noise ceiling (the best mean PAI at 1.4% that Poisson noise allows, from each cell's long-run "
             f"mean, 200 draws a period): {ceiling:.2f}. The model's PAI at 1.4% is "
             f"{s.loc[MODEL, HEADLINE] / s.loc[best, HEADLINE]:.3f} times the best baseline's ({best}).", "",
             "| method | PAI @1.4% | share of the ceiling | periods the model beat it |", "|---|---:|---:|---:|"]
    for method, row in s.iterrows():
        won = "" if method == MODEL else f"{int(row['headline_wins'])} of {int(row['periods'])}"
        lines.append(f"| {f'**{method}**' if method in (MODEL, SERVED) else method} | {row[HEADLINE]:.2f} | "
                     f"{row[HEADLINE] / ceiling:.1%} | {won} |")
    return lines, ceiling


#: The model's settings before this benchmark's levers: the booster the levers replaced, no long-run features.
PREVIOUS = dict(max_iter=250, max_leaf_nodes=15, min_samples_leaf=50, l2_regularization=20.0)


def _levers(history: CellHistory, periods: int) -> dict[str, float]:
    """Mean PAI at 1.4% of the model with each lever undone, on the same test periods."""
    plain = CellHistory(history.incidents_used, history.cells, history.calendar, history.target, history.crs,
                        FeatureConfig(long_run=False), history.layers)
    plain.__dict__["areas_m2"] = history.areas_m2
    out = {}
    for name, h, model in (("previous booster, no long-run features", plain, RiskModel(**PREVIOUS)),
                           ("previous booster", history, RiskModel(**PREVIOUS)),
                           ("no long-run features", plain, RiskModel())):
        out[name] = float(rolling_backtest(h, periods, model, baselines=[]).summary.loc[MODEL, HEADLINE])
    out["LightGBM lambdarank (a ranking objective)"] = _lambdarank(history, periods)
    return out


def _lambdarank(history: CellHistory, periods: int) -> float:
    """The same features ranked by LightGBM's lambdarank (the bench extra installs it; the product does not use it)."""
    try:
        import lightgbm
    except ImportError:
        return float("nan")
    if history.cells.size > 10_000:  # LightGBM's limit on the rows of one query (a period)
        return float("nan")
    pais = []
    warmup = RiskModel().warmup_periods
    for p in test_periods_for(history, periods, warmup):
        train = [int(q) for q in history.covered_periods() if history.first_period + warmup <= q < p]
        X = np.concatenate([history.features(q) for q in train])
        y = np.clip(np.rint(np.concatenate([history.observed(q) for q in train])), 0, 30).astype(int)
        ranker = lightgbm.LGBMRanker(objective="lambdarank", n_estimators=100, num_leaves=7, min_child_samples=50,
                                     learning_rate=0.05, label_gain=list(range(31)), verbose=-1, random_state=0)
        ranker.fit(X, y, group=[history.cells.size] * len(train))
        score = ranker.predict(history.features(int(p)))
        pais.append(score_forecast(score - score.min() + 1e-9, history.observed(int(p)), history.areas_m2)[HEADLINE])
    return float(np.nanmean(pais))


def _one_set(name: str, what: str, history: CellHistory, periods: int, summary: list, levers: bool) -> list[str]:
    t = time.perf_counter()
    result = rolling_backtest(history, periods, RiskModel())
    seconds = time.perf_counter() - t
    ceiling_lines, ceiling = _against_ceiling(result, history)
    s = result.summary
    best = result.best_baseline()
    row = {"set": name, "best": best, "best_pai": s.loc[best, HEADLINE], "model": s.loc[MODEL, HEADLINE],
           "served": s.loc[SERVED, HEADLINE], "ceiling": ceiling, "ratio": s.loc[SERVED, "calibration_ratio"],
           "periods": int(s.loc[MODEL, "periods"])}
    lines = [f"### {name}", "",
             f"Target: {history.target.describe()}, {int(history.target_counts.sum()):,} incidents; {what}; "
             f"{row['periods']} test periods; backtest {seconds:.1f} s.", "",
             summary_markdown(s.drop(columns=["headline_wins"])), "", f"**{result.verdict()}**", "",
             *served_markdown(result), *ceiling_lines, ""]
    if levers:
        undone = _levers(history, periods)
        row["levers"] = undone
        lines += ["Levers (the model's mean PAI at 1.4% with each undone, same test periods): "
                  + "; ".join(f"{k} {v:.2f}" for k, v in undone.items() if np.isfinite(v))
                  + f"; as served to the model above, {s.loc[MODEL, HEADLINE]:.2f}.", ""]
    summary.append(row)
    return lines


def real(res: int, summary: list, levers: bool) -> list[str]:
    lines = ["## Real data", ""]
    for rs in real_sets():
        history = real_history(rs, res)
        lines += _one_set(rs.name, f"{history.cells.size:,} resolution-{res} cells (the incidents' cells and two "
                          "rings around them)", history, rs.periods, summary, levers)
    for first, last in LSOA_RUNS:
        history = lsoa_history(first, last)
        if history is None:
            continue
        lines += _one_set(f"West Midlands force-wide, counts per LSOA and month {first}..{last} (12 complete months)",
                          f"{history.cells.size:,} LSOAs as the units, each count placed at its LSOA's representative "
                          "point, PAI by the LSOAs' own areas", history, 12, summary, levers)
    lines += ["Not backtested: Tempe opioid calls (calls for service, dates only), PredictCode's Chicago example "
              "(1,000 incidents in one year).", ""]
    return lines


def overview(summary: list) -> list[str]:
    """One line per data set: the served forecast against the best baseline and the ceiling."""
    lines = ["## Overview: what would have been served", "",
             "Target: the served forecast at least 1.15 times the best baseline's PAI at 1.4% on every multi-year "
             "data set, and never below it. Served = each test period, the blend of the model and the best baseline "
             "so far, unless the model or a baseline ranked more than 5% better over the test periods before it; "
             "recalibrated on the last six of them (models/serving.py).", "",
             "| data set | best baseline | its PAI @1.4% | model | served | served / best | noise ceiling | "
             "1.15 x best | served share of ceiling | served forecast/observed |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in summary:
        lines.append(f"| {r['set']} | {r['best']} | {r['best_pai']:.2f} | {r['model']:.2f} | {r['served']:.2f} | "
                     f"{r['served'] / r['best_pai']:.3f} | {r['ceiling']:.2f} | {1.15 * r['best_pai']:.2f} | "
                     f"{r['served'] / r['ceiling']:.1%} | {r['ratio']:.3f} |")
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=300_000, help="synthetic incidents a year")
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--periods", type=int, default=6)
    ap.add_argument("--no-levers", action="store_true", help="skip re-running the model with each lever undone")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "model.md")
    args = ap.parse_args()
    lines = ["# Predictor benchmark", "", describe_machine(("numpy", "pandas", "scikit-learn", "numba", "h3ronpy")), "",
             f"Headline metric: {HEADLINE} (Project Guardian's hotspots cover 1.4% of the force area). "
             f"Every test period is forecast from the periods before it only; `{MODEL}` is refitted each time.", "",
             CEILING_NOTE, ""]
    summary: list = []
    body = synthetic(args.incidents, args.years, args.repeats, args.periods, summary)
    body += real(10, summary, not args.no_levers)
    lines += overview(summary) + body
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
