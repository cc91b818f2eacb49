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

import codecs
import csv
import gzip
import io
import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hotspots.core.errors import FormatError, ValidationError
from hotspots.core.validate import check_compressed

log = logging.getLogger(__name__)

PERSONAL_COLUMNS = {"gender", "age range", "self-defined ethnicity", "officer-defined ethnicity"}


@dataclass
class RawRows:
    """Rows of one file under canonical field names, with their line numbers."""

    source: Path
    reader: str
    lines: np.ndarray
    fields: dict[str, np.ndarray]
    records: list  # each row's fields as read (personal fields blanked), for the rejects' raw text
    early_rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, raw)
    options: dict = field(default_factory=dict)  # coord_crs, datetime_format, timezone, offences, knife

    def __len__(self) -> int:
        return int(self.lines.size)

    def raw_text(self, indices: np.ndarray) -> list[str]:
        """The rows at ``indices`` as CSV text; built only for the few rows that are rejected."""
        return [_csv_line(self.records[i]) for i in np.asarray(indices, dtype=np.int64)]


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


#: Field delimiters a CSV may use, told apart by the header (or named with ``delimiter``).
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def check_encoding(encoding: str | None, name: str = "encoding") -> str:
    """The codec for ``encoding`` (default UTF-8, a byte-order mark skipped); unknown names are refused."""
    if not encoding:
        return "utf-8-sig"
    try:
        info = codecs.lookup(encoding)
        if not getattr(info, "_is_text_encoding", True):  # base64, rot13, zlib: codecs, not text encodings
            raise LookupError(encoding)
        codec = info.name
    except LookupError:
        raise ValidationError(f"{name}={encoding!r} is not an encoding Python knows; use e.g. utf-8, cp1252 "
                              "(Windows/Excel) or latin-1", arguments=name) from None
    return "utf-8-sig" if codec == "utf-8" else codec


def check_delimiter(delimiter: str | None, name: str = "delimiter") -> str | None:
    """A delimiter given by name or character (None or ``auto``: told from the header)."""
    if delimiter in (None, "", "auto"):
        return None
    by_name = {v: k for k, v in DELIMITERS.items()} | {"\\t": "\t"}
    if delimiter in by_name:
        return by_name[delimiter]
    if delimiter in DELIMITERS:
        return delimiter
    raise ValidationError(f"{name}={delimiter!r} is not a delimiter this reads; use auto, comma, semicolon, tab "
                          "or pipe", arguments=name)


def open_text(path: Path, encoding: str | None = None) -> io.TextIOBase:
    """Open a (possibly gzipped) text file in ``encoding`` (default UTF-8); a damaged compressed
    file, binary junk or text in another encoding fails with one clear line."""
    codec = check_encoding(encoding)

    def make() -> io.TextIOBase:
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding=codec, newline="")
        return open(path, encoding=codec, newline="")

    check_compressed(path)
    try:
        with make() as probe:
            probe.read(4096)  # provoke decoding errors here, not half-way through a batch
        return make()
    except UnicodeError:
        raise decoding_error(path, codec) from None
    except (gzip.BadGzipFile, EOFError, OSError) as exc:
        raise FormatError(f"{path.name}: not a readable text file ({type(exc).__name__})") from None


def decoding_error(path: Path, codec: str) -> FormatError:
    """The error for a file that is not text in ``codec``: which byte, on which physical line, and
    the encoding to try (read once more, in blocks, only when the file has failed)."""
    opener = gzip.open if path.suffix == ".gz" else open
    decoder = codecs.getincrementaldecoder(codec)()
    lines_before = 0
    with opener(path, "rb") as raw:
        if b"\x00" in raw.read(4096) and not codec.startswith("utf-16") and not codec.startswith("utf-32"):
            return FormatError(f"{path.name}: not a text file (it looks binary: NUL bytes in its first 4 kB)")
        raw.seek(0)
        for block in iter(lambda: raw.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeError as exc:
                if not isinstance(exc, UnicodeDecodeError):
                    break
                line = lines_before + exc.object[: exc.start].count(b"\n") + 1
                shown = "UTF-8" if codec == "utf-8-sig" else codec
                hint = ("; a file saved from Excel on Windows is usually Windows-1252: load it with encoding cp1252"
                        if codec == "utf-8-sig" else "; name the encoding the file was saved in")
                return FormatError(f"{path.name}: line {line}: byte 0x{exc.object[exc.start]:02X} is not valid "
                                   f"{shown} text{hint}", arguments="encoding")
            lines_before += block.count(b"\n")
    return FormatError(f"{path.name}: not valid text in {codec}; name the encoding the file was saved in",
                       arguments="encoding")


def sniff_delimiter(header_line: str) -> str:
    """The delimiter that splits a header line into the most fields (comma when none splits it)."""
    best, most = ",", 1
    for delimiter in DELIMITERS:
        fields = next(csv.reader([header_line], delimiter=delimiter), [])
        if len(fields) > most:
            best, most = delimiter, len(fields)
    return best


def read_header(path: Path, options: dict | None = None) -> tuple[list[str], str]:
    """A CSV file's header and its delimiter (``options``: ``encoding``; ``delimiter`` or told from the header)."""
    options = options or {}
    with open_text(path, options.get("encoding")) as handle:
        try:
            first = handle.readline()
        except UnicodeError:
            raise decoding_error(path, check_encoding(options.get("encoding"))) from None
    if "\x00" in first:
        raise FormatError(f"{path.name}: not a text CSV file (it holds NUL bytes)")
    delimiter = check_delimiter(options.get("delimiter")) or sniff_delimiter(first.rstrip("\r\n"))
    try:
        header = next(csv.reader([first.rstrip("\r\n")], delimiter=delimiter), [])
    except csv.Error as exc:
        raise FormatError(f"{path.name}: not a CSV file ({exc})") from None
    return [h.strip() for h in header], delimiter


def _read_csv_columns(path: Path, reader: str, wanted: dict[str, str], options: dict | None = None) -> RawRows:
    """Read a CSV keeping ``wanted`` (canonical name -> header name). A row of the wrong width, or one
    the CSV parser cannot read (a field over ``csv.field_size_limit()`` characters), is rejected with
    its line; the rest of the file loads. ``options``: ``encoding``, ``delimiter``."""
    options = options or {}
    header, delimiter = read_header(path, options)
    if not header or header == [""]:
        raise FormatError(f"{path.name}: empty file, no header")
    if delimiter != ",":
        log.info("%s: fields separated by %s", path.name, DELIMITERS[delimiter])
    missing = [col for col in wanted.values() if col not in header]
    if missing:
        raise FormatError(
            f"{path.name}: not a {reader} file: missing column(s) {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(repr, header[:15]))}"
        )
    index = {canon: header.index(col) for canon, col in wanted.items()}
    blank = [i for i, h in enumerate(header) if h.lower() in PERSONAL_COLUMNS]
    width = len(header)
    good: list[list[str]] = []
    lines: list[int] = []
    early: list[tuple[int, str, str]] = []
    with open_text(path, options.get("encoding")) as handle:
        rows = csv.reader(handle, delimiter=delimiter)
        next(rows)
        line = rows.line_num
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except csv.Error as exc:  # the parser drops the rest of that line and carries on
                start_line, line = line + 1, rows.line_num
                too_long = "field larger than field limit" in str(exc)
                early.append((start_line, f"a field is over {csv.field_size_limit():,} characters" if too_long
                              else f"unreadable row ({exc})", "(not kept: the row could not be read)"))
                continue
            except UnicodeError:
                raise decoding_error(path, check_encoding(options.get("encoding"))) from None
            start_line, line = line + 1, rows.line_num
            for i in blank:
                if i < len(row):
                    row[i] = ""
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                early.append((start_line, f"expected {width} fields, found {len(row)}", _csv_line(row)))
                continue
            good.append(row)
            lines.append(start_line)
    columns = list(zip(*good, strict=True)) if good else [()] * width
    fields = {canon: np.asarray(columns[i], dtype=object) for canon, i in index.items()}
    return RawRows(
        source=path,
        reader=reader,
        lines=np.asarray(lines, dtype=np.int64),
        fields=fields,
        records=good,
        early_rejects=early,
        options={"delimiter": delimiter},
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
    has_time = any(k in columns for k in ("datetime", "date", "month"))
    has_place = {"lon", "lat"} <= columns.keys() or {"x", "y"} <= columns.keys()
    has_offence = "offence" in columns or "offence_code" in columns
    if not (has_time and has_place and has_offence):
        raise FormatError(
            f"mapping {p.name}: [columns] must name a time (datetime, date or month), a position "
            "(lon and lat, or x and y) and an offence (offence or offence_code)"
        )
    return mapping


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
    rows = _read_csv_columns(path, "mapped CSV", dict(mapping["columns"]), chosen)
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
