"""The commander's weekly job: ``select``, ``map``, ``sets``, ``export`` and ``engagement``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from hotspots.cli._common import (
    CellResolutionOption,
    DbOption,
    OffenceGroupOption,
    app,
    load_force_area,
    open_store_at,
    out,
    parse_day,
    settings,
)
from hotspots.core.config import DEFAULT_NAMED_AREAS
from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.core.validate import check_choice, check_file, check_resolution
from hotspots.density.weighting import WEIGHTS
from hotspots.geo.areas import NamedAreas
from hotspots.geo.periods import Calendar
from hotspots.places.evidence import DEFAULT_FDR, DEFAULT_FLOOR_RULE, DEFAULT_MIN_EXPECTED, FLOOR_RULES
from hotspots.places.exports import FORMATS, write_hotspots
from hotspots.places.gistar import DEFAULT_PERMUTATIONS
from hotspots.places.selection import DEFAULT_AREA_SHARE, DEFAULT_MAX_HOTSPOTS
from hotspots.places.weekly import (
    DEFAULT_BANDWIDTH_M,
    DEFAULT_HALF_LIFE_DAYS,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_HYSTERESIS,
    DEFAULT_MAX_CELLS,
    DEFAULT_MIN_CELLS,
    DEFAULT_SMOOTH_M,
)
from hotspots.services.engagement import hotspot_flags, local_today, log_activity
from hotspots.services.weekly import load_set, select_hotspots, selection_map_page, set_map_page, update_engagement
from hotspots.store.audit import local_actor
from hotspots.store.hotspot_sets import engagement, list_sets
from maps import write_map

engagement_app = typer.Typer(help="Community engagement plans of hotspots: one per hotspot, kept across periods.",
                             no_args_is_help=True)
app.add_typer(engagement_app, name="engagement")

PeriodOption = Annotated[str, typer.Option(help="Period kind: week, tactical (28 days from the anchor) or month.")]
NpuAreasOption = Annotated[Path | None, typer.Option("--npu-areas", help="Boundary file of NPUs (quotas, per-NPU maps).")]
NpuFieldOption = Annotated[str | None, typer.Option("--npu-field", help="Column of --npu-areas that names each NPU.")]
TilesOption = Annotated[str | None, typer.Option(help="Basemap tiles when there is a network, e.g. OpenStreetMap (default: none; the map draws offline).")]
ScoresOption = Annotated[Path | None, typer.Option("--scores", help="CSV of h3_cell,score (e.g. the predictor's risk) to use instead of the kernel density.")]


def _calendar(period: str, anchor: str):
    s = settings()
    return Calendar(period, parse_day(anchor, "--anchor") or s.period_anchor, s.period_days, s.timezone)


def _named_areas(path: Path | None, field: str | None):
    if path is not None:
        return NamedAreas.from_file(path, field)
    return NamedAreas.from_file(DEFAULT_NAMED_AREAS) if DEFAULT_NAMED_AREAS.exists() else None


def _read_scores(path: Path) -> pd.Series:
    frame = pd.read_csv(check_file(path, "--scores"))
    if not {"h3_cell", "score"} <= set(frame.columns):
        raise ValidationError(f"--scores={str(path)!r} needs columns h3_cell and score; it has {', '.join(frame.columns)}")
    return frame.set_index("h3_cell")["score"].astype(float)


@app.command()
def select(
    for_date: Annotated[str, typer.Option("--for", help="A day in the period to select for, YYYY-MM-DD (default: the period after the latest incident).")] = "",
    period: PeriodOption = "week",
    anchor: Annotated[str, typer.Option(help="A first day of a tactical period, YYYY-MM-DD (default from settings).")] = "",
    resolution: CellResolutionOption = 10,
    scores: ScoresOption = None,
    bandwidth: Annotated[float, typer.Option(help="Kernel bandwidth in metres for the default score.")] = DEFAULT_BANDWIDTH_M,
    weight: Annotated[str, typer.Option(help="Kernel weights: count or harm.")] = "count",
    history_days: Annotated[int, typer.Option(help="Days of history before the period that count.")] = DEFAULT_HISTORY_DAYS,
    half_life_days: Annotated[float, typer.Option(help="Days after which an incident counts half in the score.")] = DEFAULT_HALF_LIFE_DAYS,
    area_share: Annotated[float, typer.Option(help="Most of the force area the hotspots may cover (0.014 = 1.4%).")] = DEFAULT_AREA_SHARE,
    max_hotspots: Annotated[int, typer.Option(help="Most hotspots.")] = DEFAULT_MAX_HOTSPOTS,
    min_cells: Annotated[int, typer.Option(help="Smallest hotspot, in cells.")] = DEFAULT_MIN_CELLS,
    max_cells: Annotated[int, typer.Option(help="Largest hotspot, in cells.")] = DEFAULT_MAX_CELLS,
    npu_areas: NpuAreasOption = None,
    npu_field: NpuFieldOption = None,
    npu_min: Annotated[int, typer.Option(help="At least this many hotspots in every NPU (needs --npu-areas).")] = 0,
    npu_max: Annotated[int | None, typer.Option(help="At most this many hotspots in any NPU (needs --npu-areas).")] = None,
    hysteresis: Annotated[float, typer.Option(help="Last period's cells count this much more (0.2 = 20%), so hotspots do not flicker.")] = DEFAULT_HYSTERESIS,
    smooth: Annotated[float, typer.Option(help="Geofence smoothing in metres (0: the cells' outline).")] = DEFAULT_SMOOTH_M,
    permutations: Annotated[int, typer.Option(help="Most Gi* permutations per cell (0: normal approximation).")] = DEFAULT_PERMUTATIONS,
    seed: Annotated[int, typer.Option(help="Seed of the Gi* permutations.")] = 0,
    evidence: Annotated[str, typer.Option(help="Evidence floor a cell must clear: gistar (Gi* hot after FDR over the history), expected (score of at least --min-expected) or none.")] = DEFAULT_FLOOR_RULE,
    fdr: Annotated[float, typer.Option(help="False discovery rate of the gistar floor (0.05: hot at 95%).")] = DEFAULT_FDR,
    min_expected: Annotated[float, typer.Option(help="Least score (expected incidents) of the expected floor.")] = DEFAULT_MIN_EXPECTED,
    explain: Annotated[bool, typer.Option("--explain", help="Say why each hotspot is in, and why the best cells left out are out.")] = False,
    out_paths: Annotated[list[Path] | None, typer.Option("--out", help="Write the set: .geojson, .gpkg, .kml or .csv (repeatable).")] = None,
    map_path: Annotated[Path | None, typer.Option("--map", help="Write the weekly map (.html).")] = None,
    tiles: TilesOption = None,
    offence_group: OffenceGroupOption = None,
    area: Annotated[str | None, typer.Option("--area", help="Boundary file of the force area (default from settings).")] = None,
    db: DbOption = "",
):
    """Select this period's hotspots, store the set, print it with its coverage, and write exports and the map."""
    check_resolution(resolution)
    check_choice(weight, WEIGHTS, "--weight")
    check_choice(evidence, FLOOR_RULES, "--evidence")
    calendar = _calendar(period, anchor)
    for p in out_paths or []:
        if p.suffix.lower() not in FORMATS:
            raise ValidationError(f"--out={str(p)!r}: write one of {', '.join(FORMATS)}")
    if map_path is not None and map_path.suffix.lower() != ".html":
        raise ValidationError(f"--map={str(map_path)!r}: a map is an HTML page; give a path ending .html")
    if (npu_min or npu_max is not None) and npu_areas is None:
        raise ValidationError("--npu-min/--npu-max need --npu-areas, a boundary file of NPUs")
    given_scores = _read_scores(scores) if scores else None
    region = load_force_area(area)
    if region is None:
        raise ValidationError("--area none: hotspots need a force area to take a share of")
    npus = _named_areas(npu_areas, npu_field) if npu_areas else None
    names = _named_areas(None, None)
    store = open_store_at(db)
    chosen = select_hotspots(
        store, region, calendar, day=parse_day(for_date, "--for"), resolution=resolution, scores=given_scores,
        score_source=f"scores file {scores.name}" if scores else "", offence_groups=offence_group,
        bandwidth_m=bandwidth, weight=weight, history_days=history_days, half_life_days=half_life_days,
        area_share=area_share, max_hotspots=max_hotspots, min_cells=min_cells, max_cells=max_cells, npus=npus,
        npu_min=npu_min, npu_max=npu_max, hysteresis=hysteresis, smooth_m=smooth, permutations=permutations,
        seed=seed, names=names, evidence=evidence, fdr=fdr, min_expected=min_expected)
    result, set_id = chosen.weekly, chosen.set_id
    hs = result.hotspot_set
    print_set(hs, f"Hotspots for {result.period_label} (set {set_id}, scored by {result.score_source})")
    if explain:
        print_explanation(result)
    print_coverage(result.coverage, f"Coverage of the last complete period, {result.last_period_label} "
                                    f"(the data runs to {result.data_through})")
    out.print(result.sentence, highlight=False, soft_wrap=True)
    out.print(selection_stop_line(hs), highlight=False, soft_wrap=True)
    if hs.dropped:
        out.print(f"dropped since last period: {', '.join(hs.dropped)}", highlight=False)
    print_flag_line(hotspot_flags(store, hs.hotspots["hotspot_id"]))
    _write_outputs(chosen, out_paths, map_path, npus or names, tiles, region, store)


def _write_outputs(chosen, out_paths, map_path, areas, tiles, region, store) -> None:
    hs = chosen.weekly.hotspot_set
    for p in out_paths or []:
        out.print(f"hotspot set written to {write_hotspots(hs, p)}")
    if map_path is not None:
        path = write_map(selection_map_page(store, chosen, region, areas=areas, tiles=tiles), map_path)
        out.print(f"weekly map ({path.stat().st_size / 1e6:.2f} MB) written to {path}")


def selection_stop_line(hs) -> str:
    """'12 hotspots, 0.6% of the area: no further cells are significantly hot (floor: ...)'."""
    p = hs.parameters
    floor = p.get("evidence_floor") or {}
    words = f" (evidence floor: {floor['description']}; padding: {floor['padding']})" if floor else ""
    return f"{hs.summary()}: {p.get('stopped', 'stopped')}{words}"


def print_explanation(result) -> None:
    """Why each hotspot is in, and why the best cells left out are out."""
    view = Table(title="Why each hotspot is in")
    for col in ("rank", "id", "score", "incidents over the history", "cells", "best cell Gi*", "q-value"):
        view.add_column(col, justify="left" if col in ("id", "best cell Gi*") else "right")
    for r in result.explanation.itertuples(index=False):
        view.add_row(str(r.rank), r.hotspot_id, f"{r.score:,.2f}", f"{r.history_incidents:,.0f}", str(r.cells),
                     str(r.best_cell_gi_class), "-" if pd.isna(r.best_cell_q_value) else f"{r.best_cell_q_value:.4f}")
    out.print(view)
    left = result.hotspot_set.left_out
    view = Table(title=f"The best {len(left)} cells left out, and why")
    for col in ("rank", "cell", "score", "over the floor", "why"):
        view.add_column(col, justify="left" if col in ("cell", "why") else "right")
    for r in left.itertuples(index=False):
        view.add_row(str(r.rank), r.h3_cell, f"{r.score:,.3f}", "yes" if r.over_floor else "no", r.reason)
    out.print(view)


def print_set(hs, title: str, top: int | None = None) -> None:
    view = Table(title=title)
    columns = [("rank", "rank"), ("hotspot_id", "id"), ("name", "name"), ("area_name", "area"), ("status", "status"),
               ("n_cells", "cells"), ("area_m2", "km²"), ("incidents", "incidents"), ("harm", "harm"),
               ("gi_hot_cells", "Gi* hot"), ("emerging_class", "trend")]
    for _, label in columns:
        view.add_column(label, justify="left" if label in ("id", "name", "area", "status", "trend") else "right")
    for r in hs.hotspots.head(top).to_dict("records") if top else hs.hotspots.to_dict("records"):
        view.add_row(*[_cell(key, r.get(key)) for key, _ in columns])
    out.print(view)


def _cell(key: str, value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if key == "area_m2":
        return f"{value / 1e6:.3f}"
    if key in ("incidents", "harm"):
        return f"{value:,.1f}"
    return str(value)


def print_coverage(coverage: pd.DataFrame, title: str) -> None:
    view = Table(title=title)
    for col in ("measure", "in hotspots", "total", "share", "PAI"):
        view.add_column(col, justify="left" if col == "measure" else "right")
    for r in coverage.itertuples():
        area = r.measure.startswith("area")
        fmt = (lambda v: f"{v / 1e6:,.2f} km²") if area else (lambda v: f"{v:,.1f}")
        known = np.isfinite(r.share)
        view.add_row(r.measure, fmt(r.in_hotspots) if known else "not recorded", fmt(r.total) if known else "-",
                     f"{r.share:.1%}" if known else "-", f"{r.pai:.1f}" if known and not area else "-")
    out.print(view)


@app.command()
def sets(db: DbOption = ""):
    """List the stored hotspot sets, newest first."""
    frame = list_sets(open_store_at(db))
    if frame.empty:
        raise NotReadyError("the store holds no hotspot sets; run 'hotspots select' first")
    view = Table(title="Stored hotspot sets")
    for col in ("set", "period", "version", "hotspots", "created (UTC)", "scored by"):
        view.add_column(col)
    for r in frame.itertuples():
        view.add_row(str(r.set_id), r.period_label, str(r.version), str(r.hotspots),
                     pd.Timestamp(r.created_at).strftime("%Y-%m-%d %H:%M"), r.score_source)
    out.print(view)


SetOption = Annotated[int | None, typer.Option("--set", help="Stored set id (default: the latest).")]
PeriodLabelOption = Annotated[str | None, typer.Option("--period-label", help="Latest set of this period, e.g. 2017-11-27..2017-12-03.")]


@app.command()
def export(
    out_paths: Annotated[list[Path], typer.Option("--out", help="Write to .geojson, .gpkg, .kml or .csv (repeatable).")],
    set_id: SetOption = None,
    period_label: PeriodLabelOption = None,
    db: DbOption = "",
):
    """Write a stored hotspot set (geofences for devices: KML; GIS: GeoPackage, GeoJSON; tables: CSV)."""
    hs = load_set(open_store_at(db), set_id, period_label)
    for p in out_paths:
        out.print(f"set {hs.parameters['set_id']} written to {write_hotspots(hs, p)}")


@app.command("map")
def map_command(
    out_path: Annotated[Path, typer.Option("--out", help="The map page to write (.html).")],
    set_id: SetOption = None,
    period_label: PeriodLabelOption = None,
    npu: Annotated[str | None, typer.Option(help="Map only this NPU (an area of --npu-areas).")] = None,
    npu_areas: NpuAreasOption = None,
    npu_field: NpuFieldOption = None,
    scores: ScoresOption = None,
    tiles: TilesOption = None,
    offence_group: OffenceGroupOption = None,
    area: Annotated[str | None, typer.Option("--area", help="Boundary file of the force area (default from settings).")] = None,
    db: DbOption = "",
):
    """Draw the weekly map of a stored hotspot set, force-wide or for one NPU; it opens offline."""
    if out_path.suffix.lower() != ".html":
        raise ValidationError(f"--out={str(out_path)!r}: a map is an HTML page; give a path ending .html")
    given_scores = _read_scores(scores) if scores else None
    region = load_force_area(area)
    if region is None:
        raise ValidationError("--area none: a map needs the force area")
    areas = _named_areas(npu_areas, npu_field)
    store = open_store_at(db)
    hs = load_set(store, set_id, period_label)
    p = hs.parameters
    page = set_map_page(store, hs, region, offence_groups=offence_group, scores=given_scores, areas=areas, npu=npu,
                        tiles=tiles)
    path = write_map(page, out_path)
    out.print(f"map of set {p['set_id']} ({path.stat().st_size / 1e6:.2f} MB) written to {path}")


@engagement_app.command("set")
def engagement_set(
    hotspot_id: Annotated[str, typer.Argument(help="Hotspot id, e.g. HS-0003.")],
    owner: Annotated[str | None, typer.Option(help="Owning role or team (never a person's name).")] = None,
    owner_role: Annotated[str | None, typer.Option(help="Rank or role answerable for the plan, e.g. 'NPU inspector'.")] = None,
    stakeholders: Annotated[str | None, typer.Option(help="Partners engaged, e.g. 'ward councillors; youth service'.")] = None,
    status: Annotated[str | None, typer.Option(help="not started, drafted, agreed, in progress, under review or closed.")] = None,
    next_review: Annotated[str, typer.Option(help="Next review date, YYYY-MM-DD.")] = "",
    notes: Annotated[str | None, typer.Option(help="Free text (no personal data).")] = None,
    db: DbOption = "",
):
    """Record a new version of a hotspot's engagement plan; fields not given keep their value."""
    record = update_engagement(open_store_at(db), hotspot_id, actor=local_actor(), owner=owner, owner_role=owner_role,
                               stakeholders=stakeholders, status=status,
                               next_review=parse_day(next_review, "--next-review"), notes=notes)
    out.print(f"{hotspot_id}: engagement plan version {record['plan_version']} ({record['status']})", highlight=False)


@engagement_app.command("list")
def engagement_list(
    hotspot_id: Annotated[str | None, typer.Option("--hotspot", help="Only this hotspot.")] = None,
    history: Annotated[bool, typer.Option(help="Every version, not just the current plan.")] = False,
    db: DbOption = "",
):
    """Show the engagement plans (current, or their history)."""
    frame = engagement(open_store_at(db), [hotspot_id] if hotspot_id else None, history=history)
    view = Table(title="Engagement plans" + (" (history)" if history else ""))
    for col in ("hotspot", "version", "status", "owner", "stakeholders", "next review", "updated (UTC)"):
        view.add_column(col)
    for r in frame.itertuples():
        view.add_row(r.hotspot_id, str(r.plan_version), r.status, r.owner, r.stakeholders,
                     str(r.next_review or "-"), pd.Timestamp(r.updated_at).strftime("%Y-%m-%d %H:%M"))
    out.print(view)


@engagement_app.command("log")
def engagement_log(
    hotspot_id: Annotated[str, typer.Argument(help="Hotspot id, e.g. HS-0003.")],
    kind: Annotated[str, typer.Option(help="meeting, survey, knife sweep, youth provision or update given.")],
    on: Annotated[str, typer.Option(help="The day it happened, YYYY-MM-DD (default: today).")] = "",
    note: Annotated[str, typer.Option(help="Free text (no personal data).")] = "",
    db: DbOption = "",
):
    """Log an engagement activity of a hotspot (kept, never changed; audited)."""
    row = log_activity(open_store_at(db), hotspot_id, kind=kind, happened_on=parse_day(on, "--on") or local_today(),
                       note=note, actor=local_actor())
    out.print(f"{hotspot_id}: {row['kind']} on {row['happened_on']} logged (activity {row['activity_id']})",
              highlight=False)


@engagement_app.command("flags")
def engagement_flag_list(
    all_hotspots: Annotated[bool, typer.Option("--all", help="Every designated hotspot, not only the flagged.")] = False,
    today: Annotated[str, typer.Option(help="Judge as of this day, YYYY-MM-DD (default: today).")] = "",
    db: DbOption = "",
):
    """Hotspots with no agreed engagement plan after the grace days, or with a review overdue."""
    frame = hotspot_flags(open_store_at(db), today=parse_day(today, "--today"))
    if not all_hotspots:
        frame = frame[frame["flag"].ne("")]
    print_flags(frame, "Engagement flags")


def print_flag_line(frame: pd.DataFrame, shown: int = 5) -> None:
    """One line naming the flagged hotspots (the first ``shown`` with their flag)."""
    flagged = frame[frame["flag"].ne("")]
    if flagged.empty:
        return
    named = "; ".join(f"{r.hotspot_id} {r.flag}" for r in flagged.head(shown).itertuples())
    more = f"; and {len(flagged) - shown} more" if len(flagged) > shown else ""
    out.print(f"engagement: {len(flagged)} hotspot(s) flagged: {named}{more} (see 'hotspots engagement flags')",
              highlight=False, soft_wrap=True)


def print_flags(frame: pd.DataFrame, title: str) -> None:
    """Flagged hotspots as a table, or one line saying none is flagged."""
    if frame.empty:
        out.print(f"{title}: none flagged", highlight=False)
        return
    view = Table(title=title)
    for col in ("hotspot", "designated", "status", "next review", "flag"):
        view.add_column(col)
    for r in frame.itertuples():
        view.add_row(r.hotspot_id, str(r.designated), r.status, str(r.next_review or "-"), r.flag or "-")
    out.print(view)
