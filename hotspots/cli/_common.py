"""What every command shares: the Typer app, consoles, option types, settings, store and dates."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from hotspots.core.config import get_settings
from hotspots.core.errors import ValidationError
from hotspots.services.ingest import load_area
from hotspots.services.ingest import stored_incidents as read
from hotspots.store import open_store

app = typer.Typer(
    help="Hotspots: find where serious violence concentrates, and plan patrols there.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Piped output (CI logs, files) gets a wide table rather than rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 130)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 130)

DbOption = Annotated[str, typer.Option("--db", help="Store URL (default: HOTSPOTS_DATABASE_URL, else SQLite in the data dir).")]
CellResolutionOption = Annotated[int, typer.Option("--resolution", help="H3 resolution of the cells (7 to 11).")]
OffenceGroupOption = Annotated[
    list[str] | None,
    typer.Option("--offence-group", help="Only these groups (repeatable). Default: recorded crime except offences detected by police activity."),
]
ForceAreaOption = Annotated[
    str | None, typer.Option("--force-area", help="Boundary file of the force area, or 'none' to accept any place.")
]


def print_listing(frame, title: str, empty: str = "") -> None:
    """A stored listing as a table: times to the minute, missing values as '-'; ``empty`` says what to
    do when there is nothing to list."""
    from rich.table import Table

    if frame.empty and empty:
        out.print(empty)
        return
    view = Table(title=title)
    for col in frame.columns:
        view.add_column(col)
    for r in frame.itertuples(index=False):
        view.add_row(*["-" if v is None else v.strftime("%Y-%m-%d %H:%M") if isinstance(v, dt.datetime) else str(v)
                       for v in r])
    out.print(view)


def settings():
    return get_settings()


def open_store_at(db: str):
    return open_store(db or settings().resolved_database_url())


def load_force_area(path: str | None):
    choice = path if path is not None else settings().force_area
    return None if choice.lower() == "none" else load_area(choice)


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


def stored_incidents(store, offence_group, since=None, until=None, allow_empty: bool = False):
    """The engine's stored incidents, with errors that name the --offence-group option."""
    return read(store, offence_group, since, until, allow_empty, name="--offence-group")


def parse_day(value: str, name: str) -> dt.date | None:
    """A YYYY-MM-DD option as a date, or None if empty."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name}={value!r} is not a date; use YYYY-MM-DD, e.g. 2024-06-30", arguments=name) from None


def parse_date(value: str, name: str, end: bool = False):
    """A YYYY-MM-DD option as a UTC timestamp at local midnight (the end of that day if ``end``), or None."""
    import pandas as pd

    day = parse_day(value, name)
    if day is None:
        return None
    return pd.Timestamp(day + dt.timedelta(days=1) if end else day, tz=settings().timezone).tz_convert("UTC")

