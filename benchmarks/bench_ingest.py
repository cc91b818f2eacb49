"""Load throughput for 1,000,000 synthetic rows into SQLite and PostgreSQL against the peers a data
engineer would reach for (pandas ``read_csv`` + ``to_sql``, DuckDB ``read_csv`` into a table), and
point-indexing speed.

Run:  .venv/bin/python -m benchmarks.bench_ingest [--rows 1000000] [--repeats 3]

The peers load the raw file as it is: no time zones, no force-area check, no projection or H3
cell, no offence vocabulary, no ids, no rejected rows kept, no re-load check, no indexes. They
are the floor a plain copy of the bytes costs on the same machine, not the same job.

Writes benchmarks/results/ingest.md with the machine it ran on. Nothing here is asserted: the
numbers are measured, printed and committed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import h3
import numpy as np
from sqlalchemy import create_engine, text

from benchmarks.machine import describe_machine
from hotspots.core.config import DEFAULT_FORCE_AREA
from hotspots.geo import cells as h3cells
from hotspots.geo.areas import Area
from hotspots.geo.projection import BRITISH_NATIONAL_GRID, project
from hotspots.ingest.files import IngestOptions
from hotspots.ingest.normalise import normalise
from hotspots.ingest.readers import read
from hotspots.services.ingest import ingest_file
from hotspots.store import open_store
from hotspots.synth import SynthParams, generate, write_city

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).resolve().parent / "results"


def _pg_schema() -> tuple[str, callable]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return f"{POSTGRES}?options=-csearch_path%3D{schema}", drop


def _fresh_database(backend: str, sqlite_file: Path) -> tuple[str, callable]:
    """An empty database to load into, and how to drop it after: a new SQLite file, or a PostgreSQL schema."""
    return (f"sqlite:///{sqlite_file}", lambda: None) if backend == "sqlite" else _pg_schema()


def bench_load(path: Path, mapping: Path, area: Area, backend: str, repeats: int, workdir: Path) -> list[dict]:
    runs = []
    for i in range(repeats):
        url, drop = _fresh_database(backend, workdir / f"bench-{i}.sqlite")
        store = open_store(url)
        opts = IngestOptions(force_area=area, mapping=str(mapping))
        t0 = time.perf_counter()
        report = ingest_file(path, store, opts)
        total = time.perf_counter() - t0
        runs.append({"seconds": total, "rows": report.loaded})
        store.dispose()
        drop()
    return runs


def bench_peers(path: Path, backend: str, repeats: int, workdir: Path) -> dict[str, list[float]]:
    """pandas read_csv + to_sql, and (SQLite row only) DuckDB read_csv into a table of its own file."""
    import pandas as pd

    runs: dict[str, list[float]] = {"pandas": []}
    for i in range(repeats):
        url, drop = _fresh_database(backend, workdir / f"peer-{i}.sqlite")
        engine = create_engine(url)
        t0 = time.perf_counter()
        pd.read_csv(path).to_sql("incidents_peer", engine, index=False, chunksize=100_000)
        runs["pandas"].append(time.perf_counter() - t0)
        engine.dispose()
        drop()
    if backend == "sqlite":
        import duckdb

        runs["duckdb"] = []
        for i in range(repeats):
            con = duckdb.connect(str(workdir / f"peer-{i}.duckdb"))
            t0 = time.perf_counter()
            con.execute(f"CREATE TABLE incidents_peer AS SELECT * FROM read_csv('{path}')")
            con.close()
            runs["duckdb"].append(time.perf_counter() - t0)
    return runs


def bench_cli(path: Path, mapping: Path, workdir: Path) -> dict[str, float]:
    """``hotspots ingest`` as a user runs it, a fresh process into a new SQLite store: first with no
    cached force-area cover, then with the cover the first run stored (imports included)."""
    data_dir = workdir / "cli-data"
    out = {}
    for label in ("cold", "cover cached"):
        (data_dir / "hotspots.sqlite").unlink(missing_ok=True)
        env = {**os.environ, "HOTSPOTS_DATA_DIR": str(data_dir), "HOTSPOTS_DATABASE_URL": ""}
        t0 = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("hotspots")), "ingest", "--mapping", str(mapping), str(path)],
                       env=env, check=True, capture_output=True)
        out[label] = time.perf_counter() - t0
    return out


def bench_stages(path: Path, mapping: Path, area: Area) -> dict:
    """Time reading and normalising alone (no store), to show where load time goes."""
    from hotspots.crime.offences import harm_weights, vocabulary
    from hotspots.ingest.normalise import IngestContext

    t0 = time.perf_counter()
    rows = read(path, "mapped-csv", {"mapping": str(mapping)})
    t1 = time.perf_counter()
    ctx = IngestContext(BRITISH_NATIONAL_GRID, 10, "Europe/London", vocabulary(), harm_weights(), area)
    normalise(rows, ctx)
    t2 = time.perf_counter()
    return {"read": t1 - t0, "normalise": t2 - t1}


def bench_indexing(n: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    lon = rng.uniform(-2.2, -1.42, n)
    lat = rng.uniform(52.35, 52.66, n)
    ours, ours_h3, peer = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        h3cells.points_to_cells(lon, lat, 10)
        t1 = time.perf_counter()
        project(lon, lat, BRITISH_NATIONAL_GRID)
        t2 = time.perf_counter()
        ours_h3.append(t1 - t0)
        ours.append(t2 - t0)
    sub = min(n, 200_000)  # the scalar loop is slow: time a slice and scale
    for _ in range(repeats):
        t0 = time.perf_counter()
        [h3.latlng_to_cell(a, b, 10) for a, b in zip(lat[:sub], lon[:sub], strict=True)]
        peer.append((time.perf_counter() - t0) * n / sub)
    return {"ours_h3": statistics.median(ours_h3), "ours_h3_and_bng": statistics.median(ours),
            "h3py_loop": statistics.median(peer)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    area = Area.from_file(DEFAULT_FORCE_AREA)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        city = generate(SynthParams(seed=42, incidents=int(args.rows / 0.985)), area)
        city.incidents = city.incidents.head(args.rows)
        gen_s = time.perf_counter() - t0
        data, mapping = write_city(city, work / "city", "mapped-csv")
        n = len(city.incidents)
        print(f"synthetic city: {n:,} rows generated in {gen_s:.1f} s; file {data.stat().st_size / 1e6:.0f} MB")
        cli = bench_cli(data, mapping, work)
        print(f"hotspots ingest, one process: {cli['cold']:.1f} s cold, {cli['cover cached']:.1f} s with the cover cached")
        stages = bench_stages(data, mapping, area)
        print(f"read {stages['read']:.1f} s, normalise {stages['normalise']:.1f} s")
        results, peers = {}, {}
        for backend in ["sqlite"] + ([] if args.skip_postgres else ["postgresql"]):
            runs = bench_load(data, mapping, area, backend, args.repeats, work)
            secs = [r["seconds"] for r in runs]
            results[backend] = (statistics.median(secs), secs, runs[0]["rows"])
            print(f"{backend}: median {statistics.median(secs):.1f} s over {len(secs)} runs "
                  f"-> {n / statistics.median(secs):,.0f} rows/s")
            for peer, peer_secs in bench_peers(data, backend, args.repeats, work).items():
                peers[(peer, backend)] = (statistics.median(peer_secs), peer_secs)
                print(f"  peer {peer} into {backend}: median {statistics.median(peer_secs):.1f} s")
    index = bench_indexing(1_000_000, 5)
    print(f"1M points: H3 {index['ours_h3']:.2f} s, H3+BNG {index['ours_h3_and_bng']:.2f} s; "
          f"h3-py scalar loop {index['h3py_loop']:.2f} s")

    lines = [
        "# Ingest benchmark", "",
        f"Command: `python -m benchmarks.bench_ingest --rows {args.rows} --repeats {args.repeats}`", "",
        describe_machine(), "",
        f"Input: {n:,} synthetic incidents (seed 42) as one force-export CSV (mapped-csv reader: exact times, "
        "offence codes, knife flag, victim age band), loaded as one batch with the West Midlands force-area check.",
        "",
        "| loader | into | median seconds | runs (s) | rows/s | time against hotspots |", "|---|---|---|---|---|---|",
    ]
    for backend, (med, secs, _) in results.items():
        lines.append(f"| hotspots ingest | {backend} | {med:.1f} | {', '.join(f'{s:.1f}' for s in secs)} | "
                     f"{n / med:,.0f} | 1.00 |")
    for (peer, backend), (med, secs) in peers.items():
        ours = results.get(backend, results["sqlite"])[0]
        label = {"pandas": "pandas read_csv + to_sql", "duckdb": "DuckDB read_csv into a table"}[peer]
        target = "duckdb file" if peer == "duckdb" else backend
        lines.append(f"| {label} | {target} | {med:.1f} | {', '.join(f'{s:.1f}' for s in secs)} | "
                     f"{n / med:,.0f} | {med / ours:.2f} |")
    lines += ["", "The peers copy the raw file without normalising it (see the benchmark's docstring): "
              "the last column is their time over ours."]
    lines += [
        "", f"`hotspots ingest` as a user runs it (one new process, new SQLite store, imports included, one run "
        f"each): {cli['cold']:.1f} s with no cached force-area cover, {cli['cover cached']:.1f} s with the cover "
        "the first run kept in data_dir/cache/areas.",
        "", f"Stages without a store (one run): read {stages['read']:.1f} s, normalise (parse, area check, "
        f"projection, H3, ids) {stages['normalise']:.1f} s; the rest of a load is the insert.", "",
        "## Point indexing, 1,000,000 WGS84 points (median of 5)", "",
        "| method | seconds | ratio to h3-py loop |", "|---|---|---|",
        f"| hotspots `points_to_cells` (h3ronpy) | {index['ours_h3']:.2f} | {index['h3py_loop'] / index['ours_h3']:.1f}x faster |",
        f"| hotspots H3 + British National Grid projection | {index['ours_h3_and_bng']:.2f} | - |",
        f"| h3-py `latlng_to_cell` in a Python loop (timed on 200k, scaled) | {index['h3py_loop']:.2f} | 1.0 |",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.md").write_text("\n".join(lines) + "\n")
    print(f"written {RESULTS / 'ingest.md'}")


if __name__ == "__main__":
    main()
