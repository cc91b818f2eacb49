"""The analyst's job: ``hotspots model train | backtest | list | show | promote | rollback | predict | forecast``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hotspots.cli._common import DbOption, app, err, load_force_area, open_store_at, out, parse_day, settings
from hotspots.core.errors import ValidationError
from hotspots.core.tables import write_csv
from hotspots.ingest.files import IngestOptions, expand_paths, normalise_files
from hotspots.ingest.readers import mapping_timezone
from hotspots.national.cluster import dask_client
from hotspots.national.dataset import IncidentDataset
from hotspots.services.ingest import stored_frame
from hotspots.services.models import forecast_promoted, list_models, model_row, promoted_version, register
from hotspots.services.models import promote as promote_version
from hotspots.services.models import rollback as roll
from models.backtest import MODEL, SERVED, rolling_backtest, test_periods_for
from models.features import read_point_layer
from models.national.training import train_national
from models.predictor import RiskModel
from models.registry import forecast_table
from models.report import write_backtest_report
from models.runs import build_history, check_run, run_calendar
from models.training import history_before
from models.training import train as train_model

model_app = typer.Typer(help="The predictor: train, backtest against baselines, register, promote, forecast.",
                        no_args_is_help=True)
app.add_typer(model_app, name="model")

InputsArg = Annotated[list[Path] | None, typer.Argument(help="Incident files or folders (default: the store's incidents).")]
PeriodOption = Annotated[str, typer.Option("--period", help="Period kind: tactical (28 days), week or month.")]
ResOption = Annotated[int, typer.Option("--res", help="H3 resolution of the cells (7 to 11).")]
TargetOption = Annotated[str, typer.Option("--target", help="knife_syv, or offence types, e.g. 'Violence and sexual offences,Robbery'.")]
CutoffOption = Annotated[str, typer.Option("--cutoff", help="Train on what was known before this day (YYYY-MM-DD) and forecast the period starting on it.")]
LayerOption = Annotated[list[Path] | None, typer.Option("--layer", help="GeoJSON of points (schools, stops, premises): distance and count features (repeatable).")]
FormatOption = Annotated[str, typer.Option("--format", help="Reader for INPUT files (see 'hotspots ingest --help').")]
MappingOption = Annotated[Path | None, typer.Option("--mapping", help="TOML column mapping for a generic CSV.")]
AreaOption = Annotated[str | None, typer.Option("--area", help="Boundary file of the region (default: the force area; 'none': the cells within two steps of an incident).")]
PoliceDetectedOption = Annotated[bool, typer.Option("--allow-police-detected", help="Allow offences found by police activity as the target.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of every random draw.")]


def _incidents(inputs: list[Path] | None, fmt: str, mapping: Path | None, area, res: int, store,
               rejects_to: Path | None):
    """Incidents from files (nothing stored) or from the store, and the CRS they are projected in."""
    s = settings()
    if inputs:
        opts = IngestOptions(fmt=fmt, mapping=str(mapping) if mapping else None, force_area=area,
                             projected_crs=s.projected_crs, h3_resolution=res, timezone=s.timezone)
        frame, rejects, warnings = normalise_files(inputs, opts)
        for w in summarised(warnings):
            err.print(f"warning: {w}", highlight=False, soft_wrap=True, markup=False)
        err.print(f"read {len(frame):,} incidents from {len(expand_paths(inputs))} file(s); nothing is stored",
                  highlight=False)
        if len(rejects):
            target = rejects_to or s.data_dir / "rejects" / "model-input.rejects.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            write_csv(rejects, target)
            err.print(f"{len(rejects)} rows rejected (file, line and reason in {target})", highlight=False)
        if frame.empty:
            raise ValidationError("no usable incidents in the input files; see the rejects")
        return frame, frame.attrs["projected_crs"]
    return stored_frame(store)


def summarised(warnings: list[str]) -> list[str]:
    """One line per kind of warning: the first file's, and how many more files said the same."""
    kinds: dict[str, list[str]] = {}
    for w in warnings:
        kinds.setdefault(re.sub(r"\d+", "N", w.split(": ", 1)[-1]), []).append(w)
    return [same[0] + (f" (and the same in {len(same) - 1} more file(s))" if len(same) > 1 else "")
            for same in kinds.values()]


def _history(inputs, fmt, mapping, period, res, target, cutoff, layers, area_path, allow, store, rejects_to=None):
    """The counted incidents (from INPUT files, else from ``store``) and the period the cutoff starts, if given."""
    check_run(period, res, target, allow)
    s = settings()
    area = load_force_area(area_path)
    frame, crs = _incidents(inputs, fmt, mapping, area, res, store, rejects_to)
    # A mapping's own time zone is where its incidents happened: periods start at its midnights.
    zone = (mapping_timezone(mapping) if inputs else None) or s.timezone
    if zone != s.timezone:
        err.print(f"periods follow the mapping's time zone, {zone}", highlight=False)
    return build_history(frame, crs, period=period, resolution=res, target=target, cutoff=parse_day(cutoff, "--cutoff"),
                         area=area, anchor=s.period_anchor, period_days=s.period_days, timezone=zone,
                         layers=tuple(read_point_layer(p, crs) for p in layers or []),
                         allow_police_detected=allow)


def _print_summary(result) -> None:
    table = Table(title="Rolling-origin backtest (means over the test periods)")
    for col in ("method", "periods", "hit rate @1.4%", "PAI @1%", "PAI @1.4%", "PAI @5%", "PEI @1.4%",
                "deviance", "fcst/obs"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for method, r in result.summary.iterrows():
        table.add_row(f"[bold]{method}[/bold]" if method in (MODEL, SERVED) else method, f"{int(r['periods'])}",
                      f"{r['hit_rate@1.4%']:.3f}", f"{r['pai@1%']:.2f}", f"{r['pai@1.4%']:.2f}", f"{r['pai@5%']:.2f}",
                      f"{r['pei@1.4%']:.3f}", f"{r['poisson_deviance']:.4f}", f"{r['calibration_ratio']:.2f}")
    out.print(table)
    out.print(result.verdict(), highlight=False)
    if result.served_verdict():
        out.print(result.served_verdict(), highlight=False, soft_wrap=True)


@model_app.command()
def train(
    inputs: InputsArg = None,
    cutoff: CutoffOption = "",
    period: PeriodOption = "tactical",
    resolution: ResOption = 10,
    target: TargetOption = "knife_syv",
    backtest_periods: Annotated[int, typer.Option("--backtest-periods", help="Test periods of the rolling-origin backtest stored with the model (0: none).")] = 6,
    layers: LayerOption = None,
    area: AreaOption = None,
    fmt: FormatOption = "auto",
    mapping: MappingOption = None,
    allow_police_detected: PoliceDetectedOption = False,
    seed: SeedOption = 0,
    dataset: Annotated[Path | None, typer.Option(help="Train from this partitioned data set, part by part: features on the cluster, the model on a stratified sample.")] = None,
    force: Annotated[list[str] | None, typer.Option(help="With --dataset: only these forces (repeatable; default all).")] = None,
    scheduler: Annotated[str, typer.Option(help="With --dataset: 'local' (a LocalCluster here) or a scheduler address, tcp://HOST:8786. Default: this process.")] = "",
    dask_workers: Annotated[int, typer.Option(help="With --scheduler local: worker processes.")] = 2,
    db: DbOption = "",
):
    """Backtest and train a model, and store it in the registry as a new version (not promoted)."""
    if backtest_periods < 0:
        raise ValidationError(f"--backtest-periods={backtest_periods} must be 0 or more")
    store = open_store_at(db)
    if dataset is not None:
        if inputs:
            raise ValidationError("give incident files or --dataset, not both")
        trained = _train_national(dataset, force, scheduler, dask_workers, cutoff, period, resolution, target, layers, area,
                                  allow_police_detected, seed, backtest_periods)
        version = register(store, trained)
        if trained.backtest is not None:
            _print_summary(trained.backtest)
        out.print(f"model version {version} stored from the data set {dataset} ({trained.n_cells:,} cells, "
                  f"{trained.model.n_rows_:,} sampled cell-periods); not promoted. Read its card with "
                  f"'hotspots model show {version}'.", highlight=False, soft_wrap=True)
        return
    if force or scheduler:
        raise ValidationError("--force and --scheduler train from a data set; give --dataset DIR too")
    history, forecast = _history(inputs, fmt, mapping, period, resolution, target, cutoff, layers, area,
                                 allow_police_detected, store)
    trained = train_model(history, forecast, RiskModel(seed=seed), backtest_periods)
    version = register(store, trained)
    if trained.backtest is not None:
        _print_summary(trained.backtest)
    first, last = trained.forecast_bounds()
    out.print(f"model version {version} stored: {trained.target.describe()}, trained on "
              f"{trained.training_start}..{trained.training_end} for {first}..{last}; it serves "
              f"{trained.served.describe()}; not promoted. "
              f"Read its card with 'hotspots model show {version}', then 'hotspots model promote {version}'.",
              highlight=False, soft_wrap=True)


def _train_national(dataset, forces, scheduler, dask_workers, cutoff, period, res, target, layers, area_path,
                    allow, seed, backtest_periods):
    from contextlib import ExitStack


    spec = check_run(period, res, target, allow)
    area = load_force_area(area_path)
    if area is None:
        raise ValidationError("--area none: a national training needs a region; give a boundary file")
    data = IncidentDataset(dataset)
    s = settings()
    day = parse_day(cutoff, "--cutoff")
    calendar = run_calendar(period, day, s.period_anchor, s.period_days, s.timezone)
    with ExitStack() as stack:
        client = stack.enter_context(dask_client(scheduler, dask_workers)) if scheduler else None
        return train_national(data, area.cells(res), calendar, spec,
                              forecast_period=calendar.period_of(day) if day else None, model=RiskModel(seed=seed),
                              layers=tuple(read_point_layer(p, data.crs) for p in layers or []),
                              backtest_periods=backtest_periods, selection={"forces": data.check_forces(forces)},
                              client=client, progress=lambda line: err.print(line, highlight=False, soft_wrap=True))


@model_app.command()
def backtest(
    inputs: InputsArg = None,
    periods: Annotated[int, typer.Option("--periods", help="Test periods, the latest complete ones.")] = 6,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for backtest.md/.csv/.json/.png (default: <data dir>/backtest).")] = None,
    period: PeriodOption = "tactical",
    resolution: ResOption = 10,
    target: TargetOption = "knife_syv",
    cutoff: Annotated[str, typer.Option("--cutoff", help="Backtest on what was known before this day (default: all data).")] = "",
    layers: LayerOption = None,
    area: AreaOption = None,
    fmt: FormatOption = "auto",
    mapping: MappingOption = None,
    allow_police_detected: PoliceDetectedOption = False,
    seed: SeedOption = 0,
    db: DbOption = "",
):
    """Rolling-origin backtest of the model beside every baseline; writes a table and a plot."""
    if periods < 1:
        raise ValidationError(f"--periods={periods} must be 1 or more")
    history, forecast = _history(inputs, fmt, mapping, period, resolution, target, cutoff, layers, area,
                                 allow_police_detected, None if inputs else open_store_at(db))
    if forecast is not None:
        history = history_before(history, forecast)
    result = rolling_backtest(history, periods, RiskModel(seed=seed),
                              progress=lambda line: err.print(line, highlight=False))
    _print_summary(result)
    folder = out_dir or settings().data_dir / "backtest"
    paths = write_backtest_report(result, folder, f"Backtest: {history.target.describe()}")
    out.print("written: " + ", ".join(str(p) for p in paths), highlight=False, soft_wrap=True)


@model_app.command("list")
def list_(db: DbOption = ""):
    """The registry's models, newest first; the promoted one is marked."""
    frame = list_models(open_store_at(db))
    if frame.empty:
        out.print("no models yet: train one with 'hotspots model train'")
        return
    table = Table(title="Models")
    for col in ("version", "promoted", "created (UTC)", "target", "period", "res", "trained on", "forecasts from",
                "incidents", "data"):
        table.add_column(col)
    for r in frame.itertuples():
        table.add_row(str(r.version), "yes" if r.promoted else "", str(r.created_at)[:19], r.target, r.period_kind,
                      str(r.resolution), f"{r.training_start}..{r.training_end}", str(r.forecast_start),
                      f"{r.n_incidents:,}", r.data_fingerprint[:12])
    out.print(table)


@model_app.command()
def show(version: Annotated[int, typer.Argument(help="Model version.")], db: DbOption = ""):
    """A model's card: target, training window, features, parameters, backtest against baselines, provenance."""
    store = open_store_at(db)
    row = model_row(store, version)
    status = "PROMOTED (serves forecasts)" if promoted_version(store) == version else "not promoted"
    out.print(f"version {version}: {status}", highlight=False)
    out.print(row["card"], highlight=False, markup=False, soft_wrap=True)


@model_app.command()
def promote(version: Annotated[int, typer.Argument(help="Model version.")],
            note: Annotated[str, typer.Option(help="Why, for the record.")] = "", db: DbOption = ""):
    """Make a model the one that serves forecasts."""
    store = open_store_at(db)
    row = model_row(store, version)
    if not row["metrics"]:
        err.print(f"warning: version {version} was trained without a backtest", highlight=False)
    promote_version(store, version, note)
    out.print(f"model version {version} promoted", highlight=False)


@model_app.command()
def rollback(note: Annotated[str, typer.Option(help="Why, for the record.")] = "", db: DbOption = ""):
    """Return to the model promoted before the current one."""
    version = roll(open_store_at(db), note)
    out.print(f"rolled back: model version {version} serves forecasts again", highlight=False)


def _can_backtest(history, forecast: int, template: RiskModel) -> bool:
    try:
        test_periods_for(history_before(history, forecast), 1, template.warmup_periods)
    except ValidationError:
        return False
    return True


@model_app.command()
def predict(
    inputs: Annotated[list[Path], typer.Argument(help="Incident files or folders, in any supported format.")],
    cutoff: Annotated[str, typer.Option("--cutoff", help="Train on what was known before this day and forecast the period starting on it (YYYY-MM-DD).")],
    out_path: Annotated[Path, typer.Option("--out", help="CSV: one row per cell of the region.")],
    period: PeriodOption = "tactical",
    resolution: ResOption = 10,
    target: TargetOption = "knife_syv",
    layers: LayerOption = None,
    area: AreaOption = None,
    fmt: FormatOption = "auto",
    mapping: MappingOption = None,
    allow_police_detected: PoliceDetectedOption = False,
    seed: SeedOption = 0,
    backtest_periods: Annotated[int, typer.Option("--backtest-periods", help="Test periods that choose what is served (the model, a count baseline or their blend) and recalibrate it; 0: the model as fitted.")] = 3,
):
    """Straight from incident files: train on everything before the cutoff, write each cell's expected count."""
    if out_path.suffix.lower() != ".csv":
        raise ValidationError(f"--out={str(out_path)!r}: the scores are a CSV; give a path ending .csv")
    if not cutoff:
        raise ValidationError("--cutoff is needed: the day the forecast period starts, e.g. --cutoff 2024-06-03")
    if backtest_periods < 0:
        raise ValidationError(f"--backtest-periods={backtest_periods} must be 0 or more")
    rejects_to = out_path.with_name(out_path.stem + ".rejects.csv")
    history, forecast = _history(inputs, fmt, mapping, period, resolution, target, cutoff, layers, area,
                                 allow_police_detected, None, rejects_to)
    template = RiskModel(seed=seed)
    if backtest_periods and not _can_backtest(history, forecast, template):
        err.print("warning: too little history before the cutoff to backtest, so nothing chooses among the model and "
                  "the baselines: the model is served as fitted", highlight=False, soft_wrap=True)
        backtest_periods = 0
    trained = train_model(history, forecast, template, backtest_periods)
    table = forecast_table(history.cells, trained.served.predict(history, forecast), history.calendar, forecast)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_path, index=False, float_format="%.6g")
    out.print(f"{len(table):,} cells forecast for {table['period_start'].iloc[0]}..{table['period_end'].iloc[0]} "
              f"({history.target.describe()}; {table['expected'].sum():.1f} expected in all) written to {out_path}; "
              f"served: {trained.served.describe()}",
              highlight=False, soft_wrap=True)


@model_app.command()
def forecast(
    out_path: Annotated[Path, typer.Option("--out", help="CSV of h3_cell,score,... for 'hotspots select --scores'.")],
    for_date: Annotated[str, typer.Option("--for", help="A day in the period to forecast (default: the period after the data).")] = "",
    area: AreaOption = None,
    db: DbOption = "",
):
    """Forecast with the promoted model on the store's incidents."""
    day = parse_day(for_date, "--for")
    stored, table = forecast_promoted(open_store_at(db), load_force_area(area), day)
    table["score"] = table["expected"]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_path, index=False, float_format="%.6g")
    out.print(f"model version {stored.version} forecast {len(table):,} cells for {table['period_start'].iloc[0]}.."
              f"{table['period_end'].iloc[0]}; written to {out_path}", highlight=False, soft_wrap=True)
