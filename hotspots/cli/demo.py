"""``hotspots demo``: the main job on the shipped West Midlands sample, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hotspots.cli._common import DbOption, app, open_store_at, out, settings
from hotspots.cli.explore import print_top_cells, read_cell_table
from hotspots.cli.patrol import plan
from hotspots.cli.weekly import select
from hotspots.core.config import DEFAULT_FORCE_AREA, SHIPPED_DATA
from hotspots.crime.aggregate import write_cell_table
from hotspots.geo.areas import Area
from hotspots.ingest.files import IngestOptions
from hotspots.services.ingest import ingest_files

#: What the demo's coverage line is to be read against, and what this data cannot show.
GUARDIAN_CONTEXT = (
    "For comparison, Project Guardian's published West Midlands hotspots: 57 places, 1.4% of the force area, "
    "19% of serious youth violence, 18.4% of harm. This week is scored from the 2017 central Birmingham "
    "sample alone (the force-wide file is from 2011, outside the scoring year), so its shares are of that "
    "sample, not of the force; and police.uk data records neither victim age nor knife use, so serious "
    "youth violence cannot be counted here.")


@app.command()
def demo(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to write the tables and the map (default: the data dir).")] = None,
    db: DbOption = "",
):
    """The main job on the shipped West Midlands sample: load, aggregate, select and map the week's hotspots, roster patrols."""
    s = settings()
    samples = sorted((SHIPPED_DATA / "samples").glob("*west-midlands*")) + sorted(
        (SHIPPED_DATA / "samples").glob("birmingham*")
    )
    # The shipped samples are West Midlands data, so the shipped force area, whatever the settings say.
    opts = IngestOptions(force_area=Area.from_file(DEFAULT_FORCE_AREA), timezone=s.timezone,
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
    out.print(GUARDIAN_CONTEXT, highlight=False, soft_wrap=True)
    # The tasking board's job for the same set: the 28 days from its first day, on illustrative resources.
    plan(resources=SHIPPED_DATA / "patrol" / "demo_resources.toml", out_dir=folder / "rosters",
         reason="demo on the shipped sample", db=db)
