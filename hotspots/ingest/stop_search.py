"""data.police.uk stop-and-search files, read into what the aggregates count and nothing more.

A stop-and-search row describes a person. Gender is never read (its field is emptied as the row is
read, like every personal column of the incident readers). Age range and ethnicity are turned at once
into the coarse groups the aggregates count (the ONS 5+1 ethnic groups, the published age bands) and
the row's own strings are dropped. Rejected rows keep their line and reason but never their text,
which would be personal data. What :func:`read_stop_search` returns lives only until it is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.errors import FormatError
from hotspots.core.textfile import read_csv_rows
from hotspots.core.validate import check_file

#: data.police.uk age ranges, and what a search of no person (a vehicle) or an unrecorded age reads as.
AGE_BANDS = ("under 10", "10-17", "18-24", "25-34", "over 34", "not recorded")

_COLUMNS = {"search_type": "Type", "date": "Date", "lat": "Latitude", "lon": "Longitude",
            "age": "Age range", "self_defined": "Self-defined ethnicity",
            "officer_defined": "Officer-defined ethnicity", "legislation": "Legislation",
            "object_of_search": "Object of search", "outcome": "Outcome",
            "linked": "Outcome linked to object of search"}
#: Self-defined ethnicity begins with its ONS group ("Asian/Asian British - Pakistani").
_SELF_PREFIXES = (("asian", "Asian"), ("black", "Black"), ("mixed", "Mixed"), ("white", "White"))
_OFFICER = {"asian": "Asian", "black": "Black", "mixed": "Mixed", "white": "White", "other": "Other"}
#: The columns of :attr:`StopSearchRows.frame`.
FRAME_COLUMNS = ["line", "at", "lon", "lat", "search_type", "legislation", "object_of_search", "outcome",
                 "linked", "self_group", "officer_group", "age_band"]


@dataclass
class StopSearchRows:
    """One file's searches, personal fields already coarsened.

    frame : one row per search, FRAME_COLUMNS: ``at`` in UTC; ``lon``/``lat`` NaN where the source
        gives no position (such searches count force-wide but in no place).
    rejected : (line, reason) of every row that could not be read; no row text is kept.
    """

    source: Path
    frame: pd.DataFrame
    rejected: list[tuple[int, str]] = field(default_factory=list)


def self_defined_group(values) -> np.ndarray:
    """The ONS 5+1 group of each self-defined ethnicity string (empty or "Not stated": Not stated)."""
    text = pd.Series(values, dtype=object).fillna("").str.strip().str.lower()
    out = np.full(len(text), "Other", dtype=object)
    for prefix, group in _SELF_PREFIXES:
        out[text.str.startswith(prefix).to_numpy()] = group
    out[(text.eq("") | text.str.contains("not stated")).to_numpy()] = "Not stated"
    return out


def officer_defined_group(values) -> np.ndarray:
    """The ONS group of each officer-defined ethnicity (five words; empty: Not stated)."""
    text = pd.Series(values, dtype=object).fillna("").str.strip().str.lower()
    return text.map(_OFFICER).fillna("Not stated").to_numpy(dtype=object)


def age_band(values) -> np.ndarray:
    """The published age range, or "not recorded" (vehicle-only searches carry none)."""
    text = pd.Series(values, dtype=object).fillna("").str.strip().str.lower()
    return text.where(text.isin(AGE_BANDS[:-1]), "not recorded").to_numpy(dtype=object)


def read_stop_search(path: Path, options: dict | None = None) -> StopSearchRows:
    """Read a data.police.uk stop-and-search CSV (``.gz`` read through) into coarse fields.

    Parameters
    ----------
    path : the file.
    options : ``encoding`` and ``delimiter`` when not the defaults (see
        :func:`hotspots.core.textfile.read_csv_rows`).

    Returns
    -------
    StopSearchRows
        A row whose date cannot be read, or whose position is half given or off the globe, is
        rejected with its line; a row with no position at all is kept, unplaced.
    """
    read = read_csv_rows(Path(path), options, personal=frozenset({"gender"}), required=tuple(_COLUMNS.values()),
                         kind="data.police.uk stop-and-search")
    rejected = [(line, reason) for line, reason, _ in read.rejected]
    index = {name: read.header.index(col) for name, col in _COLUMNS.items()}
    columns = list(zip(*read.rows, strict=True)) if read.rows else [()] * len(read.header)
    raw = {name: pd.Series(columns[i], dtype=object).str.strip() for name, i in index.items()}
    lines = np.asarray(read.lines, dtype=np.int64)
    del read, columns  # the rows with their personal strings end here; only coarse groups go on

    at = pd.to_datetime(raw["date"], utc=True, errors="coerce", format="ISO8601")
    lon = pd.to_numeric(raw["lon"].replace("", None), errors="coerce").to_numpy(float)
    lat = pd.to_numeric(raw["lat"].replace("", None), errors="coerce").to_numpy(float)
    given = (raw["lon"] != "").to_numpy() | (raw["lat"] != "").to_numpy()
    reasons = np.full(lines.size, "", dtype=object)
    reasons[given & (np.isnan(lon) | np.isnan(lat))] = "position half given or not a number"
    off_globe = ~np.isnan(lon) & ~np.isnan(lat) & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    reasons[off_globe] = "position off the globe (longitude -180..180, latitude -90..90)"
    reasons[at.isna().to_numpy()] = "unreadable date (expected ISO 8601 with its offset, e.g. 2024-01-31T23:20:00+00:00)"
    bad = reasons != ""
    rejected += [(int(line), str(reason)) for line, reason in zip(lines[bad], reasons[bad], strict=True)]
    keep = ~bad
    linked = raw["linked"].str.lower().map({"true": "yes", "false": "no"}).fillna("not recorded")
    frame = pd.DataFrame({
        "line": lines[keep],
        "at": at[keep].reset_index(drop=True),
        "lon": lon[keep], "lat": lat[keep],
        "search_type": raw["search_type"][keep].to_numpy(),
        "legislation": raw["legislation"].replace("", "not recorded")[keep].to_numpy(),
        "object_of_search": raw["object_of_search"].replace("", "not recorded")[keep].to_numpy(),
        "outcome": raw["outcome"].replace("", "not recorded")[keep].to_numpy(),
        "linked": linked[keep].to_numpy(),
        "self_group": self_defined_group(raw["self_defined"])[keep],
        "officer_group": officer_defined_group(raw["officer_defined"])[keep],
        "age_band": age_band(raw["age"])[keep],
    }, columns=FRAME_COLUMNS)
    return StopSearchRows(source=Path(path), frame=frame, rejected=sorted(rejected))


def read_population(path: str | Path) -> pd.DataFrame:
    """A resident population table (e.g. Census 2021 LSOA by ethnic group and age): columns
    ``ethnic_group`` and ``population``, optional ``age_band`` (the published age ranges) and any area
    column, which is summed over. Group names are mapped onto the ONS 5+1 groups by their first word.

    Returns
    -------
    pandas.DataFrame
        ethnic_group, [age_band], population (float), one row per group (and band).
    """
    path = check_file(path, "population")
    try:
        table = pd.read_csv(path, dtype={"ethnic_group": str, "age_band": str})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"population table {path.name}: not a readable CSV ({exc})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = {"ethnic_group", "population"} - set(table.columns)
    if missing:
        raise FormatError(f"population table {path.name}: missing column(s) {', '.join(sorted(missing))}; it needs "
                          "ethnic_group and population (optional age_band)")
    people = pd.to_numeric(table["population"], errors="coerce")
    if people.isna().any() or (people < 0).any():
        line = int(np.flatnonzero(people.isna() | (people < 0))[0]) + 2
        raise FormatError(f"population table {path.name}: line {line}: population must be a count of people")
    keys = ["ethnic_group", "age_band"] if "age_band" in table.columns else ["ethnic_group"]
    frame = table.assign(population=people.astype(float), ethnic_group=self_defined_group(table["ethnic_group"]))
    if "age_band" in keys:
        frame["age_band"] = frame["age_band"].str.strip().str.lower()
        unknown = sorted(set(frame["age_band"]) - set(AGE_BANDS[:-1]))
        if unknown:
            raise FormatError(f"population table {path.name}: age_band {unknown[0]!r} is not one of "
                              f"{', '.join(AGE_BANDS[:-1])}")
    frame = frame[frame["ethnic_group"].ne("Not stated")]
    return frame.groupby(keys, as_index=False)["population"].sum()
