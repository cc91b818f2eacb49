"""Readers: each turns one source file into :class:`RawRows`, raw strings under canonical names.

Canonical raw fields (all optional but a time, a position and an offence):

``source_id``  the source's own id (data.police.uk Crime ID)
``datetime`` / ``date`` / ``month``  exact time, a known day, or a month ('YYYY-MM')
``lon``, ``lat`` (WGS84) or ``x``, ``y`` (metres in ``coord_crs``)
``offence`` (a name in the offence vocabulary) or ``offence_code`` (looked up in a mapping)
``location``, ``lsoa_code``, ``knife``, ``victim_age``, ``victim_under_25``

Personal fields a source carries (gender, age range and ethnicity in stop-and-search) are
never read, and are blanked in the raw text kept for rejected rows.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hotspots.core.errors import FormatError, ValidationError
from hotspots.core.textfile import csv_line, read_csv_rows, read_header

PERSONAL_COLUMNS = {"gender", "age range", "self-defined ethnicity", "officer-defined ethnicity"}


@dataclass
class RawRows:
    """Rows of one file under canonical field names, with their line numbers."""

    source: Path
    reader: str
    lines: np.ndarray
    fields: dict[str, np.ndarray]
    records: Sequence  # each row's fields as read (personal fields blanked), for the rejects' raw text
    early_rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, raw)
    options: dict = field(default_factory=dict)  # coord_crs, datetime_format, timezone, offences, knife
    nul_free: bool = False  # the reader saw every byte and no NUL among them (the Arrow fast path)

    def __len__(self) -> int:
        return int(self.lines.size)

    def raw_text(self, indices: np.ndarray) -> list[str]:
        """The rows at ``indices`` as CSV text; built only for the few rows that are rejected."""
        return [csv_line(self.records[i]) for i in np.asarray(indices, dtype=np.int64)]


def _read_csv_columns(path: Path, reader: str, wanted: dict[str, str], options: dict | None = None) -> RawRows:
    """Read a CSV keeping ``wanted`` (canonical name -> header name); rows of the wrong width, and rows
    the parser cannot read, are rejected with their line (:func:`hotspots.core.textfile.read_csv_rows`)."""
    read = read_csv_rows(path, options, personal=frozenset(PERSONAL_COLUMNS), required=tuple(wanted.values()),
                         kind=reader, columns=True)
    header = read.header
    index = {canon: header.index(col) for canon, col in wanted.items()}
    if read.columns is not None:
        columns = read.columns.columns
    else:
        columns = list(zip(*read.rows, strict=True)) if read.rows else [()] * len(header)
    fields = {canon: np.asarray(columns[i], dtype=object) for canon, i in index.items()}
    return RawRows(
        source=path,
        reader=reader,
        lines=np.asarray(read.lines, dtype=np.int64),
        fields=fields,
        records=read.columns if read.columns is not None else read.rows,
        early_rejects=read.rejected,
        options={"delimiter": read.delimiter},
        nul_free=read.columns is not None,
    )


# -- data.police.uk -----------------------------------------------------------------------------


def read_police_street(path: Path, options: dict | None = None) -> RawRows:
    """data.police.uk street CSV, current 12-column layout (Crime ID, Month, ..., Longitude, Latitude, ...)."""
    return _read_csv_columns(
        path,
        "data.police.uk street",
        {
            "source_id": "Crime ID",
            "month": "Month",
            "lon": "Longitude",
            "lat": "Latitude",
            "location": "Location",
            "lsoa_code": "LSOA code",
            "offence": "Crime type",
        },
        options,
    )


def read_police_street_legacy(path: Path, options: dict | None = None) -> RawRows:
    """data.police.uk street CSV in its 2010-2011 layout: Easting/Northing on British National Grid."""
    rows = _read_csv_columns(
        path,
        "data.police.uk street (legacy Easting/Northing)",
        {"month": "Month", "x": "Easting", "y": "Northing", "location": "Location", "offence": "Crime type"},
        options,
    )
    rows.options["coord_crs"] = "EPSG:27700"
    return rows


def read_police_api(path: Path, options: dict | None = None) -> RawRows:
    """Crimes saved from the police.uk API (type slug, street, month, latitude, longitude)."""
    return _read_csv_columns(
        path,
        "police.uk API",
        {"offence": "type", "location": "street", "month": "month", "lat": "latitude", "lon": "longitude"},
        options,
    )


def read_stop_and_search(path: Path, options: dict | None = None) -> RawRows:
    """data.police.uk stop-and-search CSV; exact times; personal columns are not read."""
    rows = _read_csv_columns(
        path,
        "data.police.uk stop-and-search",
        {"datetime": "Date", "lat": "Latitude", "lon": "Longitude", "object_of_search": "Object of search"},
        options,
    )
    rows.fields["offence"] = np.full(len(rows), "stop_and_search", dtype=object)
    rows.fields["source_offence"] = rows.fields.pop("object_of_search")
    return rows


# -- a force's own export, described by a mapping file -------------------------------------------


def load_mapping(path: str | Path) -> dict:
    """Read a TOML mapping file: [columns] canonical -> source column, optional [format], [offences], [knife]."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"mapping: no such file {str(p)!r}; see data/mappings/connect_example.toml", arguments="mapping")
    try:
        mapping = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"mapping {p.name}: not valid TOML ({exc})") from None
    columns = mapping.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise FormatError(f"mapping {p.name}: needs a [columns] table naming the source columns")
    for canon, source in columns.items():
        several = canon in ("datetime", "date") and isinstance(source, list)
        if not (isinstance(source, str) and source) and not (several and source and all(
                isinstance(c, str) and c for c in source)):
            raise FormatError(
                f"mapping {p.name}: [columns] {canon} = {source!r} must name one source column; a time spread over "
                "columns may list them, e.g. datetime = [\"YEAR\", \"MONTH\", \"DAY\"] with [format] "
                "datetime = \"%Y %m %d\"")
    has_time = any(k in columns for k in ("datetime", "date", "month"))
    has_place = {"lon", "lat"} <= columns.keys() or {"x", "y"} <= columns.keys()
    constant = mapping.get("format", {}).get("offence")
    if constant is not None and not (isinstance(constant, str) and constant.strip()):
        raise FormatError(f"mapping {p.name}: [format] offence must name the one offence of every row, e.g. \"Robbery\"")
    has_offence = "offence" in columns or "offence_code" in columns or constant is not None
    if not (has_time and has_place and has_offence):
        raise FormatError(
            f"mapping {p.name}: [columns] must name a time (datetime, date or month), a position "
            "(lon and lat, or x and y) and an offence (offence or offence_code, or [format] offence for a file "
            "of one offence)"
        )
    return mapping


def mapping_timezone(path: str | Path | None) -> str | None:
    """The time zone a mapping file reads its times in (``[format] timezone``), or None."""
    if path is None:
        return None
    zone = load_mapping(path).get("format", {}).get("timezone")
    return str(zone) if zone else None


def _split_columns(columns: dict) -> tuple[dict[str, str], dict[str, int]]:
    """The source columns to read (a list's members as ``name#i``), and how many parts each list has."""
    wanted, parts = {}, {}
    for canon, source in columns.items():
        if isinstance(source, list):
            parts[canon] = len(source)
            wanted.update({f"{canon}#{i}": col for i, col in enumerate(source)})
        else:
            wanted[canon] = source
    return wanted, parts


def read_mapped_csv(path: Path, options: dict | None = None) -> RawRows:
    """A generic CSV (a CONNECT extract, say) described by a mapping file (``options['mapping']``)."""
    mapping_path = (options or {}).get("mapping")
    if mapping_path is None:
        raise ValidationError(f"{path.name}: a generic CSV needs a mapping file; pass mapping FILE.toml", arguments="mapping")
    mapping = load_mapping(mapping_path)
    fmt = mapping.get("format", {})
    # What the command line names wins over the mapping; the mapping over detection and UTF-8.
    given = {k: v for k, v in (options or {}).items() if v not in (None, "", "auto")}
    chosen = {"encoding": fmt.get("encoding"), "delimiter": fmt.get("delimiter")} | given
    wanted, parts = _split_columns(mapping["columns"])
    rows = _read_csv_columns(path, "mapped CSV", wanted, chosen)
    for canon, n in parts.items():  # a time spread over columns (year, month, day, ...), joined by spaces
        pieces = [rows.fields.pop(f"{canon}#{i}") for i in range(n)]
        rows.fields[canon] = np.asarray([" ".join(map(str.strip, t)) for t in zip(*pieces, strict=True)], dtype=object)
    if "offence" not in rows.fields and "offence_code" not in rows.fields:  # a file of one offence
        rows.fields["offence"] = np.full(len(rows), fmt["offence"].strip(), dtype=object)
    if "offence_code" in rows.fields:
        codes = rows.fields.pop("offence_code")
        table = {str(k): str(v) for k, v in mapping.get("offences", {}).items()}
        rows.fields["source_offence"] = codes
        rows.fields["offence"] = np.asarray([table.get(c.strip(), c) for c in codes], dtype=object)
    rows.options.update(
        coord_crs=fmt.get("crs", "EPSG:4326"),
        datetime_format=fmt.get("datetime"),
        timezone=fmt.get("timezone"),
        knife_true=[str(v).lower() for v in mapping.get("knife", {}).get("true", ["y", "yes", "true", "1"])],
    )
    return rows


# -- vector files --------------------------------------------------------------------------------


def _read_vector(path: Path, options: dict | None, kind: str) -> RawRows:
    import geopandas as gpd
    import pandas as pd

    try:
        frame = gpd.read_parquet(path) if kind == "GeoParquet" else gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyarrow and GDAL raise many types; all mean the file is not readable
        raise FormatError(f"{path.name}: not a readable {kind} file ({type(exc).__name__})") from None
    rename = {}
    if options and options.get("mapping"):
        rename = {v: k for k, v in load_mapping(options["mapping"])["columns"].items()}
    frame = frame.rename(columns=rename)
    if {"occurred_from", "occurred_to", "time_precision"} <= set(frame.columns):
        frame = _from_normalised(frame, (options or {}).get("timezone", "Europe/London"))
    if frame.crs is not None and not frame.empty:
        frame = frame.to_crs("EPSG:4326")
    # An incident is a point: a line or polygon feature is rejected with its line, not read as one.
    kinds = frame.geometry.geom_type
    shaped = (frame.geometry.notna() & ~frame.geometry.is_empty & (kinds != "Point")).to_numpy()
    early = [(int(i) + 1, f"geometry is a {kinds.iloc[i]}, not a point", f"{kinds.iloc[i]} feature")
             for i in np.flatnonzero(shaped)]
    lines = np.flatnonzero(~shaped) + 1
    frame = frame[~shaped]
    n = len(frame)
    geom = frame.geometry
    ok_geom = (geom.notna() & ~geom.is_empty).to_numpy()
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    lon[ok_geom], lat[ok_geom] = geom[ok_geom].x.to_numpy(), geom[ok_geom].y.to_numpy()
    fields = {"lon": lon.astype(object), "lat": lat.astype(object)}
    known = ("source_id", "datetime", "date", "month", "offence", "offence_code", "location", "lsoa_code",
             "knife", "victim_age", "victim_under_25", "source_offence")
    for name in known:
        if name in frame.columns:
            col = frame[name]
            if pd.api.types.is_datetime64_any_dtype(col):
                col = col.map(lambda t: t.isoformat() if pd.notna(t) else "")
            fields[name] = col.astype(object).where(col.notna(), "").astype(str).to_numpy(dtype=object)
    if not any(k in fields for k in ("datetime", "date", "month")) or "offence" not in fields:
        raise FormatError(
            f"{path.name}: {kind} features need an offence and a time property (datetime, date or month); "
            f"it has {', '.join(c for c in frame.columns if c != 'geometry')}; pass mapping to name them", arguments="mapping")
    records = frame.drop(columns="geometry").assign(lon=lon, lat=lat).astype(str).values.tolist()
    return RawRows(source=path, reader=kind, lines=lines, fields=fields, records=records, early_rejects=early)


def _from_normalised(frame, timezone: str):
    """Incidents already normalised (a data set's files, a store export) as the fields a reader
    gives: the recorded interval back to a datetime, date or month, and the incident id as the
    source id, so loading them into a store keeps every id."""
    import pandas as pd

    start = pd.to_datetime(frame["occurred_from"], utc=True)
    local = start.dt.tz_convert(timezone)
    precision = frame["time_precision"].astype(str)
    out = frame.drop(columns=[c for c in ("datetime", "date", "month", "source_id") if c in frame.columns])
    exact = (precision == "exact").to_numpy()
    out["datetime"] = np.where(exact, start.map(lambda t: t.isoformat()), "")
    out["date"] = np.where((precision == "day").to_numpy(), local.dt.strftime("%Y-%m-%d"), "")
    out["month"] = np.where((precision == "month").to_numpy(), local.dt.strftime("%Y-%m"), "")
    out["source_id"] = frame["incident_id"].astype(str)
    if "knife_enabled" in frame.columns and "knife" not in frame.columns:
        out["knife"] = frame["knife_enabled"].map({True: "true", False: "false"}).fillna("")
    return out


def read_geojson(path: Path, options: dict | None = None) -> RawRows:
    """GeoJSON points; the "line" of a feature is its position (1-based) in the collection."""
    return _read_vector(path, options, "GeoJSON")


def read_geoparquet(path: Path, options: dict | None = None) -> RawRows:
    """GeoParquet points; the "line" of a row is its position (1-based)."""
    return _read_vector(path, options, "GeoParquet")


Reader = Callable[[Path, dict | None], RawRows]

#: Readers by the name ``--format`` takes; the header columns that identify each CSV layout.
READERS: dict[str, Reader] = {
    "police-street": read_police_street,
    "police-street-legacy": read_police_street_legacy,
    "police-api": read_police_api,
    "stop-search": read_stop_and_search,
    "mapped-csv": read_mapped_csv,
    "geojson": read_geojson,
    "geoparquet": read_geoparquet,
}
_SIGNATURES = [
    ("police-street", {"Crime ID", "Month", "Longitude", "Latitude", "Crime type"}),
    ("police-street-legacy", {"Month", "Easting", "Northing", "Crime type"}),
    ("stop-search", {"Type", "Date", "Latitude", "Longitude", "Object of search"}),
    ("police-api", {"type", "street", "month", "latitude", "longitude"}),
]


def _strip_gz(path: Path) -> str:
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def detect_format(path: Path, options: dict | None = None) -> str:
    """Tell a file's layout from its extension and header; say plainly when it is none we know."""
    name = _strip_gz(path)
    if name.endswith((".geojson", ".json")):
        return "geojson"
    if name.endswith((".parquet", ".geoparquet")):
        return "geoparquet"
    if options and options.get("mapping"):
        return "mapped-csv"
    header = set(read_header(path, options)[0])
    for fmt, needed in _SIGNATURES:
        if needed <= header:
            return fmt
    shown = ", ".join(sorted(header)[:12]) or "nothing"
    raise FormatError(
        f"{path.name}: not a recognised incident file (header: {shown}); "
        f"use format with one of {', '.join(READERS)}, or mapping FILE.toml for a force export",
        arguments=("format", "mapping"))


def read(path: str | Path, fmt: str = "auto", options: dict | None = None) -> RawRows:
    """Read one file with the named reader (``auto`` detects it)."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"{str(p)!r}: no such file")
    if fmt == "auto":
        fmt = detect_format(p, options)
    if fmt not in READERS:
        raise ValidationError(f"format={fmt!r} is not known; use one of: auto, {', '.join(READERS)}", arguments="format")
    return READERS[fmt](p, options)
