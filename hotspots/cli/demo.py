"""``hotspots demo``: the main job on the shipped West Midlands data, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hotspots.cli._common import DbOption, app, open_store_at, out, settings
from hotspots.cli.counts import SHIPPED_DISTRICTS, select_counts
from hotspots.cli.explore import print_top_cells, read_cell_table
from hotspots.cli.patrol import plan
from hotspots.cli.weekly import select
from hotspots.core.config import DEFAULT_FORCE_AREA, SHIPPED_DATA
from hotspots.crime.aggregate import write_cell_table
from hotspots.ingest.files import IngestOptions
from hotspots.services.ingest import ingest_files, load_area

#: What the demo's coverage lines are to be read against, and what this data cannot show.
GUARDIAN = ("Project Guardian's published West Midlands hotspots: 57 places, 1.4% of the force area, 19% of serious "
            "youth violence, 18.4% of harm.")
SAMPLE_CONTEXT = (
    f"For comparison, {GUARDIAN} This week is scored from the 2017 central Birmingham sample alone (the "
    "force-wide street file is from 2011, outside the scoring year), so its shares are of that sample, not of the "
    "force; and police.uk data records neither victim age nor knife use, so serious youth violence cannot be "
    "counted here.")
FORCE_WIDE_CONTEXT = (
    f"For comparison, {GUARDIAN} These force-wide hotspots are chosen from police.uk counts per LSOA of violence "
    "and sexual offences and robbery: counts record neither victim age nor knife use, so serious youth violence "
    "cannot be counted, and counts known per LSOA cannot show a hotspot smaller than its LSOA, so they understate "
    "how concentrated street crime is.")


@app.command()
def demo(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to write the tables and the map (default: the data dir).")] = None,
    db: DbOption = "",
):
    """The main job on the shipped West Midlands data: load and aggregate the samples, select a week's hotspots, then the force-wide month's from counts per LSOA, and roster patrols in each district."""
    s = settings()
    samples = sorted((SHIPPED_DATA / "samples").glob("*west-midlands*")) + sorted(
        (SHIPPED_DATA / "samples").glob("birmingham*")
    )
    # The shipped samples are West Midlands data, so the shipped force area, whatever the settings say.
    opts = IngestOptions(force_area=load_area(DEFAULT_FORCE_AREA), timezone=s.timezone,
                         rejects_dir=s.data_dir / "rejects", h3_resolution=s.h3_resolution)
    store = open_store_at(db)
    for report in ingest_files(samples, store, opts):
        out.print(report.summary(), highlight=False, soft_wrap=True)
    table = read_cell_table(db, s.h3_resolution, "tactical", "", None)
    print_top_cells(table, 10, "incidents")
    folder = out_dir or s.data_dir
    for ext in ("csv", "parquet"):
        path = write_cell_table(table, folder / f"cells.{ext}")
        out.print(f"cell table ({len(table)} rows: cell × tactical period × offence group) written to {path}")
    # The week after the latest data: each run stores a new version of that week's set.
    select(out_paths=[folder / "hotspots.csv", folder / "hotspots.geojson", folder / "hotspots.kml"],
           map_path=folder / "weekly-map.html", area=str(DEFAULT_FORCE_AREA), resolution=s.h3_resolution, db=db)
    out.print(SAMPLE_CONTEXT, highlight=False, soft_wrap=True)
    # The whole force for the month after the shipped counts' last complete month, with the 7 districts
    # (each one local policing area) as the areas that get quotas and rosters.
    select_counts(out_paths=[folder / "force-wide-hotspots.csv", folder / "force-wide-hotspots.geojson",
                             folder / "force-wide-hotspots.kml"], map_path=folder / "force-wide-map.html", db=db)
    out.print(FORCE_WIDE_CONTEXT, highlight=False, soft_wrap=True)
    # The tasking board's job for that set: the 28 days from its first day, on illustrative district resources.
    plan(resources=SHIPPED_DATA / "patrol" / "force_wide_resources.toml", npu_areas=SHIPPED_DISTRICTS,
         npu_field="LAD_name", out_dir=folder / "rosters", reason="demo on the shipped force-wide counts", db=db)
