"""The ``hotspots`` command. User mistakes print one line and exit 2; bugs keep their traceback.

Each module registers its commands on the one Typer app: ``explore`` (ingest, cells, kde,
synth), ``weekly`` (select, map, sets, export, engagement), ``model`` (the predictor),
``patrol`` (rosters), ``trial`` (allocation, power, dosage, evaluation),
``legitimacy`` (stop and search, the quarterly return, the public summary), ``serve`` (the API and its ``users``) and ``demo``.

A command's module is imported when that command runs, not when the CLI starts: the modules
between them pull in scikit-learn, folium, uvicorn and the whole services floor, which would make
every call (``--help`` included) pay seconds for imports it does not use. ``COMMANDS`` names each
top-level command's module and its one-line help; a test checks the lines against the commands.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from hotspots.cli._common import app, err
from hotspots.core.errors import HotspotsError


class _Entry(NamedTuple):
    module: str
    help: str


COMMANDS: dict[str, _Entry] = {
    "ingest": _Entry("explore", "Load incident files into the store (or a data set): one all-or-nothing batch per "
                                "file; rejected rows kept with line and reason."),
    "cells": _Entry("explore", "Aggregate stored incidents to H3 cells and periods; print the top cells and write the "
                               "cell table."),
    "kde": _Entry("explore", "Kernel density of stored incidents on the H3 cells of the force area; print the densest "
                             "cells and write the table."),
    "synth": _Entry("explore", "Generate a seeded synthetic city with known ground truth, in the formats the readers "
                               "read."),
    "select": _Entry("weekly", "Select this period's hotspots, store the set, print it with its coverage, and write "
                               "exports and the map."),
    "select-counts": _Entry("counts", "Select a month's hotspots from crime counted per area (police.uk counts per "
                                      "LSOA); store, print and map the set."),
    "sets": _Entry("weekly", "List the stored hotspot sets, newest first."),
    "export": _Entry("weekly", "Write a stored hotspot set (geofences for devices: KML; GIS: GeoPackage, GeoJSON; "
                               "tables: CSV)."),
    "map": _Entry("weekly", "Draw the weekly map of a stored hotspot set, force-wide or for one NPU; it opens "
                            "offline."),
    "engagement": _Entry("weekly", "Community engagement plans of hotspots: one per hotspot, kept across periods."),
    "demo": _Entry("demo", "The main job on the shipped West Midlands data: load and aggregate the samples, select a "
                           "week's hotspots, then the force-wide month's from counts per LSOA, and roster patrols in "
                           "each district."),
    "serve": _Entry("serve", "Run the API under uvicorn on the embedded SQLite store, or on PostgreSQL when "
                             "configured."),
    "users": _Entry("serve", "API tokens and their roles: commander, analyst, tasking, evaluator, admin."),
    "patrol": _Entry("patrol", "Randomised patrol rosters for hotspot sets: plan, store, export."),
    "model": _Entry("model", "The predictor: train, backtest against baselines, register, promote, forecast."),
    "trial": _Entry("trial", "Randomised trials of patrols: allocate, plan power, measure dosage, evaluate."),
    "stop-search": _Entry("legitimacy", "Stop and search in and out of hotspots, kept only as counts."),
    "return": _Entry("legitimacy", "The quarterly serious-violence return: patrol planned and delivered in hotspots, "
                                   "crime, harm and stop and search in them against the rest (CSV and HTML)."),
    "transparency": _Entry("legitimacy", "The public transparency summary of a past quarter: aggregates only, no "
                                         "hotspot locations, small numbers suppressed (CSV and HTML)."),
}


def load_command(name: str) -> TyperCommand | TyperGroup | None:
    """The click command ``name``, importing the module that registers it; None for an unknown name."""
    entry = COMMANDS.get(name)
    if entry is None:
        return None
    importlib.import_module(f"hotspots.cli.{entry.module}")
    return typer.main.get_group(app).commands.get(name)


class _LazyGroup(TyperGroup):
    """The root group: lists commands from ``COMMANDS`` and imports a command's module only to run it."""

    _listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: typer.Context | None, cmd_name: str) -> TyperCommand | TyperGroup | None:
        if self._listing and cmd_name in COMMANDS:
            # The root help needs only the name and its line: a stand-in spares the imports.
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help)
        if cmd_name not in self.commands:
            command = load_command(cmd_name)
            if command is None:
                return None
            self.commands[cmd_name] = command
        return self.commands[cmd_name]

    def format_help(self, ctx: typer.Context, formatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def root_group() -> TyperGroup:
    """The ``hotspots`` group, its commands not yet imported."""
    return _LazyGroup(name="hotspots", help=app.info.help, no_args_is_help=True)


#: Engine arguments whose option is named otherwise on every command that has one.
_FLAG_OF = {"cell_scores": "--scores", "min_gap_minutes": "--min-gap", "npus": "--npu", "trial": "--name"}


def _flag_speller(root: TyperGroup, argv: list[str]):
    """How the command that ``argv`` invoked spells an engine argument: its option of that name
    (``set_id`` is ``--set``), its positional argument of that name as is, a known alias, else
    ``--`` and the name with dashes. Names already written as flags are kept."""
    command: TyperCommand | TyperGroup = root
    for token in argv:
        if not isinstance(command, TyperGroup) or token.startswith("-"):
            break
        command = command.get_command(None, token) or command
    own = {p.name: max(p.opts, key=len) if isinstance(p, TyperOption) else p.name for p in command.params}

    def spell(name: str) -> str:
        if name.startswith("-"):
            return name
        return own.get(name) or _FLAG_OF.get(name) or "--" + name.replace("_", "-")
    return spell


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; a HotspotsError becomes one line on stderr and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("alembic", "pyogrio", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = sys.argv[1:] if argv is None else list(argv)
    root = root_group()
    try:
        root.main(args=args, prog_name="hotspots", standalone_mode=True)
    except HotspotsError as exc:
        message = exc.message_as(_flag_speller(root, args))
        err.print(f"error: {message}", highlight=False, soft_wrap=True, markup=False)
        return 2
    except Exception as exc:
        from hotspots.store.db import store_fault  # here, not at start-up: the store's imports are heavy

        fault = store_fault(exc)
        if fault is None:
            raise  # a bug keeps its traceback
        err.print(f"error: {fault}", highlight=False, soft_wrap=True, markup=False)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
