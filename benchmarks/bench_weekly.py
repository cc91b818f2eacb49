"""The weekly job on a force-wide synthetic year: selection plus map, and Gi* against PySAL esda.

Run:  .venv/bin/python -m benchmarks.bench_weekly [--repeats 3] [--incidents 300000]

Inputs: a synthetic year (seed 7) over the West Midlands force area, every resolution-10 cell
(about 67,500), eight synthetic NPUs with a minimum of two hotspots each, the default budget
(1.4%, 57 hotspots). Times each stage (median of the repeats) and the whole job, then Gi* on the
year's counts against esda's ``G_Local`` on the same weights (binary, star) with the same number
of conditional permutations. Writes benchmarks/results/weekly.md. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.machine import describe_machine
from hotspots.core.config import DEFAULT_FORCE_AREA
from hotspots.core.filecache import ArrayFileCache
from hotspots.crime.aggregate import aggregate_cells
from hotspots.crime.offences import vocabulary
from hotspots.geo.areas import Area, NamedAreas
from hotspots.geo.periods import Calendar
from hotspots.places.emerging import hotspot_emerging
from hotspots.places.gistar import hotspot_gistar, neighbourhood
from hotspots.places.weekly import weekly_hotspots
from hotspots.synth import SynthParams, generate, synthetic_npus
from maps import weekly_map

RESULTS = Path(__file__).resolve().parent / "results"
CALENDAR = Calendar("week", dt.date(2024, 1, 1), 28, "Europe/London")


def timed(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def _steady_state(inc, cells, common: dict, period: int, repeats: int) -> tuple[float, list[float]]:
    """The weekly job run the week after last week's: each repeat starts from the cache last week's job left."""
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        after_last_week = Path(folder) / "after-last-week"
        weekly_hotspots(inc, cells, **{**common, "period": period - 1}, gistar_cache=ArrayFileCache(after_last_week))
        for _ in range(repeats):
            live = Path(folder) / "live"
            shutil.rmtree(live, ignore_errors=True)
            shutil.copytree(after_last_week, live)
            start = time.perf_counter()
            weekly_hotspots(inc, cells, **common, gistar_cache=ArrayFileCache(live))
            runs.append(time.perf_counter() - start)
    return statistics.median(runs), runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--incidents", type=int, default=300_000)
    args = parser.parse_args()

    area = Area.from_file(DEFAULT_FORCE_AREA)
    cells = area.cells(10)
    inc = generate(SynthParams(seed=7, incidents=args.incidents), area).incidents
    t = pd.to_datetime(inc["occurred_at"], utc=True)
    inc = inc.assign(occurred_from=t, occurred_to=t, offence_group=vocabulary().group_of(inc["offence"].to_numpy(object)))
    npus = synthetic_npus(area, 8, 7)
    areas = NamedAreas(npus.reset_index(drop=True), "npu")
    period = CALENDAR.period_of(dt.date(2024, 12, 2))
    # No evidence floor: the default Gi* floor keeps 2 places on this synthetic year, and the benchmark
    # times the work of a full set (tests/test_evidence_floor.py tests the floors).
    common = dict(calendar=CALENDAR, period=period, resolution=10, crs="EPSG:27700", areas=areas, area_min=2,
                  min_cells=3, max_cells=40, smooth_m=20.0, evidence="none")
    weekly_hotspots(inc, cells, **common)  # warm: numba caches, the region's cached lattices
    rows = []

    job, job_runs, week = timed(lambda: weekly_hotspots(inc, cells, **common), args.repeats)
    drawn, draw_runs, page = timed(lambda: weekly_map(week.hotspot_set, region=area.geometry, resolution=10,
                                                      scores=week.scores, incidents=week.last_period_incidents,
                                                      areas=areas, title="bench", subtitle=week.sentence),
                                   args.repeats)
    rows.append(("weekly job, nothing kept: score (KDE), select, coverage, Gi* (99,999 perms max), emerging "
                 "(12 weeks)", job, job_runs))
    steady, steady_runs = _steady_state(inc, cells, common, period, args.repeats)
    rows.append(("weekly job a week after the last (the steady state): last week's 11 shared weeks of emerging "
                 "Gi* kept", steady, steady_runs))
    rows.append(("force-wide map render (HTML, offline)", drawn, draw_runs))
    rows.append(("selection plus map", job + drawn, []))
    scores = week.scores
    from hotspots.places.selection import hotspot_select

    sel, sel_runs, _ = timed(lambda: hotspot_select(scores, cells, crs="EPSG:27700", areas=areas, area_min=2,
                                                    min_cells=3, max_cells=40, smooth_m=20.0), args.repeats)
    rows.append(("selection alone (57 hotspots, quotas, geofences)", sel, sel_runs))

    # The emerging classes' Gi* runs: one per week as before (each its own draws, seed + t), against
    # one run that shares each cell's draws across the 12 weeks (what the weekly job does now).
    start = CALENDAR.bounds(period)[0]
    table = aggregate_cells(inc[inc["occurred_from"] < start.tz_convert("UTC")], CALENDAR, 10, by_offence_group=False)
    table = table[table["period_start"].isin(sorted(table["period_start"].unique())[-12:])]
    weeks = sorted(table["period_start"].unique())

    def per_week():
        for t, first in enumerate(weeks):
            one = table[table["period_start"] == first]
            hotspot_gistar(one.groupby("h3_cell")["incidents"].sum(), cells, k=2, permutations=9_999, seed=t)

    apart, apart_runs, _ = timed(per_week, args.repeats)
    shared, shared_runs, _ = timed(lambda: hotspot_emerging(table, cells, k=2, permutations=9_999), args.repeats)
    rows.append(("emerging Gi*, 12 weeks one run each (9,999 perms max, as before)", apart, apart_runs))
    rows.append(("emerging classes, 12 weeks sharing each cell's draws (the job's way)", shared, shared_runs))

    counts = week.gistar.set_index("h3_cell")["value"]
    values = week.gistar["value"].to_numpy()
    ours_full, full_runs, _ = timed(lambda: hotspot_gistar(counts, cells, k=2, permutations=999, stop_after=0), args.repeats)
    ours_seq, seq_runs, _ = timed(lambda: hotspot_gistar(counts, cells, k=2, permutations=999), args.repeats)
    indptr, indices = neighbourhood(cells, 2)

    from esda.getisord import G_Local
    from libpysal.weights import W

    w = W({i: indices[indptr[i]:indptr[i + 1]].tolist() for i in range(cells.size)}, silence_warnings=True)

    def esda_run(perms):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return G_Local(values, w, transform="B", star=True, permutations=perms, seed=0, n_jobs=2)

    esda_z, z_runs, g = timed(lambda: esda_run(0), args.repeats)
    esda_p, p_runs, g999 = timed(lambda: esda_run(999), max(1, args.repeats - 1))
    z_gap = float(np.abs(g.Zs - week.gistar["gi_star_z"].to_numpy()).max())
    rows.append(("Gi* ours, 999 permutations, every cell runs all", ours_full, full_runs))
    rows.append(("Gi* ours, 999 permutations, sequential stopping (20)", ours_seq, seq_runs))
    rows.append(("Gi* esda G_Local, analytic z only", esda_z, z_runs))
    rows.append(("Gi* esda G_Local, 999 permutations (n_jobs=2)", esda_p, p_runs))

    lines = [
        "# Weekly hotspots benchmark", "",
        describe_machine(), "",
        f"Input: synthetic year, {len(inc):,} incidents (seed 7), {cells.size:,} resolution-10 cells of the West "
        f"Midlands force area, 8 synthetic NPUs (at least 2 hotspots each), week of 2024-12-02. "
        f"Median of {args.repeats} runs (seconds; every run listed).", "",
        f"Result: {week.sentence}. Force-wide map: {len(page.encode()) / 1e6:.2f} MB.", "",
        "| stage | median s | runs |", "|---|---:|---|",
    ]
    lines += [f"| {name} | {med:.3f} | {', '.join(f'{r:.3f}' for r in runs)} |" for name, med, runs in rows]
    lines += [
        "", "## Ratios (esda time / ours, same weights, same permutations)", "",
        f"- 999 permutations, all cells: esda {esda_p:.2f} s vs ours {ours_full:.3f} s: **{esda_p / ours_full:.0f}x**",
        f"- with sequential stopping: **{esda_p / ours_seq:.0f}x**",
        f"- largest |z| difference from esda on the same weights: {z_gap:.1e}",
        f"- emerging classes: 12 separate Gi* runs {apart:.2f} s vs one run sharing the draws (classes, trend "
        f"and all) {shared:.2f} s: **{apart / shared:.1f}x**",
        "", "Run: `.venv/bin/python -m benchmarks.bench_weekly`",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "weekly.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
