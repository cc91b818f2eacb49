"""Kernel density on H3 cells against scikit-learn, SciPy and KDEpy, on the same inputs in one run.

Run:  .venv/bin/python -m benchmarks.bench_kde [--repeats 5] [--quick]

Inputs: 1,000,000 incidents of the synthetic city (seed 42) and every resolution-10 cell of the
West Midlands force area; quartic kernel, 400 m. Each peer evaluates the same density at the
same cell centres; its maximum error is measured against this project's exact result. Then
the scaling runs (10k to 10M incidents, resolutions 9 to 11), each in a fresh process so its
peak memory can be read. Writes benchmarks/results/kde.md with the machine it ran on.
Nothing is asserted: numbers are measured, printed and committed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import describe_machine
from hotspots.core.config import DEFAULT_FORCE_AREA
from hotspots.density import kde
from hotspots.density.kernels import get_kernel
from hotspots.geo.areas import Area
from hotspots.geo.projection import BRITISH_NATIONAL_GRID

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parent / ".cache"
BANDWIDTH = 400.0


def incidents(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic incidents in BNG metres. Up to 1M: the first n of the seed-42 city (in random
    order); beyond, the city resampled with 25 m jitter (same hotspots, more events)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / "city-1m-seed42.npy"
    if not path.exists():
        from hotspots.synth import SynthParams, generate

        city = generate(SynthParams(seed=42, incidents=1_000_000), Area.from_file(DEFAULT_FORCE_AREA)).incidents
        order = np.random.default_rng(42).permutation(len(city))
        np.save(path, np.stack([city["x"].to_numpy()[order], city["y"].to_numpy()[order]]))
    xy = np.load(path)
    if n <= xy.shape[1]:
        return np.ascontiguousarray(xy[0, :n]), np.ascontiguousarray(xy[1, :n])
    rng = np.random.default_rng(n)
    pick = rng.integers(0, xy.shape[1], n)
    return xy[0, pick] + rng.normal(0, 25, n), xy[1, pick] + rng.normal(0, 25, n)


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time over ``repeats`` runs after one warm-up run, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def errors(values: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    """(max |error| / peak, max relative error over cells at >= 1% of the peak)."""
    peak = float(exact.max())
    busy = exact >= 0.01 * peak
    diff = np.abs(values - exact)
    return float(diff.max() / peak), float((diff[busy] / exact[busy]).max())


def scipy_ckdtree(x, y, tx, ty, kernel_name: str):
    from scipy.spatial import cKDTree

    k = get_kernel(kernel_name)
    radius = k.reach * BANDWIDTH
    pairs = cKDTree(np.c_[tx, ty]).sparse_distance_matrix(cKDTree(np.c_[x, y]), radius, output_type="ndarray")
    contrib = k.profile((pairs["v"] / BANDWIDTH) ** 2)
    return np.bincount(pairs["i"], weights=contrib, minlength=tx.size) * k.norm / BANDWIDTH**2 * 1e6


def sklearn_kd(x, y, tx, ty):
    from sklearn.neighbors import KernelDensity

    # scikit-learn has no quartic kernel; Epanechnikov has the same 400 m support, so the same pairs.
    fitted = KernelDensity(kernel="epanechnikov", bandwidth=BANDWIDTH).fit(np.c_[x, y])
    return np.exp(fitted.score_samples(np.c_[tx, ty])) * x.size * 1e6


def kdepy_fft(x, y, tx, ty, grid_points: int):
    from KDEpy import FFTKDE
    from scipy.interpolate import RegularGridInterpolator

    # KDEpy's bandwidth is the kernel's standard deviation; its biweight (= quartic) reaches sqrt(7) of them.
    est = FFTKDE(kernel="biweight", bw=BANDWIDTH / math.sqrt(7.0), norm=2).fit(np.c_[x, y])
    grid, values = est.evaluate(grid_points)
    gx, gy = np.unique(grid[:, 0]), np.unique(grid[:, 1])
    surface = RegularGridInterpolator((gx, gy), values.reshape(gx.size, gy.size), bounds_error=False, fill_value=0.0)
    return surface(np.c_[tx, ty]) * x.size * 1e6


def floor_ns_per_pair() -> float:
    """Time per incident–cell pair of the tightest possible loop: the quartic sum over 1,024 sources
    already in L1 cache, called from compiled code (no Python in between), one core."""
    from numba import njit

    from hotspots.density._kde_numba import _run_quartic

    @njit
    def many(sx, sy, sw, calls, inv_h2):
        total = 0.0
        for i in range(calls):
            total += _run_quartic(sx, sy, sw, 0, sx.size, i * 1e-3, 0.0, inv_h2)
        return total

    rng = np.random.default_rng(0)
    sx, sy, sw = rng.uniform(-400, 400, 1024), rng.uniform(-400, 400, 1024), np.ones(1024)
    many(sx, sy, sw, 1, 1.0 / BANDWIDTH**2)
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        many(sx, sy, sw, 20_000, 1.0 / BANDWIDTH**2)
        best = min(best, time.perf_counter() - t0)
    return best / (20_000 * 1024) * 1e9


def comparison(n: int, repeats: int, quick: bool) -> tuple[list[dict], dict]:
    cells = Area.from_file(DEFAULT_FORCE_AREA).cells(10)
    x, y = incidents(n)
    targets = kde._targets(kde._CellSet(np.unique(cells)), BRITISH_NATIONAL_GRID)
    tx, ty = targets.x[np.argsort(targets.order)], targets.y[np.argsort(targets.order)]

    def ours(mode, kernel="quartic", offset=1):
        return lambda: kde.cell_density(x, y, cells, crs=BRITISH_NATIONAL_GRID, bandwidth=BANDWIDTH, kernel=kernel,
                                        mode=mode, bin_offset=offset).density_per_km2

    rows = []
    exact_s, exact = timed(ours("exact"), repeats)
    rows.append({"method": "hotspots exact (numba)", "kernel": "quartic", "seconds": exact_s, "errors": (0.0, 0.0)})
    for offset in (0, 1, 2):
        s, v = timed(ours("binned", offset=offset), repeats)
        rows.append({"method": f"hotspots binned, bins {offset} resolution(s) finer", "kernel": "quartic",
                     "seconds": s, "errors": errors(v, exact)})
    s, v = timed(lambda: scipy_ckdtree(x, y, tx, ty, "quartic"), max(1, repeats // 2))
    rows.append({"method": "SciPy cKDTree pairs + NumPy sums", "kernel": "quartic", "seconds": s, "errors": errors(v, exact)})
    for grid in (512, 1024, 2048):
        s, v = timed(lambda grid=grid: kdepy_fft(x, y, tx, ty, grid), max(1, repeats // 2))
        rows.append({"method": f"KDEpy FFTKDE {grid}² grid + linear interpolation", "kernel": "biweight (quartic)",
                     "seconds": s, "errors": errors(v, exact)})
    epa_s, epa = timed(ours("exact", "epanechnikov"), repeats)
    rows.append({"method": "hotspots exact (numba)", "kernel": "epanechnikov", "seconds": epa_s, "errors": (0.0, 0.0)})
    if not quick:
        s, v = timed(lambda: sklearn_kd(x, y, tx, ty), 1)
        rows.append({"method": "scikit-learn KernelDensity (kd-tree, exact)", "kernel": "epanechnikov", "seconds": s,
                     "errors": errors(v, epa), "ratio_to": epa_s})
    pairs = int(np.sum(scipy_pairs(x, y, tx, ty)))
    floor = floor_ns_per_pair()
    lattice = kde._lattice(kde._CellSet(np.unique(cells)), 11, BRITISH_NATIONAL_GRID)
    snap_s, binned = timed(lambda: kde._bin(x, y, np.ones(x.size), lattice), repeats)
    facts = {"n": x.size, "cells": tx.size, "pairs": pairs, "floor_ns": floor,
             "floor_s": pairs * floor * 1e-9 / 2, "exact_s": exact_s, "binned_s": rows[2]["seconds"],
             "snap_s": snap_s, "bins": binned.n_occupied, "binned_pairs": int(np.sum(scipy_pairs(binned.x, binned.y, tx, ty)))}
    return rows, facts


def scipy_pairs(x, y, tx, ty) -> np.ndarray:
    from scipy.spatial import cKDTree

    return cKDTree(np.c_[x, y]).query_ball_point(np.c_[tx, ty], BANDWIDTH, return_length=True, workers=-1)


def one_scaling_run(n: int, resolution: int, mode: str, repeats: int) -> dict:
    """Median time over ``repeats`` warm runs, or (``repeats`` = 0) the peak memory of one run."""
    cells = Area.from_file(DEFAULT_FORCE_AREA).cells(resolution)
    x, y = incidents(n)

    def run(count=n):
        return kde.cell_density(x[:count], y[:count], cells, crs=BRITISH_NATIONAL_GRID, bandwidth=BANDWIDTH, mode=mode)

    run(1000)  # loads compiled code and builds the region's cached centres, lattice and pixel table
    row = {"n": n, "resolution": resolution, "mode": mode, "cells": int(np.unique(cells).size)}
    if repeats:
        row["seconds"], _ = timed(run, repeats)
        return row
    before = _reset_peak_rss()
    run()
    row["peak_extra_mib"] = (_memory_kib("VmHWM") - before) / 1024
    return row


def _memory_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux) and return that RSS in KiB,
    so the next peak read belongs to the next run alone, not to loading the inputs."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _memory_kib("VmRSS")


def scaling(sizes, resolutions, repeats: int) -> list[dict]:
    out = []
    for res in resolutions:
        for n in sizes:
            for mode in ("exact", "binned"):
                row = _subprocess_run(n, res, mode, repeats, {})
                # A fixed mmap threshold makes glibc return every large array to the system when freed,
                # so resident memory follows what a run really holds instead of earlier, freed peaks;
                # it also makes every allocation fault in fresh pages, so it is used for memory only.
                row.update(_subprocess_run(n, res, mode, 0, {"MALLOC_MMAP_THRESHOLD_": "65536"}))
                print(f"  res {res} n {n:>10,} {mode:6s} {row['seconds']:.3f} s  +{row['peak_extra_mib']:.0f} MiB", flush=True)
                out.append(row)
    return out


def _subprocess_run(n: int, res: int, mode: str, repeats: int, env: dict) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_kde", "--one", str(n), str(res), mode,
                           "--repeats", str(repeats)], capture_output=True, text=True, check=True,
                          env={**os.environ, **env})
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(rows, facts, scale_rows, repeats: int) -> str:
    exact_s = facts["exact_s"]
    lines = [
        "# Kernel density benchmark", "",
        describe_machine(("numpy", "numba", "scipy", "scikit-learn", "KDEpy", "h3ronpy")), "",
        f"Input: {facts['n']:,} synthetic incidents (seed 42) onto all {facts['cells']:,} resolution-10 cells of the "
        f"West Midlands force area, {BANDWIDTH:g} m bandwidth. Median of {repeats} warm runs (slow peers: fewer, "
        "see method). Errors are against this project's exact result for the same kernel: max |error| / peak "
        "density, and max relative error over cells at 1% of the peak or more.", "",
        "| method | kernel | median s | × exact | max abs err / peak | max rel err (≥1% peak) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        base = r.get("ratio_to", exact_s)
        ratio = r["seconds"] / base
        lines.append(f"| {r['method']} | {r['kernel']} | {r['seconds']:.3f} | {ratio:.1f} | {r['errors'][0]:.1e} | "
                     f"{r['errors'][1]:.1e} |")
    lines += ["", "scikit-learn's row is compared with this project's exact Epanechnikov (same support, same pairs); "
              "its '× exact' is that ratio.", "",
              f"Floor: the kernel must touch {facts['pairs']:,} incident–cell pairs. The tightest loop (sources "
              f"already in L1 cache) takes {facts['floor_ns']:.2f} ns a pair on one core, so "
              f"{facts['floor_s'] * 1e3:.1f} ms on two cores; exact mode takes {exact_s * 1e3:.1f} ms, "
              f"{exact_s / facts['floor_s']:.1f}× the floor (the rest: the counting sort of the incidents, bucket-row "
              "overheads and sources outside the disc but inside its buckets).", "",
              f"Binned, one resolution finer: of its {facts['binned_s'] * 1e3:.1f} ms, {facts['snap_s'] * 1e3:.1f} ms is "
              f"the one pass that snaps the incidents into {facts['bins']:,} occupied bins (a random table read per "
              "incident, the same order of cost as exact mode's counting sort); the spreading then touches "
              f"{facts['binned_pairs']:,} bin–cell pairs, {facts['binned_pairs'] / facts['pairs']:.0%} of exact mode's, "
              "and the per-cell error bound costs one more cheap pass. So binned mode gains little at 1M incidents; "
              "compare the 10M rows of the scaling table for larger inputs.", ""]
    if scale_rows:
        lines += ["## Scaling", "", "Each row is a fresh process. Peak memory is how far one run raises the process's "
                  "peak resident set above where it stood with the inputs, the compiled code and the region's "
                  "cached tables (centres, bin lattice, pixel table) already loaded.", "",
                  "| resolution | cells | incidents | mode | median s | peak extra MiB |", "|---:|---:|---:|---|---:|---:|"]
        for r in scale_rows:
            lines.append(f"| {r['resolution']} | {r['cells']:,} | {r['n']:,} | {r['mode']} | {r['seconds']:.3f} | "
                         f"{r['peak_extra_mib']:.0f} |")
        lines += ["", "A reading of 0 MiB means the run stayed under the resident set the process already had; "
                  "small binned runs at resolution 11 read 0 and are not explained yet: take them as small, not as zero."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="skip scikit-learn and the 10M scaling runs")
    parser.add_argument("--one", nargs=3, metavar=("N", "RES", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        n, res, mode = args.one
        print(json.dumps(one_scaling_run(int(n), int(res), mode, args.repeats)))
        return
    rows, facts = comparison(1_000_000, args.repeats, args.quick)
    for r in rows:
        print(f"{r['method']:55s} {r['kernel']:20s} {r['seconds']:8.3f} s  err {r['errors'][0]:.1e} / {r['errors'][1]:.1e}")
    sizes = [10_000, 100_000, 1_000_000] + ([] if args.quick else [10_000_000])
    scale_rows = scaling(sizes, (9, 10, 11), max(1, args.repeats // 2))
    RESULTS.mkdir(exist_ok=True)
    text = report(rows, facts, scale_rows, args.repeats)
    (RESULTS / "kde.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
