"""Trial estimators on simulated trials with a known effect, and their speed against peers.

Run:  .venv/bin/python -m benchmarks.bench_trials [--trials 1000] [--workers 2] [--repeats 5]

Part 1, honesty (the synthetic city, :mod:`hotspots.trials.simulate`): ``--trials`` trials with
no patrol effect and as many with a 20% reduction in patrolled places. Each trial is a fresh
city (its own seed) of 24 weeks at violent-crime level (10,000 crimes a year force-wide), 40
places around its strongest true hotspots, blocked by baseline risk, 12 weeks before and 12
during. Reports how often each 5% test rejects under the null (type I error), how often each
95% interval covers the true rate ratio 0.8, the simulated power, and the power the power
calculation planned from each trial's own baseline.

Part 2, speed (medians of ``--repeats``): the fixed-effects fits against statsmodels' own
negative-binomial maximum likelihood (alpha estimated jointly) on the same panel, the
randomisation test's 1,000 draws against refitting a Poisson model per draw, and GPS logs
(48 units, a ping every 30 s for 28 days) to visits.
Writes benchmarks/results/trials.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.machine import describe_machine
from hotspots.trials.calibration import CALIBRATION_FILE, calibration_rows

RESULTS = Path(__file__).resolve().parent / "results"
TRUE_IRR = 0.8
DESIGN = "blocked by baseline risk, 40 places, 12 weeks before and 12 during, violent crime at 10,000 a year force-wide"
_AREA = None


def _run(args):
    seed, reduction, draws = args
    global _AREA
    from hotspots.core.config import DEFAULT_FORCE_AREA
    from hotspots.geo.areas import Area
    from hotspots.trials.simulate import TrialSetup, simulate_trial

    if _AREA is None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)  # one BLAS thread per worker: the workers already fill the cores
        _AREA = Area.from_file(DEFAULT_FORCE_AREA)
    setup = TrialSetup(reduction=reduction, incidents_per_year=10_000, draws=draws)
    return {"reduction": reduction, **simulate_trial(seed, setup, _AREA)}


def simulate(trials: int, workers: int) -> pd.DataFrame:
    jobs = [(1000 + i, 0.0, 1000) for i in range(trials)] + [(5000 + i, 0.2, 0) for i in range(trials)]
    with ProcessPoolExecutor(workers) as pool:
        return pd.DataFrame(list(pool.map(_run, jobs, chunksize=20)))


def _share(mask) -> str:
    mask = np.asarray(mask, bool)
    p = mask.mean()
    return f"{100 * p:.1f}% (± {100 * 1.96 * np.sqrt(p * (1 - p) / mask.size):.1f})"


def honesty_table(sims: pd.DataFrame) -> list[str]:
    null, eff = sims[sims.reduction == 0], sims[sims.reduction > 0]
    lines = [f"| outcome | test | type I error, no effect ({len(null)} trials) | 95% CI covers IRR {TRUE_IRR} "
             f"({len(eff)} trials) | power at 20% reduction |", "|---|---|---|---|---|"]
    for outcome, prefix in (("crimes", ""), ("harm", "harm_")):
        if f"{prefix}primary_p" not in sims:
            continue
        for name, key in (("**primary**: Poisson QL on place x phase sums, place + phase effects", "primary"),
                          ("Poisson, place + week fixed effects, SEs clustered by place", "poisson"),
                          ("negative binomial, place + week fixed effects, model-based SEs", "nb"),
                          ("RIRR (Wilson), Poisson variance", "rirr")):
            if f"{prefix}{key}_p" not in sims:
                continue
            covered = (eff[f"{prefix}{key}_low"] <= TRUE_IRR) & (eff[f"{prefix}{key}_high"] >= TRUE_IRR)
            lines.append(f"| {outcome} | {name} | {_share(null[f'{prefix}{key}_p'] < 0.05)} | {_share(covered)} | "
                         f"{_share(eff[f'{prefix}{key}_p'] < 0.05)} |")
        if f"{prefix}did_low" in sims:
            rejected = (null[f"{prefix}did_low"] > 0) | (null[f"{prefix}did_high"] < 0)
            lines.append(f"| {outcome} | DiD per week (the local WDD), Poisson variance{' Σw²N' if prefix else ''} | "
                         f"{_share(rejected)} | (no fixed true value in the city) | "
                         f"{_share((eff[f'{prefix}did_high'] < 0))} |")
        if f"{prefix}ri_p" in sims:
            lines.append(f"| {outcome} | randomisation inference, 1,000 draws of the blocked design | "
                         f"{_share(null[f'{prefix}ri_p'] < 0.05)} | (a test, no interval) | - |")
    planned = eff["planned_power"].mean()
    simulated = (eff["primary_p"] < 0.05).mean()
    lines += ["", f"Power of the primary test at a 20% reduction: planned {100 * planned:.1f}% "
              f"(mean of each trial's calculation from its own 12 baseline weeks), simulated {100 * simulated:.1f}%: "
              f"{100 * (planned - simulated):+.1f} points.",
              f"Mean estimated IRR {eff['primary_irr'].mean():.3f} (true {TRUE_IRR}); median crimes per trial "
              f"{sims['crimes'].median():,.0f} in 40 places over 24 weeks; mean over-dispersion of phase sums "
              f"{sims['dispersion'].mean():.2f}; mean weekly NB alpha {sims['nb_alpha'].mean():.3f}."]
    return lines


def timed(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def speed_table(repeats: int) -> list[str]:
    import statsmodels.api as sm

    from hotspots.core.config import DEFAULT_FORCE_AREA
    from hotspots.geo.areas import Area
    from hotspots.trials.allocation import allocate
    from hotspots.trials.effects import Panel, fixed_effects, randomisation_test
    from hotspots.trials.gps import pings_to_visits

    rng = np.random.default_rng(3)
    n, t = 57, 24
    means = rng.gamma(2.0, 1.5, n)
    alloc = allocate(pd.DataFrame({"place_id": [f"H{i}" for i in range(n)], "risk": means}), "blocked", seed=1,
                     strata=("risk_band",))
    during = np.arange(t) >= 12
    treated = alloc.treated[:, :1] & during
    y = rng.negative_binomial(1 / 0.3, 1 / (1 + 0.3 * means[:, None] * np.where(treated, 0.8, 1.0)))
    panel = Panel([f"H{i}" for i in range(n)], y.astype(float), treated, during, alloc.treated[:, 0])
    ours, fit = timed(lambda: fixed_effects(panel), repeats)
    x = np.column_stack([np.kron(np.eye(n), np.ones((t, 1))), np.kron(np.ones((n, 1)), np.eye(t)[:, 1:]),
                         treated.ravel()])
    peer, mle = timed(lambda: sm.NegativeBinomial(y.ravel(), x).fit(disp=0, maxiter=200), repeats)
    ri, _ = timed(lambda: randomisation_test(panel, alloc, draws=1000), repeats)

    def refit_loop():
        from hotspots.trials.allocation import redraw

        draws = redraw(alloc, np.random.default_rng(0), 100)
        return [sm.GLM(y.ravel(), np.column_stack([x[:, :-1], (d[:, :1] & during).ravel()]),
                       family=sm.families.Poisson()).fit().params[-1] for d in draws]

    loop, _ = timed(refit_loop, max(1, repeats // 2))
    area = Area.from_file(DEFAULT_FORCE_AREA)
    members, pings = _gps_inputs(area)
    gps, visits = timed(lambda: pings_to_visits(pings, members), repeats)
    nb_irr, mle_irr = fit["negative_binomial"]["irr"], float(np.exp(mle.params[-2]))
    return ["| work | hotspots | peer | ratio |", "|---|---|---|---|",
            f"| NB fixed effects, {n} places x {t} weeks (IRR {nb_irr:.4f} vs MLE {mle_irr:.4f}) | "
            f"{ours * 1000:.0f} ms (all three: phase QL, weekly Poisson clustered, weekly NB with alpha by "
            f"moments) | {peer * 1000:.0f} ms (statsmodels NegativeBinomial MLE, one model) | {peer / ours:.1f}x |",
            f"| randomisation test, 1,000 draws | {ri * 1000:.0f} ms (score statistic, vectorised) | "
            f"{loop * 10 * 1000:.0f} ms (Poisson refit per draw; 100 timed, x10) | {loop * 10 / ri:.0f}x |",
            f"| GPS to visits, {len(pings):,} pings, {len(members)} geofence cells | {gps * 1000:.0f} ms "
            f"({len(pings) / gps / 1e6:.1f} M pings/s, {len(visits):,} visits) | - | - |"]


def _gps_inputs(area):
    from hotspots.geo import cells as h3cells
    from hotspots.synth import SynthParams, generate
    from hotspots.trials.simulate import trial_places

    city = generate(SynthParams(seed=9, incidents=2000, days=7), area=area)
    members = trial_places(city, 40, 10)
    rng = np.random.default_rng(4)
    units, per_unit = 48, 28 * 24 * 60 * 2  # a ping every 30 s for 28 days
    cells = h3cells.from_strings(members["h3_cell"].tolist())
    lon_c, lat_c = h3cells.cell_centres(cells)
    stops = rng.integers(0, len(cells), (units, per_unit // 60))
    lon = np.repeat(lon_c[stops], 60, axis=1) + rng.normal(0, 3e-4, (units, per_unit // 60 * 60))
    lat = np.repeat(lat_c[stops], 60, axis=1) + rng.normal(0, 2e-4, (units, per_unit // 60 * 60))
    at = pd.Timestamp("2024-06-03", tz="Europe/London") + pd.to_timedelta(np.arange(lon.shape[1]) * 30, unit="s")
    pings = pd.DataFrame({"unit": np.repeat([f"U{u}" for u in range(units)], lon.shape[1]),
                          "at": np.tile(at, units), "lon": lon.ravel(), "lat": lat.ravel()})
    return members, pings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reuse-simulations", action="store_true",
                        help="Report the simulations stored in results/trials_simulations.csv.gz and time only the speed part.")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    stored = RESULTS / "trials_simulations.csv.gz"
    if args.reuse_simulations:
        sims = pd.read_csv(stored)
        args.trials = int((sims["reduction"] == 0).sum())
        timing = ", read back from trials_simulations.csv.gz"
    else:
        start = time.perf_counter()
        sims = simulate(args.trials, args.workers)
        sims.to_csv(stored, index=False, float_format="%.6g")
        timing = f" in {(time.perf_counter() - start) / 60:.1f} min on {args.workers} workers"
    lines = ["# Trials: simulated honesty and speed", "", describe_machine(), "",
             f"## Simulated trials on the synthetic city ({2 * args.trials} trials{timing})", "",
             "Null: no patrol effect. Effect: crimes in patrolled places during the trial removed with probability "
             "0.2 by the city's own patrol effect, whatever their type, so the true incidence rate ratio is exactly "
             "0.8 for crimes and for harm (Cambridge Crime Harm Index days of each crime's offence). Harm "
             "intervals use Σw²N as a harm sum's Poisson variance; the primary harm estimate's over-dispersion is "
             "at least Σw²N/ΣwN. Intervals are ± 1.96 Monte Carlo standard errors.", ""]
    lines += honesty_table(sims)
    calibration = calibration_rows(sims, true_irr=TRUE_IRR, design=DESIGN,
                                   simulated_on=f"{dt.date.today().isoformat()}; {describe_machine()}")
    CALIBRATION_FILE.parent.mkdir(parents=True, exist_ok=True)
    calibration.to_csv(CALIBRATION_FILE, index=False, float_format="%.6g")
    lines += ["", f"Written for trial reports: {CALIBRATION_FILE.relative_to(CALIBRATION_FILE.parents[2])} "
              "(each interval's type I error and coverage; reports mark those outside 3.5-6.5% not to be quoted)."]
    lines += ["", f"## Speed (medians of {args.repeats})", ""] + speed_table(args.repeats)
    (RESULTS / "trials.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
