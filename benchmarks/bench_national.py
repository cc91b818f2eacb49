"""Kernel density at national scale: one process against a Dask LocalCluster of one and two workers.

Run:  .venv/bin/python -m benchmarks.bench_national [--incidents 20000000] [--resolution 9] [--parent 4]
          [--repeat 3] [--dataset DIR]

Inputs: a seeded synthetic national set: incidents drawn around 400 towns spread over a
300 km × 400 km rectangle of England and Wales (British National Grid), and every H3 cell of
that rectangle at the given resolution. The single-process path is ``hotspots.density.kde.cell_density``
(exact); the cluster path is ``hotspots.national.kde.partitioned_cell_density`` with the same
inputs, checked equal to 1e-12 before any time is reported. Every run computes the cells' centres
and areas afresh (the single-process cache is cleared), as the parts do. The same incidents are
then written as a GeoParquet data set (20 forces in west-east bands, 12 months) and mapped by
``hotspots.national.kde.dataset_kde``: the driver ships only cells, and each worker reads its own
halo from the files. Reports median wall time, each
worker's peak resident memory, the speed-up of two workers over one, and how far that is from
linear. Writes benchmarks/results/national.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import describe_machine

RESULTS = Path(__file__).resolve().parent / "results"
CRS = "EPSG:27700"
X0, Y0, WIDTH, HEIGHT = 200_000.0, 150_000.0, 300_000.0, 400_000.0


def national_set(n: int, resolution: int, seed: int = 0):
    """Incidents (lon, lat and x, y in metres) clustered around towns, and the cells of the rectangle."""
    from pyproj import Transformer
    from shapely.geometry import box

    from hotspots.geo import cells as h3cells
    from hotspots.geo.projection import project

    rng = np.random.default_rng(seed)
    towns = np.column_stack([rng.uniform(X0, X0 + WIDTH, 400), rng.uniform(Y0, Y0 + HEIGHT, 400)])
    size = rng.pareto(1.2, 400) + 1
    pick = rng.choice(400, size=n, p=size / size.sum())
    spread = rng.uniform(800, 4000, 400)[pick]
    x = towns[pick, 0] + rng.normal(0, 1, n) * spread
    y = towns[pick, 1] + rng.normal(0, 1, n) * spread
    to_wgs = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    # Positions as a data set keeps them (lon/lat) and as every path projects them back.
    at_lon, at_lat = to_wgs.transform(x, y)
    x, y = project(at_lon, at_lat, CRS)
    lon0, lat0 = to_wgs.transform(X0, Y0)
    lon1, lat1 = to_wgs.transform(X0 + WIDTH, Y0 + HEIGHT)
    cells = h3cells.region_to_cells(box(lon0, lat0, lon1, lat1), resolution, contain="centre")
    lon, lat = h3cells.cell_centres(cells)
    cx, cy = project(lon, lat, CRS)
    inside = (cx >= X0) & (cx <= X0 + WIDTH) & (cy >= Y0) & (cy <= Y0 + HEIGHT)
    return at_lon, at_lat, x, y, np.sort(cells[inside])


FORCES = 20


def write_national_dataset(root: Path, lon: np.ndarray, lat: np.ndarray, x: np.ndarray, y: np.ndarray,
                           seed: int = 1) -> float:
    """The incidents as a data set: a force per 15 km band west to east, times spread over 2024;
    returns seconds taken."""
    import pandas as pd

    from hotspots.geo import cells as h3cells
    from hotspots.national.dataset import write_incidents_dataset
    t = time.perf_counter()
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 366 * 86400, x.size), unit="s")
    frame = pd.DataFrame({
        "incident_id": pd.Series(np.arange(x.size)).map("n{:09d}".format), "occurred_from": when,
        "occurred_to": when, "time_precision": "exact", "lon": lon, "lat": lat, "x": x, "y": y,
        "h3_cell": h3cells.to_strings(h3cells.points_to_cells(lon, lat, 10)), "offence": "violence_with_injury",
        "offence_group": "violence_and_sexual_offences", "harm_weight": 1.0})
    band = np.clip(((x - X0) // (WIDTH / FORCES)).astype(int), 0, FORCES - 1)
    for force in range(FORCES):
        write_incidents_dataset(frame[band == force], root, f"force-{force:02d}", CRS)
    return time.perf_counter() - t


def peak_rss_mib() -> float:
    """This process's peak resident memory (Linux VmHWM: unlike ru_maxrss, it starts afresh at exec,
    so a spawned worker does not report its parent's peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    import distributed

    from hotspots.density.kde import cell_density
    from hotspots.geo import cells as h3cells
    from hotspots.national.dataset import IncidentDataset
    from hotspots.national.kde import dataset_kde, partitioned_cell_density

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=20_000_000)
    parser.add_argument("--resolution", type=int, default=9)
    parser.add_argument("--bandwidth", type=float, default=400.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parent", type=int, default=4, help="H3 resolution of the parts' parent cells.")
    parser.add_argument("--dataset", type=Path, default=None, help="Where to write the data set (default: a temporary folder).")
    args = parser.parse_args()
    t = time.perf_counter()
    lon, lat, x, y, cells = national_set(args.incidents, args.resolution)
    print(f"{x.size:,} incidents, {cells.size:,} cells in {time.perf_counter() - t:.0f} s", flush=True)
    options = {"crs": CRS, "bandwidth": args.bandwidth}

    def timed(run) -> tuple[float, object]:
        times, got = [], None
        for _ in range(args.repeat):
            t = time.perf_counter()
            got = run()
            times.append(time.perf_counter() - t)
        return float(np.median(times)), got

    from hotspots.density.kde import _targets

    def single():
        # Cell centres and areas are cached per region; each run computes them, as each part does.
        _targets.cache_clear()
        return cell_density(x, y, cells, **options)

    single_s, whole = timed(single)
    rows = [("one process (cell_density, numba threads on both cores)", single_s, f"{peak_rss_mib():,.0f} (the process)",
             "", "")]
    print(rows[-1], flush=True)
    root = args.dataset or Path(tempfile.mkdtemp(prefix="national-"))
    write_s = write_national_dataset(root, lon, lat, x, y)
    print(f"data set written to {root} in {write_s:.0f} s", flush=True)
    dataset = IncidentDataset(root)
    for label, run in (("arrays shipped from the driver", lambda client: partitioned_cell_density(
                            x, y, cells, client=client, parent_resolution=args.parent, **options).to_frame()),
                       ("each worker reads its halo from the data set", lambda client: dataset_kde(
                            dataset, cells, bandwidth=args.bandwidth, parent_resolution=args.parent, client=client))):
        by_workers = {}
        for workers in (1, 2):
            with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                          dashboard_address=None, memory_limit=0) as cluster, \
                    distributed.Client(cluster) as client:
                # Each worker's numba uses one thread: the cluster's parallelism is its workers.
                client.run(lambda: __import__("numba").set_num_threads(1))
                seconds, table = timed(lambda: run(client))
                got = table.set_index("h3_cell")["density_per_km2"].reindex(h3cells.to_strings(whole.cells))
                np.testing.assert_allclose(got.to_numpy(), whole.density_per_km2, rtol=1e-12, atol=1e-12)
                peaks = client.run(peak_rss_mib)
            by_workers[workers] = seconds
            speed = by_workers[1] / seconds
            rows.append((f"{label}: {workers} worker{'s' if workers > 1 else ''} ({table.attrs['parts']} parts, "
                         f"largest halo {table.attrs['largest_halo_incidents']:,})", seconds,
                         ", ".join(f"{v:,.0f}" for v in peaks.values()), f"{speed:.2f}×", f"{speed / workers:.0%}"))
            print(rows[-1], flush=True)
        rows.append(("", None, "", "", ""))
    lines = ["# Kernel density at national scale", "", describe_machine(), "",
             f"{x.size:,} synthetic incidents around 400 towns in a 300 × 400 km rectangle of England and Wales; "
             f"all {cells.size:,} resolution-{args.resolution} cells of it; quartic kernel, "
             f"{args.bandwidth:g} m, exact. Median of {args.repeat} runs. Every cluster result equals the "
             "single-process surface to 1e-12 (checked in the run). Peak memory of the one process includes "
             "generating the incidents. The data set (20 forces × 12 months, GeoParquet) took "
             f"{write_s:.0f} s to write; with it the driver ships only cells, and a worker holds only its halo.", "",
             "| path | median s | peak memory per worker (MiB) | speed-up over 1 worker | of linear |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {s:.1f} | {mem} | {speed} | {eff} |" for name, s, mem, speed, eff in rows if s]
    lines += ["", f"Run on {dt.date.today().isoformat()}."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "national.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
