"""The API under load: 50 concurrent clients for 30 seconds against a real server on 127.0.0.1.

Run:  scripts/install-bench-tools && .venv/bin/python -m benchmarks.bench_api [--clients 50] [--seconds 30]
          [--workers 2] [--stores sqlite,postgresql] [--generator wrk|httpx]
          [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Inputs: a force-wide week of hotspots (57, from a synthetic year of 100,000 incidents) and its
28-day roster (about 4,700 visits) in a SQLite store and in PostgreSQL (a scratch schema, dropped
after). The clients ask for the set's GeoJSON (commander token) and the roster's CSV download
(tasking token, audited: every download writes an audit row, group-committed). With wrk (the
default when installed) half the clients ask for each route; with ``--generator httpx`` each Python
client alternates them (that generator used about 40% of the two cores itself, so it measured
itself as much as the server). Reports requests per second, latency p50/p95/p99 and errors, the
audit rows each run added against the roster downloads the server answered (from its access log;
they must be equal), and the load generator's own CPU share, with the server started by
``hotspots serve`` exactly as users start it.
There is no peer service to compare with; the comparison is across worker counts in one run.
Writes benchmarks/results/api.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import numpy as np

from benchmarks.machine import describe_machine

RESULTS = Path(__file__).resolve().parent / "results"


def build_store(folder: Path, url: str) -> dict:
    import pandas as pd

    from benchmarks.bench_patrol import CALENDAR, START, resources
    from hotspots.core.config import DEFAULT_FORCE_AREA
    from hotspots.geo.areas import Area, NamedAreas
    from hotspots.patrol import assign_npus, patrol_roster
    from hotspots.places.weekly import weekly_hotspots
    from hotspots.services.rosters import save_roster
    from hotspots.services.weekly import save_set
    from hotspots.store import open_store
    from hotspots.store.tokens import add_token
    from hotspots.synth import SynthParams, generate, synthetic_npus

    area = Area.from_file(DEFAULT_FORCE_AREA)
    inc = generate(SynthParams(seed=7, incidents=100_000), area).incidents
    t = pd.to_datetime(inc["occurred_at"], utc=True)
    from hotspots.crime.offences import vocabulary

    inc = inc.assign(occurred_from=t, occurred_to=t, offence_group=vocabulary().group_of(inc["offence"].to_numpy(object)))
    npus = NamedAreas(synthetic_npus(area, 8, 7).reset_index(drop=True), "npu")
    week = weekly_hotspots(inc, area.cells(10), calendar=CALENDAR, period=CALENDAR.period_of(START), resolution=10,
                           crs="EPSG:27700", permutations=0, areas=npus, area_min=2, next_number=1,
                           evidence="none")  # the set's size, not its evidence, is what loads the API
    hs = week.hotspot_set
    spec = resources(npus.names, 6, 700.0)
    hot = hs.hotspots.assign(npu=assign_npus(hs.hotspots, spec, npus))
    roster = patrol_roster(hot, spec, np.full((len(hot), 168), 1 / 168), hot["harm"].fillna(0).to_numpy(float),
                           start=START, seed=1)
    store = open_store(url)
    set_id = save_set(store, hs, period_label=week.period_label, period_start=week.period_start,
                      period_end=week.period_end, resolution=10, score_source=week.score_source, coverage=week.coverage)
    roster_id = save_roster(store, roster, set_id=set_id, issued_by="bench")
    tokens = {role: add_token(store, f"bench-{role}", role, actor="bench") for role in ("commander", "tasking")}
    store.dispose()
    return {"set_id": set_id, "roster_id": roster_id, "tokens": tokens, "hotspots": len(hot),
                 "visits": len(roster.visits)}


@contextmanager
def scratch_schema(base: str):
    """A fresh PostgreSQL schema, as a store URL; dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def serve(url: str, folder: Path, workers: int) -> tuple[int, subprocess.Popen]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")} | {"HOTSPOTS_DATA_DIR": str(folder)}
    log = (folder / "server.log").open("ab")  # uvicorn's access log included: the downloads it answered
    server = subprocess.Popen([sys.executable, "-m", "hotspots.cli", "serve", "--port", str(port), "--workers",
                               str(workers), "--db", url], env=env, stdout=log, stderr=log)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return port, server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


def _routes(info: dict) -> list[tuple[str, str, str]]:
    return [(f"/hotspot-sets/{info['set_id']}/geojson", info["tokens"]["commander"], "geojson"),
            (f"/rosters/{info['roster_id']}/download/csv", info["tokens"]["tasking"], "roster csv")]


async def load_httpx(port: int, info: dict, clients: int, seconds: float) -> dict:
    """Python clients (httpx, asyncio) in this process, each alternating the two routes."""
    base = f"http://127.0.0.1:{port}"
    routes = _routes(info)
    latencies: dict[str, list[float]] = {name: [] for _, _, name in routes}
    errors: list[str] = []
    stop = time.perf_counter() + seconds

    async def client(k: int, http: httpx.AsyncClient):
        i = k
        while time.perf_counter() < stop:
            path, token, name = routes[i % 2]
            i += 1
            start = time.perf_counter()
            try:
                response = await http.get(base + path, headers={"Authorization": f"Bearer {token}"})
                if response.status_code != 200:
                    errors.append(f"{name} {response.status_code}")
                    continue
            except httpx.HTTPError as exc:
                errors.append(f"{name} {type(exc).__name__}")
                continue
            latencies[name].append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(k, http) for k in range(clients)))
        elapsed = time.perf_counter() - began
    routes_out = {}
    for name, values in latencies.items():
        ms = np.asarray(values) * 1000
        routes_out[name] = [len(values), *((np.percentile(ms, q) for q in (50, 95, 99)) if len(ms) else (np.nan,) * 3)]
    return {"elapsed": elapsed, "errors": errors, "routes": routes_out}


#: wrk's report of one run, as JSON (latency in microseconds; errors.status counts responses >= 400).
_WRK_SCRIPT = """wrk.headers["Authorization"] = "Bearer %s"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %%d, "seconds": %%f, "status": %%d, "connect": %%d, "read": %%d, "write": %%d, '
    .. '"timeout": %%d, "p50": %%f, "p95": %%f, "p99": %%f}\\n', summary.requests, summary.duration / 1e6,
    e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3))
end
"""


def load_wrk(port: int, info: dict, clients: int, seconds: float, folder: Path) -> dict:
    """wrk (C, one thread each): half the clients on each route, all at once. Its per-request cost
    is a small fraction of a Python client's, so the server, not the generator, is what is measured."""
    runs = []
    for path, token, name in _routes(info):
        script = folder / f"{name.replace(' ', '-')}.lua"
        script.write_text(_WRK_SCRIPT % token)
        runs.append((name, subprocess.Popen(
            ["wrk", "-t1", f"-c{clients // 2}", f"-d{seconds:.0f}s", "--timeout", "10s", "-s", str(script),
             f"http://127.0.0.1:{port}{path}"], stdout=subprocess.PIPE, text=True)))
    routes, errors, elapsed, cpu_seconds = {}, [], 0.0, 0.0
    for name, proc in runs:
        text = proc.stdout.read()
        _, _, usage = os.wait4(proc.pid, 0)  # wrk's own CPU time, which Popen does not report
        proc.returncode = 0
        cpu_seconds += usage.ru_utime + usage.ru_stime
        report = json.loads(text.strip().splitlines()[-1])
        elapsed = max(elapsed, report["seconds"])
        routes[name] = [report["requests"] - report["status"], report["p50"], report["p95"], report["p99"]]
        errors += [f"{name} HTTP >= 400"] * report["status"]
        errors += [f"{name} {kind}" for kind in ("connect", "read", "write", "timeout") for _ in range(report[kind])]
    return {"elapsed": elapsed, "errors": errors, "routes": routes,
            "generator_cpu": cpu_seconds / elapsed / (os.cpu_count() or 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", default="2")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per store and worker count; medians are reported.")
    parser.add_argument("--postgres", default=os.environ.get("HOTSPOTS_TEST_POSTGRES_URL",
                                                              "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--generator", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx",
                        help="wrk (scripts/install-bench-tools; the default when installed) or Python httpx clients.")
    args = parser.parse_args()
    lines = ["# The API under load", "", describe_machine(), ""]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as scratch:
        folder = Path(tmp)
        header = False
        for backend in args.stores.split(","):
            url = f"sqlite:///{folder / 'bench.sqlite'}" if backend == "sqlite" else \
                scratch.enter_context(scratch_schema(args.postgres))
            info = build_store(folder, url)
            if not header:
                how = (f"half of them on a {info['hotspots']}-hotspot set's GeoJSON and half on a "
                       f"{info['visits']:,}-visit roster's CSV download (each download audited), generated by two "
                       "wrk processes (C, one thread each, closed loop: each client sends its next request when "
                       "the last is answered)") if args.generator == "wrk" else (
                       f"each alternating a {info['hotspots']}-hotspot set's GeoJSON and a {info['visits']:,}-visit "
                       "roster's CSV download (each download audited), generated by Python httpx clients")
                lines += [f"{args.clients} concurrent clients for {args.seconds:.0f} s against `hotspots serve` on "
                          f"127.0.0.1, {how}. The load generator shares the machine's 2 cores with the server (and, "
                          f"for PostgreSQL, with the database). Each figure is the median of {args.repeat} runs "
                          "(a fresh server each run).", "",
                          "| store | workers | route | requests | req/s | p50 ms | p95 ms | p99 ms | errors |",
                          "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
                header = True
            for workers in [int(w) for w in args.workers.split(",")]:
                lines += medians(backend, workers, [run(url, folder, info, workers, args.clients, args.seconds,
                                                        args.generator) for _ in range(args.repeat)])
                print(lines[-1], flush=True)
    lines += ["", f"Run on {dt.date.today().isoformat()}."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _downloads_audited(url: str) -> int:
    from hotspots.store import open_store
    from hotspots.store.audit import audit_events

    store = open_store(url)
    try:
        return len(audit_events(store, action="roster.download"))
    finally:
        store.dispose()


def _downloads_answered(folder: Path, info: dict, after: int) -> int:
    """Roster downloads the server answered with 200 after byte ``after`` of its access log (a download
    the generator cut off at the end of the run is answered, and audited, but not received)."""
    line = f'"GET /rosters/{info["roster_id"]}/download/csv HTTP/1.1" 200'.encode()
    return (folder / "server.log").read_bytes()[after:].count(line)


WARM_UP_S = 3


def run(url: str, folder: Path, info: dict, workers: int, clients: int, seconds: float, generator: str) -> dict:
    """One run: per route, requests per second and latency percentiles (ms); errors; the audit rows the
    run added against the downloads the server answered; and the load generator's own share of the CPUs."""
    (folder / "server.log").unlink(missing_ok=True)
    port, server = serve(url, folder, workers)
    # A short warm-up, not counted: each worker renders the two documents once and opens its connections.
    if generator == "wrk":
        load_wrk(port, info, clients, WARM_UP_S, folder)
    else:
        asyncio.run(load_httpx(port, info, clients, WARM_UP_S))
    time.sleep(2)  # requests the warm-up left in flight are finished (and audited) before the count
    audited = _downloads_audited(url)
    log_offset = (folder / "server.log").stat().st_size
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    try:
        result = load_wrk(port, info, clients, seconds, folder) if generator == "wrk" else \
            asyncio.run(load_httpx(port, info, clients, seconds))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    used = resource.getrusage(resource.RUSAGE_SELF)
    own = (used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime) / result["elapsed"] / (os.cpu_count() or 1)
    out = {"errors": len(result["errors"]), "error_kinds": sorted(set(result["errors"])), "routes": {},
           "audit_rows": _downloads_audited(url) - audited, "answered": _downloads_answered(folder, info, log_offset),
           "downloads": result["routes"]["roster csv"][0], "generator_cpu": result.get("generator_cpu", own)}
    for name, (n, p50, p95, p99) in result["routes"].items():
        out["routes"][name] = [n, n / result["elapsed"], p50, p95, p99]
    out["all"] = sum(r[1] for r in out["routes"].values())
    return out


def medians(backend: str, workers: int, runs: list[dict]) -> list[str]:
    rows = []
    for name in runs[0]["routes"]:
        n, rate, p50, p95, p99 = np.median([r["routes"][name] for r in runs], axis=0)
        rows.append(f"| {backend} | {workers} | {name} | {n:,.0f} | {rate:.1f} | {p50:.0f} | {p95:.0f} | {p99:.0f} | |")
    every = ", ".join(f"{r['all']:.1f}" for r in runs)
    rows.append(f"| {backend} | {workers} | **all** (runs: {every}) | | {np.median([r['all'] for r in runs]):.1f} "
                f"| | | | {sum(r['errors'] for r in runs)} |")
    audit = ", ".join(f"{r['audit_rows']:,}/{r['answered']:,} ({r['downloads']:,} received)" for r in runs)
    share = ", ".join(f"{r['generator_cpu']:.0%}" for r in runs)
    kinds = sorted({k for r in runs for k in r["error_kinds"]})
    rows.append(f"| {backend} | {workers} | audit rows / downloads the server answered: {audit}; "
                f"load generator's CPU share: "
                f"{share}{'; errors: ' + ', '.join(kinds) if kinds else ''} | | | | | | |")
    return rows


if __name__ == "__main__":
    main()
