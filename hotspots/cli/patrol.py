"""The tasking board's job: ``hotspots patrol plan | export | list | show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from hotspots.cli._common import (
    DbOption,
    OffenceGroupOption,
    app,
    open_store_at,
    out,
    parse_day,
    print_listing,
    settings,
)
from hotspots.cli.weekly import _read_scores
from hotspots.core.errors import FormatError, ValidationError
from hotspots.core.validate import check_file
from hotspots.geo.areas import NamedAreas
from hotspots.patrol import PatrolResources
from hotspots.services.rosters import export_roster, issue_roster, load_roster
from hotspots.services.weekly import load_set
from hotspots.store.audit import local_actor
from hotspots.store.rosters import list_rosters

patrol_app = typer.Typer(help="Randomised patrol rosters for hotspot sets: plan, store, export.", no_args_is_help=True)
app.add_typer(patrol_app, name="patrol")

EXPORT_FORMATS = ("csv", "ics", "html", "json")
FormatsOption = Annotated[str, typer.Option("--format", help="Comma-separated: csv, ics (one calendar per unit), html (printable briefings), json.")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Folder to write the roster's files to.")]


def _formats(value: str) -> list[str]:
    chosen = [f.strip().lower() for f in value.split(",") if f.strip()]
    bad = [f for f in chosen if f not in EXPORT_FORMATS]
    if bad or not chosen:
        raise ValidationError(f"--format={value!r}: use a comma-separated choice of {', '.join(EXPORT_FORMATS)}")
    return chosen


@patrol_app.command("plan")
def plan(
    resources: Annotated[Path, typer.Option("--resources", help="TOML of NPUs, units, shifts and funded hours (see data/patrol/demo_resources.toml).")],
    set_id: Annotated[int | None, typer.Option("--set", help="Stored hotspot set id (default: the latest).")] = None,
    start: Annotated[str, typer.Option("--start", help="First day of the roster, YYYY-MM-DD (default: the set's first day).")] = "",
    days: Annotated[int, typer.Option(help="Days in the roster (a tactical period is 28).")] = 28,
    seed: Annotated[int | None, typer.Option(help="Seed of every random choice (default: a fresh one, recorded with the roster).")] = None,
    priority: Annotated[str, typer.Option(help="Dosage in proportion to: harm, score (the set's), risk (--scores), or equal.")] = "harm",
    scores: Annotated[Path | None, typer.Option("--scores", help="CSV of h3_cell,score (e.g. 'model forecast'), summed per hotspot for --priority risk.")] = None,
    visit_minutes: Annotated[int, typer.Option(help="Minutes per visit, 10 to 20 (Koper: about 15).")] = 15,
    visits_per_day: Annotated[int, typer.Option(help="Most visits to one hotspot in a patrol day (the dosage cap).")] = 3,
    min_gap: Annotated[int, typer.Option("--min-gap", help="Least minutes between one visit's end and the next visit to the same hotspot.")] = 60,
    floor_minutes: Annotated[float | None, typer.Option(help="Least planned minutes per hotspot per patrol day (default: one visit).")] = None,
    hotspot_share: Annotated[float | None, typer.Option(help="Share of funded hours for hotspots (default: the resources file's, else 0.8).")] = None,
    arms: Annotated[Path | None, typer.Option("--arms", help="CSV of hotspot_id,arm[,date]: control hotspots (or days) get no visits.")] = None,
    npu_areas: Annotated[Path | None, typer.Option("--npu-areas", help="Boundary file of NPUs: a hotspot goes to the NPU holding its centroid.")] = None,
    npu_field: Annotated[str | None, typer.Option("--npu-field", help="Column of --npu-areas that names each NPU.")] = None,
    history_days: Annotated[int, typer.Option(help="Days of incidents before the roster that the risk profiles learn from.")] = 365,
    offence_group: OffenceGroupOption = None,
    reason: Annotated[str, typer.Option(help="Why this roster (or reissue) was made; kept with it.")] = "",
    out_dir: OutOption = None,
    formats: FormatsOption = ",".join(EXPORT_FORMATS),
    db: DbOption = "",
):
    """Plan a randomised roster for a hotspot set, issue it (stored, never changed) and print its dosage."""
    chosen = _formats(formats)
    spec = PatrolResources.from_file(resources).with_share(hotspot_share)
    store = open_store_at(db)
    roster, hs = issue_roster(
        store, spec, set_id=set_id, start=parse_day(start, "--start"), days=days, seed=seed, priority=priority,
        cell_scores=_read_scores(scores) if scores is not None else None, visit_minutes=visit_minutes,
        visits_per_day=visits_per_day, min_gap_minutes=min_gap, floor_minutes=floor_minutes,
        arms=_read_csv(arms, "--arms") if arms else None, npu_areas=_npu_areas(npu_areas, npu_field),
        history_days=history_days, offence_groups=offence_group, reason=reason,
        notes={"scores": scores.name if scores else None, "arms": arms.name if arms else None},
        actor=local_actor(), timezone=settings().timezone)
    roster_id, seed = roster.issue["roster_id"], roster.parameters["seed"]
    out.print(f"roster {roster_id} (version {roster.issue['version']}) issued for set {hs.parameters['set_id']}, "
              f"seed {seed}: {roster.summary()}", highlight=False, soft_wrap=True)
    print_roster(roster)
    if out_dir is not None:
        _export(store, roster, hs, out_dir, chosen)


@patrol_app.command("export")
def export(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the roster's files to.")],
    roster_id: Annotated[int | None, typer.Option("--roster", help="Roster id (default: the latest issued).")] = None,
    formats: FormatsOption = ",".join(EXPORT_FORMATS),
    db: DbOption = "",
):
    """Write an issued roster as CSV, iCalendar per unit, printable HTML briefings and JSON (each download audited)."""
    chosen = _formats(formats)
    store = open_store_at(db)
    roster = load_roster(store, roster_id)
    _export(store, roster, load_set(store, roster.issue["set_id"]), out_dir, chosen)


@patrol_app.command("list")
def list_command(db: DbOption = ""):
    """Issued rosters, newest first."""
    print_listing(list_rosters(open_store_at(db)), "Issued rosters",
                  empty="no rosters issued yet; plan one with 'hotspots patrol plan --resources FILE'")


@patrol_app.command("show")
def show(roster_id: Annotated[int | None, typer.Argument(help="Roster id (default: the latest issued).")] = None,
         db: DbOption = ""):
    """An issued roster's dosage per hotspot, per unit and per NPU, and its warnings."""
    roster = load_roster(open_store_at(db), roster_id)
    i = roster.issue
    out.print(f"roster {i['roster_id']} version {i['version']} of set {i['set_id']}, issued {i['created_at']} by "
              f"{i['issued_by']} ({i['reason'] or 'no reason given'}), seed {roster.parameters['seed']}: "
              f"{roster.summary()}", highlight=False, soft_wrap=True)
    print_roster(roster)


def print_roster(roster) -> None:
    npus = Table(title="Per NPU (minutes unless hours)")
    for col in ("npu", "hotspots", "funded h", "hotspot budget", "target", "planned", "travel", "discretionary h left"):
        npus.add_column(col, justify="left" if col == "npu" else "right")
    for r in roster.npus.itertuples():
        npus.add_row(r.npu, str(r.hotspots), f"{r.funded_hours:,.0f}", f"{r.hotspot_budget_minutes:,.0f}",
                     f"{r.target_minutes:,.0f}", f"{r.planned_minutes:,.0f}", f"{r.travel_minutes:,.0f}",
                     f"{r.discretionary_hours_left:,.1f}")
    out.print(npus)
    units = Table(title="Per unit")
    for col in ("npu", "unit", "mode", "shift h", "visits", "visit min", "travel min"):
        units.add_column(col, justify="left" if col in ("npu", "unit", "mode") else "right")
    for r in roster.units.itertuples():
        units.add_row(r.npu, r.unit, r.mode, f"{r.shift_hours:,.1f}", str(r.visits), str(r.visit_minutes),
                      str(r.travel_minutes))
    out.print(units)
    hot = Table(title="Per hotspot: planned minutes against target")
    for col in ("hotspot", "name", "npu", "arm", "days", "target", "planned", "visits", "short"):
        hot.add_column(col, justify="left" if col in ("hotspot", "name", "npu", "arm") else "right")
    for r in roster.dosage.itertuples():
        hot.add_row(r.hotspot_id, str(r.hotspot_name), str(r.npu or "-"), r.arm, str(r.patrol_days),
                    f"{r.target_minutes:,.0f}", f"{r.planned_minutes:,.0f}", str(r.visits),
                    f"{r.shortfall_share:.0%}" if r.shortfall_minutes > 0 else "")
    out.print(hot)
    for w in roster.warnings:
        out.print(f"warning: {w}", highlight=False, soft_wrap=True, markup=False)


def _export(store, roster, hs, out_dir: Path, formats: list[str]) -> None:
    """Audit the download, then write the chosen files (services.rosters.export_roster)."""
    written = export_roster(store, roster, hs, out_dir, formats, local_actor())
    out.print(f"roster {roster.issue['roster_id']} written to {out_dir} ({len(written)} files: "
              f"{', '.join(formats)}); the download is recorded in the audit log", highlight=False, soft_wrap=True)


def _npu_areas(path: Path | None, field: str | None):
    if path is None:
        return None

    return NamedAreas.from_file(path, field)


def _read_csv(path: Path, name: str) -> pd.DataFrame:
    try:
        return pd.read_csv(check_file(path, name), dtype=str)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise FormatError(f"{name}={str(path)!r} cannot be read as CSV: {str(exc).splitlines()[0]}") from None
