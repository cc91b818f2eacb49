"""Patrol dosage from GPS/AVL logs: pings to visits, visits to minutes per hotspot and day.

A log is a CSV with one ping per row: ``unit`` (a call sign, never an officer's name),
``timestamp`` (ISO 8601; without a UTC offset it is local time), ``lon`` and ``lat`` (WGS84).
Rows that cannot be used are kept with their line number and reason.

A visit is a run of one unit's pings inside one hotspot's cells in which consecutive pings are
at most ``max_gap_s`` apart; pings outside every hotspot are skipped, so a short step outside
the geofence (or a short signal loss) does not split a visit, a longer one does. Its length is
last ping minus first ping; visits shorter than ``min_visit_s`` are drive-throughs, not patrols.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.errors import FormatError, ValidationError
from hotspots.core.textfile import read_csv_rows
from hotspots.core.validate import check_compressed, check_file
from hotspots.trials.outcomes import cell_lookup, locate

PING_COLUMNS = ["line", "unit", "at", "lon", "lat"]
REJECT_COLUMNS = ["line", "reason", "raw"]
VISIT_COLUMNS = ["unit", "hotspot_id", "starts_at", "ends_at", "minutes", "pings", "date"]
_ALIASES = {"unit": ("unit", "callsign", "call_sign", "vehicle"), "timestamp": ("timestamp", "time", "datetime", "at"),
            "lon": ("lon", "longitude", "lng", "x"), "lat": ("lat", "latitude", "y")}


def read_gps_log(path: str | Path, timezone: str = "Europe/London",
                 options: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pings (PING_COLUMNS, ``at`` in UTC) and rejected rows (REJECT_COLUMNS) of one log file.

    Read as incident files are (:func:`hotspots.core.textfile.read_csv_rows`: ``options`` may name
    the ``encoding`` and ``delimiter``): a row of the wrong width or one the parser cannot read is
    rejected with its physical line, and the rest of the log is read.
    """
    path = check_compressed(check_file(path, "gps"))
    table = read_csv_rows(path, options)
    lower = {h.strip().lower(): i for i, h in enumerate(table.header)}
    chosen = {}
    for need, names in _ALIASES.items():
        found = next((lower[n] for n in names if n in lower), None)
        if found is None:
            raise FormatError(f"{path.name}: a GPS log needs unit, timestamp, lon and lat; it has no {need} column "
                              f"(columns: {', '.join(table.header[:12])})")
        chosen[need] = found
    columns = list(zip(*table.rows, strict=True)) if table.rows else [()] * len(table.header)
    raw = pd.DataFrame({need: pd.Series(columns[i], dtype=object) for need, i in chosen.items()})
    pings, rejects = parse_pings(raw, timezone, np.asarray(table.lines, dtype=np.int64))
    early = pd.DataFrame(table.rejected, columns=REJECT_COLUMNS)
    early["raw"] = early["raw"].str.replace("\x00", "\\x00", regex=False)  # PostgreSQL text holds no NUL
    if len(early):
        rejects = pd.concat([early, rejects], ignore_index=True).sort_values("line", ignore_index=True)
    return pings, rejects


def parse_pings(raw: pd.DataFrame, timezone: str = "Europe/London",
                lines: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate text columns unit, timestamp, lon, lat; ``lines`` gives each row's file line
    (default: row i is line i + 2, a file with no blank or multi-line rows)."""
    n = len(raw)
    line = np.arange(n) + 2 if lines is None else np.asarray(lines, dtype=np.int64)
    reason = np.full(n, "", dtype=object)
    unit = raw["unit"].astype(str).str.strip()
    reason[(unit == "").to_numpy()] = "unit is empty; give the unit's call sign"
    reason[((unit.str.len() > 32) & (reason == "")).to_numpy()] = "unit is longer than 32 characters"
    nul = raw[["unit", "timestamp", "lon", "lat"]].astype(str).apply(lambda c: c.str.contains("\x00", regex=False))
    reason[(nul.any(axis=1) & (reason == "")).to_numpy()] = "a field holds a NUL byte (0x00), which text cannot hold"
    at = _parse_times(raw["timestamp"].astype(str).str.strip(), timezone)
    reason[(at.isna() & (reason == "")).to_numpy()] = ("timestamp is not an ISO 8601 time (e.g. 2024-06-03T14:05:00Z), "
                                                       "or is a local time the clock change skips or repeats")
    lon = pd.to_numeric(raw["lon"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(raw["lat"], errors="coerce").to_numpy(float)
    bad_number = ~(np.isfinite(lon) & np.isfinite(lat))
    reason[bad_number & (reason == "")] = "lon or lat is not a number"
    out_of_range = ~bad_number & ((np.abs(lon) > 180) | (np.abs(lat) > 90) | ((lon == 0) & (lat == 0)))
    reason[out_of_range & (reason == "")] = "lon or lat is outside WGS84 ranges (or is 0,0: no fix)"
    pings = pd.DataFrame({"line": line, "unit": unit.to_numpy(), "at": at, "lon": lon, "lat": lat})
    ok = reason == ""
    dup = pings[ok].duplicated(["unit", "at"], keep="first")
    first_line = pings[ok].drop_duplicates(["unit", "at"]).set_index(["unit", "at"])["line"]
    dup_idx = np.flatnonzero(ok)[dup.to_numpy()]
    for i in dup_idx:
        reason[i] = f"repeats line {first_line.loc[(pings.at[i, 'unit'], pings.at[i, 'at'])]} (same unit and time)"
    ok = reason == ""
    rejects = pd.DataFrame({"line": line[~ok], "reason": reason[~ok], "raw": _raw_lines(raw[~ok])})
    return pings[ok].reset_index(drop=True), rejects


def _parse_times(text: pd.Series, timezone: str) -> pd.Series:
    """Aware UTC times; naive text is local time (NaT where the clock change makes it ambiguous)."""
    offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if offset.any():
        out[offset] = pd.to_datetime(text[offset], format="ISO8601", errors="coerce", utc=True)
    if (~offset).any():
        naive = pd.to_datetime(text[~offset], format="ISO8601", errors="coerce")
        local = pd.DatetimeIndex(naive).tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        out[~offset] = local.tz_convert("UTC")
    return out


def _raw_lines(frame: pd.DataFrame) -> list[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    lines = []
    for row in frame.itertuples(index=False):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        lines.append(buffer.getvalue().rstrip("\n").replace("\x00", "\\x00"))  # PostgreSQL text holds no NUL
    return lines


def pings_to_visits(pings: pd.DataFrame, members: pd.DataFrame, *, max_gap_s: float = 180.0,
                    min_visit_s: float = 120.0, timezone: str = "Europe/London") -> pd.DataFrame:
    """Visits of units to hotspots, from their GPS pings.

    Parameters
    ----------
    pings : unit, at (aware), lon, lat; one row per ping.
    members : hotspot_id and h3_cell, the cells of each hotspot.
    max_gap_s : seconds between consecutive pings inside a hotspot that still count as one stay.
    min_visit_s : shortest stay, in seconds, that counts as a visit.
    timezone : the force's time zone, for each visit's local date.

    Returns
    -------
    pandas.DataFrame
        VISIT_COLUMNS (unit, hotspot_id, starts_at, ends_at, minutes, pings, date), one row per visit.
    """
    if max_gap_s <= 0 or min_visit_s < 0:
        raise ValidationError(f"max_gap_s={max_gap_s!r} must be above 0 and min_visit_s={min_visit_s!r} at least 0", arguments="max_gap_s")
    place_ids = list(dict.fromkeys(members["hotspot_id"]))
    if pings.empty:
        return pd.DataFrame(columns=VISIT_COLUMNS)
    cells, owner, res = cell_lookup(members, place_ids)
    place = locate(pings["lon"].to_numpy(), pings["lat"].to_numpy(), cells, owner, res)
    inside = pings.loc[place >= 0, ["unit", "at"]].assign(place=place[place >= 0])
    if inside.empty:
        return pd.DataFrame(columns=VISIT_COLUMNS)
    inside = inside.sort_values(["unit", "at"], kind="stable")
    at = pd.DatetimeIndex(inside["at"])
    if at.tz is None:
        raise ValidationError("ping times must be timezone-aware; read logs with read_gps_log")
    seconds = at.as_unit("ns").asi8 / 1e9  # asi8 counts in the index's own unit, which may be us
    unit = inside["unit"].to_numpy()
    where = inside["place"].to_numpy()
    new = np.ones(len(inside), bool)
    new[1:] = (unit[1:] != unit[:-1]) | (where[1:] != where[:-1]) | (np.diff(seconds) > max_gap_s)
    run = np.cumsum(new) - 1
    first, last = np.flatnonzero(new), np.r_[np.flatnonzero(new)[1:] - 1, len(inside) - 1]
    length = seconds[last] - seconds[first]
    keep = length >= min_visit_s
    starts, ends = at[first[keep]], at[last[keep]]
    return pd.DataFrame({
        "unit": unit[first[keep]], "hotspot_id": np.asarray(place_ids, dtype=object)[where[first[keep]]],
        "starts_at": starts, "ends_at": ends, "minutes": length[keep] / 60.0,
        "pings": np.bincount(run, minlength=run[-1] + 1)[keep],
        "date": starts.tz_convert(timezone).strftime("%Y-%m-%d"),
    })[VISIT_COLUMNS].reset_index(drop=True)
