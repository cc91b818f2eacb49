"""Loading incidents and looking at them: ``ingest``, ``cells``, ``kde``, ``synth``."""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hotspots.cli._common import (
    CellResolutionOption,
    DbOption,
    ForceAreaOption,
    OffenceGroupOption,
    app,
    err,
    load_force_area,
    open_store_at,
    out,
    parse_date,
    parse_day,
    progress,
    settings,
    stored_incidents,
)
from hotspots.core.config import DEFAULT_NAMED_AREAS
from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_choice, check_resolution
from hotspots.crime.aggregate import aggregate_cells, counted_groups, top_cells, write_cell_table
from hotspots.density.kde import MODES
from hotspots.density.kernels import get_kernel
from hotspots.density.surface import hotspot_kde
from hotspots.density.weighting import WEIGHTS
from hotspots.geo import cells as h3cells
from hotspots.geo.areas import Area, NamedAreas
from hotspots.geo.periods import Calendar
from hotspots.ingest.files import IngestOptions, expand_paths, ingest_file_to_dataset
from hotspots.national.cluster import dask_client
from hotspots.national.dataset import IncidentDataset, check_force, dataset_incidents
from hotspots.national.kde import dataset_kde, partitioned_cell_density
from hotspots.services.ingest import ingest_file
from hotspots.synth import PatrolEffect, SynthParams, generate, synthetic_npus, write_city


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Incident files or folders of them (.csv, .csv.gz, .geojson, .parquet).")],
    fmt: Annotated[str, typer.Option("--format", help="auto, police-street, police-street-legacy, police-api, stop-search, mapped-csv, geojson, geoparquet.")] = "auto",
    mapping: Annotated[Path | None, typer.Option(help="TOML column mapping for a force export (generic CSV).")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of CSV files, e.g. cp1252 for an Excel export on Windows (default UTF-8, with or without BOM).")] = "",
    delimiter: Annotated[str, typer.Option(help="CSV field delimiter: auto (told from the header), comma, semicolon, tab or pipe.")] = "auto",
    force_area: ForceAreaOption = None,
    rejects_dir: Annotated[Path | None, typer.Option(help="Where rejects CSVs go (default: <data dir>/rejects).")] = None,
    harm_table: Annotated[Path | None, typer.Option(help="CSV offence,cchi_days overriding the shipped harm weights.")] = None,
    crs: Annotated[str, typer.Option(help="Projected CRS for x/y, e.g. EPSG:27700; 'auto' picks it.")] = "",
    resolution: Annotated[int, typer.Option(help="H3 resolution stored with each incident (7 to 11).")] = 0,
    dataset: Annotated[Path | None, typer.Option(help="Write to this partitioned GeoParquet data set (force and month) instead of the store.")] = None,
    force: Annotated[str, typer.Option(help="With --dataset: the force the incidents belong to, e.g. west-midlands.")] = "",
    db: DbOption = "",
):
    """Load incident files into the store (or a data set): one all-or-nothing batch per file; rejected rows kept with line and reason."""
    s = settings()
    opts = IngestOptions(
        fmt=fmt, mapping=str(mapping) if mapping else None, encoding=encoding or None, delimiter=delimiter,
        force_area=load_force_area(force_area),
        projected_crs=crs or s.projected_crs, h3_resolution=resolution or s.h3_resolution, timezone=s.timezone,
        harm_table=str(harm_table) if harm_table else None, rejects_dir=rejects_dir or s.data_dir / "rejects",
    )
    if dataset is None and force:
        raise ValidationError("--force names the force of a data set; give --dataset DIR too")
    if dataset is not None:
        if not force:
            raise ValidationError("--dataset needs --force NAME: the force the incidents belong to, e.g. west-midlands")
        check_force(force, "--force")
        store = None
    else:
        store = open_store_at(db)
    files = expand_paths(paths)
    if not files:
        raise ValidationError("no files to load in " + ", ".join(map(str, paths)))
    totals = [0, 0, 0]
    with progress() as bar:
        task = bar.add_task("loading", total=len(files))
        for f in files:
            bar.update(task, description=f"loading {f.name}")
            report = ingest_file(f, store, opts) if dataset is None else ingest_file_to_dataset(f, dataset, force, opts)
            out.print(report.summary(), highlight=False, soft_wrap=True)
            for w in report.warnings:
                err.print(f"warning: {w}", highlight=False, soft_wrap=True)
            totals[0] += report.loaded
            totals[1] += report.already_stored
            totals[2] += report.rejected
            bar.advance(task)
    if len(files) > 1:
        out.print(f"{len(files)} files: {totals[0]} incidents loaded, {totals[1]} already stored, {totals[2]} rejected")



@app.command()
def cells(
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the cell table: .csv, .parquet (GeoParquet) or .geojson.")] = None,
    resolution: CellResolutionOption = 10,
    period: Annotated[str, typer.Option(help="tactical (28 days from the anchor), week or month.")] = "tactical",
    anchor: Annotated[str, typer.Option(help="A first day of a tactical period, YYYY-MM-DD (default from settings).")] = "",
    offence_group: OffenceGroupOption = None,
    top: Annotated[int, typer.Option(help="Print this many top cells.")] = 10,
    by: Annotated[str, typer.Option(help="Rank top cells by incidents or harm.")] = "incidents",
    dataset: Annotated[Path | None, typer.Option(help="Read incidents from this partitioned data set instead of the store.")] = None,
    force: Annotated[list[str] | None, typer.Option(help="With --dataset: only these forces (repeatable; default all).")] = None,
    db: DbOption = "",
):
    """Aggregate stored incidents to H3 cells and periods; print the top cells and write the cell table."""
    if force and dataset is None:
        raise ValidationError("--force chooses forces of a data set; give --dataset DIR too")
    table = read_cell_table(db, resolution, period, anchor, offence_group, dataset, force)
    print_top_cells(table, top, by)
    if out_path:

        out.print(f"cell table: {len(table)} rows written to {write_cell_table(table, out_path)}")


def read_cell_table(db, resolution, period, anchor, offence_group, dataset=None, forces=None):
    """The cell table of the store's incidents, or of a data set's (the chosen forces, read whole)."""
    check_resolution(resolution)
    s = settings()
    calendar = Calendar(period, parse_day(anchor, "anchor") or s.period_anchor, s.period_days, s.timezone)
    if dataset is not None:

        frame = dataset_incidents(IncidentDataset(dataset), offence_group, forces=forces, name="--offence-group")
    else:
        frame = stored_incidents(open_store_at(db), offence_group)
    return aggregate_cells(frame, calendar, resolution)



def print_top_cells(table, n: int, by: str) -> None:
    names = NamedAreas.from_file(DEFAULT_NAMED_AREAS) if DEFAULT_NAMED_AREAS.exists() else None
    ranked = top_cells(table, n, by, names)
    periods = table["period"].nunique()
    view = Table(title=f"Top {len(ranked)} cells by {by} over {periods} period(s)")
    for col in ("rank", "h3 cell", "incidents", "harm (days)", "share", "lat", "lon", "ward"):
        view.add_column(col, justify="right" if col not in ("h3 cell", "ward") else "left")
    for r in ranked.itertuples():
        view.add_row(str(r.rank), r.h3_cell, f"{r.incidents:.1f}", f"{r.harm:,.0f}", f"{r.share_of_incidents:.2%}",
                     f"{r.lat:.5f}", f"{r.lon:.5f}", str(getattr(r, "area", "") or "-"))
    out.print(view)



@app.command()
def kde(
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the density table: .csv, .parquet (GeoParquet) or .geojson.")] = None,
    resolution: CellResolutionOption = 10,
    bandwidth: Annotated[str, typer.Option(help="Kernel bandwidth in metres, or 'auto' (likelihood cross-validation on the last --holdout-days).")] = "400",
    kernel: Annotated[str, typer.Option(help="quartic, epanechnikov, triangular, uniform or gaussian.")] = "quartic",
    weight: Annotated[str, typer.Option(help="count (one per incident) or harm (Crime Harm Index days).")] = "count",
    half_life_days: Annotated[float | None, typer.Option(help="Weigh incidents down by age: days after which one counts half.")] = None,
    reference_date: Annotated[str, typer.Option(help="Date the surface stands for, YYYY-MM-DD; later incidents are left out (default: the latest incident).")] = "",
    since: Annotated[str, typer.Option(help="Only incidents from this date, YYYY-MM-DD.")] = "",
    mode: Annotated[str, typer.Option(help="exact, or binned (faster for millions of incidents, error bound reported).")] = "exact",
    bin_offset: Annotated[int, typer.Option(help="Binned mode: bin into cells this many resolutions finer (0 to 3).")] = 1,
    truncate: Annotated[float, typer.Option(help="Gaussian kernel: cut at this many bandwidths.")] = 3.0,
    holdout_days: Annotated[float, typer.Option(help="With --bandwidth auto: days held out at the end to score candidates.")] = 28.0,
    offence_group: OffenceGroupOption = None,
    area: Annotated[str | None, typer.Option("--area", help="Boundary file of the region to map (default: the force area).")] = None,
    top: Annotated[int, typer.Option(help="Print this many densest cells.")] = 10,
    scheduler: Annotated[str, typer.Option(help="Compute on a Dask cluster: 'local' (a LocalCluster here) or a scheduler address, tcp://HOST:8786. Default: this process.")] = "",
    dask_workers: Annotated[int, typer.Option(help="With --scheduler local: worker processes.")] = 2,
    dataset: Annotated[Path | None, typer.Option(help="Read incidents from this partitioned data set instead of the store; each part reads only its own halo.")] = None,
    force: Annotated[list[str] | None, typer.Option(help="With --dataset: only these forces (repeatable; default all).")] = None,
    db: DbOption = "",
):
    """Kernel density of stored incidents on the H3 cells of the force area; print the densest cells and write the table."""
    # Argument mistakes are caught before the store is read.
    check_resolution(resolution)
    get_kernel(kernel, truncate)
    check_choice(mode, MODES, "mode")
    check_choice(weight, WEIGHTS, "weight")
    region = load_force_area(area)
    if region is None:
        raise ValidationError("--area none: a density surface needs a region; give a boundary file")
    if bandwidth != "auto":
        try:
            bandwidth = float(bandwidth)
        except ValueError:
            raise ValidationError(f"--bandwidth={bandwidth!r} must be metres (e.g. 400) or 'auto'") from None
    if scheduler and mode != "exact":
        raise ValidationError(f"--mode {mode} runs on one machine; a cluster (--scheduler) computes the exact surface")
    if force and dataset is None:
        raise ValidationError("--force chooses forces of a data set; give --dataset DIR too")
    if dataset is not None and (mode != "exact" or bandwidth == "auto"):
        raise ValidationError("a data set is mapped part by part: give --bandwidth in metres and --mode exact")
    reference = parse_date(reference_date, "--reference-date", end=True)
    with ExitStack() as stack:
        client = stack.enter_context(dask_client(scheduler, dask_workers)) if scheduler else None
        if dataset is not None:

            table = dataset_kde(IncidentDataset(dataset), region.cells(resolution), bandwidth=bandwidth, kernel=kernel,
                                weight=weight, half_life_days=half_life_days, reference_time=reference,
                                since=parse_date(since, "--since"),
                                offence_groups=counted_groups(offence_group, "--offence-group"), forces=force,
                                truncate=truncate, client=client)
        else:
            store = open_store_at(db)
            frame = stored_incidents(store, offence_group, since=parse_date(since, "--since"))
            table = hotspot_kde(frame, region.cells(resolution), bandwidth=bandwidth, kernel=kernel, weight=weight,
                                half_life_days=half_life_days, reference_time=reference, mode=mode,
                                bin_offset=bin_offset, truncate=truncate, crs=store.meta("projected_crs"),
                                holdout_days=holdout_days,
                                density=partial(partitioned_cell_density, client=client) if client else None)
    a = table.attrs
    view = Table(title=f"Densest {min(top, len(table))} of {len(table):,} cells: {a['kernel']} kernel, "
                       f"{a['bandwidth_m']:g} m, {a['weight']} weights, {a['mode']} mode")
    for col in ("rank", "h3 cell", "per km²", "expected in cell", "lat", "lon"):
        view.add_column(col, justify="left" if col == "h3 cell" else "right")
    for i, r in enumerate(table.head(top).itertuples(), start=1):
        view.add_row(str(i), r.h3_cell, f"{r.density_per_km2:,.2f}", f"{r.expected:,.3f}", f"{r.lat:.5f}", f"{r.lon:.5f}")
    out.print(view)
    if "bandwidth_choice" in a:
        out.print(a["bandwidth_choice"], highlight=False, soft_wrap=True)
    if "binning_error_bound_per_km2" in a:
        out.print(f"binned: incidents moved at most {a.get('max_displacement_m', 0):.1f} m; density within "
                  f"{a['binning_error_bound_per_km2']:,.3g} per km² of exact at every cell (worst case)", highlight=False)
    if out_path:
        out.print(f"density table: {len(table)} rows written to {write_cell_table(table, out_path)}")



@app.command()
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write to.")] = Path("synthetic"),
    incidents: Annotated[int, typer.Option(help="Expected number of incidents.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same city.")] = 0,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2024-01-01",
    days: Annotated[int, typer.Option(help="Number of days.")] = 365,
    fmt: Annotated[list[str] | None, typer.Option("--format", help="police-street, mapped-csv, geoparquet, geojson (repeatable).")] = None,
    patrol_reduction: Annotated[float, typer.Option(help="Known patrol effect in the top hotspot cells (0.2 = 20% fewer).")] = 0.0,
    npus: Annotated[int, typer.Option(help="Number of synthetic NPU areas to draw (0 for none).")] = 8,
):
    """Generate a seeded synthetic city with known ground truth, in the formats the readers read."""
    try:
        first = dt.date.fromisoformat(start)
    except ValueError:
        raise ValidationError(f"--start={start!r} is not a date; use YYYY-MM-DD") from None
    area = Area.from_file(settings().force_area)  # read and indexed once: the outline has ~50k vertices
    patrol = _hotspot_patrol(seed, patrol_reduction, area) if patrol_reduction else None
    params = SynthParams(seed=seed, incidents=incidents, start=first, days=days, patrol=patrol)
    with err.status("generating the synthetic city"):
        city = generate(params, area)
    written = []
    for f in fmt or ["police-street"]:
        with err.status(f"writing {f}"):
            written += write_city(city, out_dir, f)
    city.hotspots.to_csv(out_dir / f"truth-hotspots-seed{seed}.csv", index=False)
    if npus:
        path = out_dir / "synthetic_npus.geojson"
        path.unlink(missing_ok=True)
        synthetic_npus(area, npus, seed).to_file(path, driver="GeoJSON", engine="pyogrio")
        written.append(path)
    out.print(f"{len(city.incidents)} synthetic incidents (seed {seed}); {city.removed_by_patrol} removed by the "
              f"patrol effect; {len(written)} files in {out_dir}")


def _hotspot_patrol(seed: int, reduction: float, area):
    """Patrol the cells of the ten strongest true hotspots, evenings 18:00-24:00 every day."""
    # The hotspots depend only on the seed and the area, so a one-incident city finds them.
    truth = generate(SynthParams(seed=seed, incidents=1), area).hotspots.nlargest(10, "weight")
    cells = h3cells.k_ring(h3cells.points_to_cells(truth["lon"].to_numpy(), truth["lat"].to_numpy(), 10), 1)
    hours = tuple(d * 24 + h for d in range(7) for h in range(18, 24))
    return PatrolEffect(cells=tuple(h3cells.to_strings(cells)), hours_of_week=hours, reduction=reduction)

