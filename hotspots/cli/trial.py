"""The evaluator's job: ``hotspots trial allocate | power | dosage | evaluate | list``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import numpy as np
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
    stored_incidents,
)
from hotspots.core.errors import ValidationError
from hotspots.core.tables import write_csv
from hotspots.core.validate import check_choice
from hotspots.services.detection import detection_in_hotspots
from hotspots.services.trials import (
    evaluate_stored_trial,
    load_allocation,
    load_gps_log,
    register_allocation,
    report_json,
    trial_compliance,
)
from hotspots.services.weekly import load_set
from hotspots.store.audit import local_actor
from hotspots.store.trials import list_allocations
from hotspots.trials.allocation import allocate, places_from_set
from hotspots.trials.outcomes import place_counts
from hotspots.trials.power import baseline, periods_needed, power_table
from maps.trial_report import write_trial_report

trial_app = typer.Typer(help="Randomised trials of patrols: allocate, plan power, measure dosage, evaluate.",
                        no_args_is_help=True)
app.add_typer(trial_app, name="trial")

SetOption = Annotated[int | None, typer.Option("--set", help="Stored hotspot set id (default: the latest).")]
AllocationOption = Annotated[int | None, typer.Option("--allocation", help="Registered allocation id (default: the latest).")]
GapOption = Annotated[float, typer.Option("--max-gap", help="Seconds between pings that still continue a visit.")]
MinVisitOption = Annotated[float, typer.Option("--min-visit", help="Seconds a visit must last to count (shorter: a drive-through).")]


def _strata(value: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in value.split(",") if s.strip() and s.strip() != "none")


@trial_app.command("allocate")
def allocate_command(
    name: Annotated[str, typer.Option("--name", help="The trial's name; a new allocation under the same name is a new version.")],
    design: Annotated[str, typer.Option(help="simple, blocked (by NPU and risk band), pair (matched on risk), or crossover.")] = "blocked",
    set_id: SetOption = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the draw (default: a fresh one, recorded).")] = None,
    share: Annotated[float, typer.Option(help="Share of places patrolled (or starting patrolled, for crossover).")] = 0.5,
    strata: Annotated[str, typer.Option(help="Blocks: comma-separated npu, risk_band, or none.")] = "npu,risk_band",
    bands: Annotated[int, typer.Option(help="Number of risk bands.")] = 3,
    risk: Annotated[str, typer.Option(help="Risk per hotspot for bands and pairs: harm, score or incidents (from the set).")] = "harm",
    start: Annotated[str, typer.Option("--start", help="First day of the trial, YYYY-MM-DD (default: the set's first day).")] = "",
    periods: Annotated[int, typer.Option(help="Crossover: number of periods.")] = 8,
    period_days: Annotated[int, typer.Option(help="Crossover: days per period (7 weeks, 1 days).")] = 7,
    reason: Annotated[str, typer.Option(help="Why; required when replacing a registered allocation.")] = "",
    arms_out: Annotated[Path | None, typer.Option("--out", help="Write the arms as CSV for 'hotspots patrol plan --arms'.")] = None,
    db: DbOption = "",
):
    """Randomise a hotspot set's places to patrol and control, and register the allocation (never changed)."""
    alloc, allocated_set = register_allocation(
        open_store_at(db), trial=name, set_id=set_id, design=design, seed=seed, share=share, strata=_strata(strata),
        bands=bands, risk=risk, start=parse_day(start, "--start"), periods=periods, period_days=period_days,
        created_by=local_actor(), reason=reason)
    allocation_id, seed = alloc.issue["allocation_id"], alloc.seed
    out.print(f"allocation {allocation_id} ({name!r} version {alloc.issue['version']}) registered for set "
              f"{allocated_set}, seed {seed}: {alloc.summary()}; fingerprint {alloc.fingerprint}",
              highlight=False, soft_wrap=True)
    _print_arms(alloc)
    if arms_out is not None:
        arms_out.parent.mkdir(parents=True, exist_ok=True)
        write_csv(alloc.patrol_arms(), arms_out)
        out.print(f"arms written to {arms_out} (give it to 'hotspots patrol plan --arms')", highlight=False)


def _print_arms(alloc) -> None:
    view = Table(title="Allocation")
    for col in ("place", "npu", "risk", "band", "block", "pair", "arm"):
        view.add_column(col)
    for r, t in zip(alloc.places.itertuples(), alloc.treated, strict=True):
        arm = ("patrol" if t[0] else "control") if alloc.design != "crossover" else \
            "".join("P" if x else "c" for x in t) + " (by period)"
        view.add_row(r.place_id, r.npu or "-", f"{r.risk:,.1f}", str(r.risk_band), str(r.block), str(r.pair), arm)
    out.print(view)


def _weekly_counts(store, offence_group, members, ids, until: dt.date, weeks: int):
    tz = settings().timezone
    since = pd.Timestamp(until - dt.timedelta(weeks=weeks), tz=tz).tz_convert("UTC")
    incidents = stored_incidents(store, offence_group, since, pd.Timestamp(until, tz=tz).tz_convert("UTC"))
    return place_counts(incidents, members, ids, start=until, before=weeks, during=1, timezone=tz)


@trial_app.command("power")
def power_command(
    reduction: Annotated[list[float], typer.Option("--reduction", help="Reduction to detect, e.g. 0.2 for 20% fewer crimes (repeatable).")],
    allocation_id: Annotated[int | None, typer.Option("--allocation", help="Plan for this registered allocation (default: a blocked draw on --set).")] = None,
    set_id: SetOption = None,
    design: Annotated[str, typer.Option(help="Design to plan for when no --allocation is given.")] = "blocked",
    baseline_weeks: Annotated[int, typer.Option(help="Weeks of stored incidents before the trial that give the counts and over-dispersion.")] = 26,
    weeks_before: Annotated[int, typer.Option(help="Weeks before the trial in the evaluation (parallel designs).")] = 12,
    weeks: Annotated[str, typer.Option(help="Trial lengths in weeks to tabulate, comma-separated.")] = "4,8,12,16,26,52",
    target: Annotated[float, typer.Option(help="Power wanted; the weeks needed for it are reported.")] = 0.8,
    level: Annotated[float, typer.Option(help="Significance level of the two-sided test.")] = 0.05,
    outcome: Annotated[str, typer.Option(help="count (crimes) or harm (Cambridge Crime Harm Index days).")] = "count",
    offence_group: OffenceGroupOption = None,
    db: DbOption = "",
):
    """Power to detect each reduction by trial length, and the weeks needed, from the places' own counts."""
    check_choice(outcome, ("count", "harm"), "--outcome")
    store = open_store_at(db)
    if allocation_id is not None:
        alloc = load_allocation(store, allocation_id)
        hs = load_set(store, alloc.issue["set_id"])
    else:
        hs = load_set(store, set_id)
        alloc = allocate(places_from_set(hs, "score"), design, seed=0, start=hs.parameters["period_start"])
    if alloc.design == "crossover" and alloc.period_days != 7:
        raise ValidationError("trial power plans in weeks; for a daily crossover, plan with --design blocked as a guide")
    try:
        lengths = [int(w) for w in weeks.split(",") if w.strip()]
    except ValueError:
        raise ValidationError(f"--weeks={weeks!r}: give whole numbers of weeks separated by commas, e.g. 4,8,12") from None
    ids = alloc.places["place_id"].tolist()
    counts = _weekly_counts(store, offence_group, hs.members, ids, alloc.start, baseline_weeks)
    values, variance = counts.outcome(outcome)
    base = baseline(values[:, :baseline_weeks], None if outcome == "count" else variance[:, :baseline_weeks])
    unit = "crimes" if outcome == "count" else "harm days"
    out.print(f"baseline: {baseline_weeks} weeks before {alloc.start}, {values.sum():,.0f} {unit} in "
              f"{len(ids)} places ({base.place_means.sum():.1f} a week), over-dispersion {base.dispersion:.2f} (Pearson, "
              f"of place sums over half the baseline{'; at least Σw²/Σw of the harm weights' if outcome == 'harm' else ''}); "
              f"{alloc.summary()}", highlight=False, soft_wrap=True)
    table = power_table(base, alloc, reduction, lengths, before=weeks_before, level=level)
    view = Table(title=f"Power of the primary test (place sums before and during) at level {level}")
    view.add_column("weeks")
    for r in reduction:
        view.add_column(f"{r:.0%} fewer", justify="right")
    for w in lengths:
        view.add_row(str(w), *[f"{p:.0%}" for p in table[table.periods_during == w]["power"]])
    out.print(view)
    for r in reduction:
        need = periods_needed(base, alloc, r, before=weeks_before, target=target, level=level)
        words = f"{need} weeks" if need else "more than 104 weeks (two years): add places or target a larger effect"
        out.print(f"{r:.0%} reduction: {target:.0%} power needs {words}", highlight=False)


@trial_app.command("dosage")
def dosage_command(
    gps: Annotated[list[Path] | None, typer.Option("--gps", help="GPS/AVL log CSV (unit, timestamp, lon, lat); repeatable. Loaded into the store once.")] = None,
    allocation_id: AllocationOption = None,
    weeks: Annotated[int | None, typer.Option(help="Weeks of the trial to measure (default: up to the last ping).")] = None,
    max_gap: GapOption = 180.0,
    min_visit: MinVisitOption = 120.0,
    rejects_out: Annotated[Path | None, typer.Option("--rejects", help="Write rejected log rows (line, reason, raw) to this CSV.")] = None,
    out_csv: Annotated[Path | None, typer.Option("--out", help="Write per-hotspot compliance to this CSV.")] = None,
    db: DbOption = "",
):
    """Load GPS logs, turn them into visits, and compare delivered with planned patrol per hotspot."""
    store = open_store_at(db)
    tz = settings().timezone
    all_rejects = []
    for path in gps or []:
        got = load_gps_log(store, path, loaded_by=local_actor(), timezone=tz)
        if got["already_loaded"]:
            out.print(f"{path}: loaded before (batch {got['batch_id']}); nothing added", highlight=False)
            continue
        out.print(f"{path}: {got['read']:,} rows, {got['loaded']:,} pings stored, {got['already_stored']:,} already "
                  f"stored, {got['rejected']:,} rejected", highlight=False, soft_wrap=True)
        if got["rejected"]:
            first = got["rejects"].iloc[0]
            out.print(f"  e.g. line {first.line}: {first.reason}", highlight=False, soft_wrap=True, markup=False)
            all_rejects.append(got["rejects"].assign(file=str(path)))
    if rejects_out is not None and all_rejects:
        write_csv(pd.concat(all_rejects), rejects_out)
    got, table, summary = trial_compliance(store, allocation_id, weeks, max_gap_s=max_gap, min_visit_s=min_visit,
                                           timezone=tz)
    _print_compliance(table, summary, got.alloc, got.weeks)
    if out_csv is not None:
        write_csv(table, out_csv)


def _print_compliance(table, summary, alloc, weeks) -> None:
    view = Table(title=f"Planned against delivered (GPS), allocation {alloc.issue['allocation_id']}"
                       + (f", first {weeks} weeks" if weeks else ""))
    for col in ("hotspot", "arm", "planned min", "delivered min", "share", "planned visits", "visits", "Koper"):
        view.add_column(col, justify="left" if col in ("hotspot", "arm") else "right")

    def fmt(v, spec):
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)

    for r in table.itertuples():
        view.add_row(r.hotspot_id, r.arm, fmt(r.planned_minutes, ",.0f"), fmt(r.delivered_minutes, ",.0f"),
                     fmt(r.delivered_share, ".0%"), fmt(r.planned_visits, ".0f"), str(int(r.delivered_visits)),
                     fmt(r.koper_share, ".0%"))
    out.print(view)
    share = summary.get("delivered_share")
    out.print(f"patrolled places: {summary['delivered_minutes_patrolled']:,.0f} minutes delivered"
              + (f" of {summary['planned_minutes']:,.0f} planned ({share:.0%})" if share is not None else "")
              + f"; {summary['koper_share']:.0%} of visits of Koper length; control places: "
              f"{summary['control_visits']} visits ({summary['control_minutes']:,.0f} min)",
              highlight=False, soft_wrap=True)


@trial_app.command("evaluate")
def evaluate_command(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the report (HTML and JSON).")],
    allocation_id: AllocationOption = None,
    weeks: Annotated[int | None, typer.Option(help="Weeks of the trial to evaluate (parallel designs; default: to the last stored incident).")] = None,
    weeks_before: Annotated[int, typer.Option(help="Weeks before the trial to compare with (parallel designs).")] = 12,
    outcome: Annotated[str, typer.Option(help="count (crimes) or harm (Cambridge Crime Harm Index days).")] = "count",
    draws: Annotated[int, typer.Option(help="Re-draws of the design for randomisation inference.")] = 1000,
    rings: Annotated[int, typer.Option(help="Buffer rings of H3 cells for displacement (WDD, WDQ).")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the randomisation inference draws.")] = 0,
    max_gap: GapOption = 180.0,
    min_visit: MinVisitOption = 120.0,
    offence_group: OffenceGroupOption = None,
    db: DbOption = "",
):
    """Estimate the trial's effects and write the report: design, compliance, estimates, and what they show."""
    check_choice(outcome, ("count", "harm"), "--outcome")
    store = open_store_at(db)
    report = evaluate_stored_trial(
        store, allocation_id, weeks=weeks, weeks_before=weeks_before, outcome=outcome, draws=draws, rings=rings,
        seed=seed, max_gap_s=max_gap, min_visit_s=min_visit, offence_groups=offence_group,
        timezone=settings().timezone, actor=local_actor(), detail={"folder": str(out_dir.resolve())})
    out_dir.mkdir(parents=True, exist_ok=True)
    trial = report["trial"]
    stem = f"trial-{trial['trial']}-v{trial['version']}-{outcome}"
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(report_json(report), encoding="utf-8")
    html_path = write_trial_report(report, out_dir / f"{stem}.html")
    for line in report["reading"]:
        out.print(line, highlight=False, soft_wrap=True, markup=False)
    out.print(f"report written to {html_path} and {json_path}", highlight=False, soft_wrap=True)


@trial_app.command("list")
def list_command(db: DbOption = ""):
    """Registered allocations, newest first."""
    print_listing(list_allocations(open_store_at(db)), "Registered allocations",
                  empty="no allocations registered yet; register one with 'hotspots trial allocate --name NAME'")


@trial_app.command("detection")
def detection(db: DbOption = ""):
    """The feedback loop: police-detected offences (weapons, drugs) in each stored period's hotspots against
    the window before, relative to the rest of the force."""
    table, _, sentence = detection_in_hotspots(open_store_at(db), timezone=settings().timezone)
    view = Table(title="Police-detected offences in hotspots, during against before")
    for col in ("period", "hotspots during", "hotspots before", "rest during", "rest before", "ratio", "95% interval"):
        view.add_column(col)
    for r in table.itertuples():
        interval = "-" if not np.isfinite(r.low) else f"{r.low:.2f} to {r.high:.2f}"
        view.add_row(r.period_label, str(r.hotspots_during), str(r.hotspots_before), str(r.rest_during),
                     str(r.rest_before), "-" if not np.isfinite(r.ratio) else f"{r.ratio:.2f}", interval)
    if len(table):
        out.print(view)
    out.print(sentence, highlight=False, soft_wrap=True)
