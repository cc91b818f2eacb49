"""Legitimacy and accountability: ``stop-search`` (load, report), ``return`` (the quarterly return) and
``transparency`` (the public summary)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from hotspots.cli._common import DbOption, app, open_store_at, out, parse_day, settings
from hotspots.core.tables import write_csv
from hotspots.services.engagement import local_today
from hotspots.services.returns import DEFAULT_LAG_DAYS, quarterly_return, transparency_summary
from hotspots.services.stop_search import DEFAULT_BEFORE_DAYS, StopSearchReport, load_stop_search, stop_search_report
from hotspots.store.audit import local_actor

stop_search_app = typer.Typer(help="Stop and search in and out of hotspots, kept only as counts.", no_args_is_help=True)
app.add_typer(stop_search_app, name="stop-search")

SetOption = Annotated[int, typer.Option("--set", help="The hotspot set (see 'hotspots sets').")]


@stop_search_app.command("load")
def stop_search_load(
    paths: Annotated[list[Path], typer.Argument(help="data.police.uk stop-and-search CSVs (.gz read through), or folders.")],
    set_id: SetOption,
    before_days: Annotated[int, typer.Option(help="Days before the set's period that 'before designation' covers.")] = DEFAULT_BEFORE_DAYS,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of the files (default: UTF-8, BOM allowed).")] = None,
    db: DbOption = "",
):
    """Count stop-and-search files per hotspot of a set, period and category, and store the counts (never a row
    per search); loading the same files again adds nothing."""
    load = load_stop_search(open_store_at(db), set_id, paths, loaded_by=local_actor(), before_days=before_days,
                            timezone=settings().timezone, options={"encoding": encoding} if encoding else None)
    verb = "stored as load" if load.added else "already stored as load"
    out.print(f"{load.rows_read:,} searches in {len(load.files)} file(s), months {', '.join(load.months)}: "
              f"{verb} {load.load_id} on set {load.set_id} ({len(load.counts):,} count rows; "
              f"{load.rows_rejected} row(s) rejected)", highlight=False, soft_wrap=True)


@stop_search_app.command("report")
def stop_search_show(
    set_id: SetOption,
    population: Annotated[Path | None, typer.Option(help="Resident population CSV: ethnic_group, population, optional age_band (e.g. Census 2021 by LSOA).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write every table as CSV into this folder.")] = None,
    db: DbOption = "",
):
    """Stop and search in and out of a set's hotspots, before and during designation; the outcome test; and
    disproportionality per 1,000 residents when a population table is given."""
    report = stop_search_report(open_store_at(db), set_id, population=population)
    print_stop_search(report)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, frame in report.tables().items():
            write_csv(frame, out_dir / f"stop_search_{name}.csv")
        out.print(f"tables written to {out_dir}", highlight=False)


def print_stop_search(report: StopSearchReport) -> None:
    """The rates, comparisons and find rates as tables, and what the figures rest on."""
    out.print(f"Set {report.set_id} ({report.period_label}): {report.searches:,} searches in months "
              f"{', '.join(report.months)}; {report.unplaced:,} without a position; covered days before "
              f"{report.days['before']}, during {report.days['during']}", highlight=False, soft_wrap=True)
    _table(report.comparisons, "Search rates compared (ratio, 95% interval)")
    shown = ["group", "searches", "finds", "find_rate", "low", "high", "ratio_to_white", "ratio_low", "ratio_high"]
    rates = report.find_rates
    for where in ("hotspots", "rest"):
        part = rates[rates["where"].eq(where) & rates["defined_by"].eq("self")] if len(rates) else rates
        if len(part):
            _table(part[shown], f"Outcome test during designation, {where} (self-defined ethnicity)")
    if report.disproportionality is not None:
        _table(report.disproportionality[report.disproportionality["age_band"].eq("all")],
               "Searches per 1,000 residents (all loaded months)")
    for note in report.notes:
        out.print(note, highlight=False, soft_wrap=True)


def _table(frame: pd.DataFrame, title: str) -> None:
    view = Table(title=title)
    for col in frame.columns:
        view.add_column(str(col))
    for row in frame.itertuples(index=False):
        view.add_row(*[_cell(v) for v in row])
    out.print(view)


def _cell(value) -> str:
    if isinstance(value, float | np.floating):
        return "-" if not np.isfinite(value) else f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _write(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    out.print(f"written to {path}", highlight=False)


@app.command("return")
def quarterly(
    quarter: Annotated[str, typer.Argument(help="The quarter, e.g. 2024Q1.")],
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write the return as CSV.")] = None,
    html_path: Annotated[Path | None, typer.Option("--html", help="Write the return as a printable HTML page.")] = None,
    db: DbOption = "",
):
    """The quarterly serious-violence return: patrol planned and delivered in hotspots, crime, harm and stop and
    search in them against the rest (CSV and HTML)."""
    ret = quarterly_return(open_store_at(db), quarter, timezone=settings().timezone)
    view = ret.table().drop(columns=["set_id", "period_start", "period_end"])
    _table(view.T.reset_index().rename(columns={"index": "measure"}), f"Hotspot return {ret.quarter}")
    for note in ret.notes:
        out.print(note, highlight=False, soft_wrap=True)
    if csv_path is not None:
        _write(ret.csv(), csv_path)
    if html_path is not None:
        _write(ret.page(), html_path)


@app.command("transparency")
def transparency(
    quarter: Annotated[str, typer.Argument(help="A past quarter, e.g. 2024Q1.")],
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write the summary as CSV.")] = None,
    html_path: Annotated[Path | None, typer.Option("--html", help="Write the summary as an HTML page.")] = None,
    lag_days: Annotated[int, typer.Option(help="Days after the quarter's end before it may be published.")] = DEFAULT_LAG_DAYS,
    today: Annotated[str, typer.Option(help="Judge the lag as of this day, YYYY-MM-DD (default: today).")] = "",
    db: DbOption = "",
):
    """The public transparency summary of a past quarter: aggregates only, no hotspot locations, small numbers
    suppressed (CSV and HTML)."""
    summary = transparency_summary(open_store_at(db), quarter, today=parse_day(today, "--today") or local_today(),
                                   lag_days=lag_days, timezone=settings().timezone)
    _table(summary.headline, f"Transparency summary {summary.quarter}")
    for name, table in summary.tables.items():
        _table(table.reset_index(), name)
    if csv_path is not None:
        _write(summary.csv(), csv_path)
    if html_path is not None:
        _write(summary.page(), html_path)
