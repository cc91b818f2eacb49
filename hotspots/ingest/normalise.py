"""Raw rows to normalised incidents: times as intervals, WGS84 and projected positions, H3
cells, one offence vocabulary, flags, harm weights and stable ids; every rejected row kept
with its line number and reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from hotspots.crime.aggregate import missing_months, months_text
from hotspots.crime.offences import OffenceVocabulary
from hotspots.geo import cells as h3cells
from hotspots.geo.areas import Area
from hotspots.geo.projection import PLAUSIBLE_MIN_KM, PLAUSIBLE_SPREAD, implausible_positions, project, unproject
from hotspots.ingest.readers import RawRows

log = logging.getLogger(__name__)

REJECT_COLUMNS = ["source_file", "line", "reason", "raw"]
#: Columns of a normalised incident, in the order the store's ``incidents`` table holds them (less its batch).
INCIDENT_COLUMNS = ["incident_id", "source_line", "source_id", "occurred_from", "occurred_to", "time_precision",
                    "lon", "lat", "x", "y", "h3_cell", "offence", "offence_group", "source_offence", "knife_enabled",
                    "victim_under_25", "harm_weight", "location", "lsoa_code"]

_TRUE = {"y", "yes", "true", "t", "1"}
_FALSE = {"n", "no", "false", "f", "0"}


@dataclass
class IngestContext:
    """What the normaliser needs besides the rows: the store's CRS, resolution and zone, the area, the vocabulary."""

    projected_crs: str
    h3_resolution: int
    timezone: str
    vocabulary: OffenceVocabulary
    harm: dict[str, float]
    force_area: Area | None = None


@dataclass
class Normalised:
    incidents: pd.DataFrame
    rejects: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    duplicates_in_file: int = 0


class _FieldText:
    """Each raw field as stripped text, converted once and shared by every check that reads it
    (each conversion of a million values to pandas' Arrow strings costs about 40 ms)."""

    def __init__(self, rows: RawRows):
        self._rows = rows
        self._done: dict[str, pd.Series] = {}

    def __call__(self, name: str) -> pd.Series:
        if name not in self._done:
            self._done[name] = pd.Series(self._rows.fields[name], dtype=object).astype(str).str.strip()
        return self._done[name]

    def get(self, name: str) -> pd.Series | None:
        """The field's text, or None when the file has no such field."""
        return self(name) if name in self._rows.fields else None

    def blank(self, name: str) -> np.ndarray:
        return pd.isna(self._rows.fields[name]) | (self(name) == "").to_numpy()


def text_numbers(values) -> np.ndarray:
    """Raw text values (object array, shape (n,)) to float64, NaN where not a number."""
    return _numbers(pd.Series(values, dtype=object).astype(str).str.strip())


def _numbers(text: pd.Series) -> np.ndarray:
    """Stripped text to float64, NaN where it is not a number: Arrow's cast when every value is one (in C++,
    ten times pandas' speed), pandas' coercing parse when any is not."""
    try:
        return pa.array(text).cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pd.to_numeric(text.astype(object), errors="coerce").to_numpy(dtype=float)


#: The earliest year an incident date may have; the latest is next year.
FIRST_YEAR = 1900


def _holds_nul(rows: RawRows) -> np.ndarray:
    """Rows with a NUL byte in any field (SQLite would store it; PostgreSQL refuses the whole batch)."""
    out = np.zeros(len(rows), dtype=bool)
    if rows.nul_free:
        return out
    for values in rows.fields.values():
        out |= pd.Series(values, dtype=object).astype(str).str.contains("\x00", regex=False).to_numpy()
    return out


@dataclass
class _Times:
    """Every row's interval [start, end) (exact times: end == start), its precision, whether it was read,
    why not, and which local times fell in the hour a clock change repeats (read as its first pass)."""

    start: pd.Series
    end: pd.Series
    precision: np.ndarray
    ok: np.ndarray
    reason: np.ndarray
    repeated_hour: np.ndarray


def _parse_times(rows: RawRows, tz: str, texts: _FieldText) -> _Times:
    """Read every row's time (see :class:`_Times`)."""
    n = len(rows)
    start = pd.Series(pd.NaT, index=range(n), dtype=f"datetime64[ns, {tz}]")
    end = start.copy()
    precision = np.full(n, "", dtype=object)
    source_tz = rows.options.get("timezone") or tz
    last_year = dt.date.today().year + 1
    far = np.zeros(n, dtype=bool)
    repeated, skipped = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for kind in ("datetime", "date", "month"):
        if kind not in rows.fields:
            continue
        text = texts(kind)
        todo = start.isna() & (text != "")
        # A year far outside the records' era (2999, 0017) is a typing error, and past 2262 it does
        # not fit a timestamp at all: the row is rejected before it is parsed.
        head = text.str.slice(0, 4)
        year = pd.Series(_numbers(head.where(head.str.fullmatch(r"\d{4}"))), index=head.index)
        out_of_era = (todo & ((year < FIRST_YEAR) | (year > last_year))).to_numpy()
        far |= out_of_era
        todo &= ~out_of_era
        if not todo.any():
            continue
        if kind == "month":
            parsed = pd.to_datetime(text[todo], format="%Y-%m", errors="coerce")
            # A month written as its first day (2022-01-01, as R writes a month) is that month.
            first_day = parsed.isna() & text[todo].str.fullmatch(r"\d{4}-\d{2}-01")
            if first_day.any():
                parsed[first_day] = pd.to_datetime(text[todo][first_day].str.slice(0, 7), format="%Y-%m",
                                                   errors="coerce")
        elif kind == "date":
            parsed = pd.to_datetime(text[todo], format="%Y-%m-%d", errors="coerce")
        else:
            parsed, twice, gap = _parse_instants(text[todo], rows.options.get("datetime_format"), source_tz)
            repeated[twice[twice].index.to_numpy()] = True
            skipped[gap[gap].index.to_numpy()] = True
        parsed = _localise(parsed, source_tz)
        good = parsed.notna()
        idx = parsed.index[good]
        start[idx] = parsed[good].dt.tz_convert(tz)
        if kind == "month":
            end[idx] = (parsed[good].dt.tz_localize(None) + pd.offsets.MonthBegin(1)).dt.tz_localize(
                source_tz, ambiguous="NaT", nonexistent="shift_forward"
            ).dt.tz_convert(tz)
        elif kind == "date":
            end[idx] = (parsed[good].dt.tz_localize(None) + pd.Timedelta(days=1)).dt.tz_localize(
                source_tz, ambiguous="NaT", nonexistent="shift_forward"
            ).dt.tz_convert(tz)
        else:
            end[idx] = start[idx]
        precision[idx.to_numpy()] = {"datetime": "exact", "date": "day", "month": "month"}[kind]
    ok = start.notna().to_numpy() & end.notna().to_numpy()
    present = np.zeros(n, dtype=bool)
    for kind in ("datetime", "date", "month"):
        if kind in rows.fields:
            present |= ~texts.blank(kind)
    reason = np.where(present, "unparseable date", "missing date").astype(object)
    reason[far & ~ok] = f"date outside {FIRST_YEAR} to {last_year}"
    reason[skipped & ~ok] = ("local time in the hour the clocks skip forward (spring clock change): no such time "
                             "happened; give it with its UTC offset")
    return _Times(start, end, precision, ok, reason, repeated & ok)


_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"


def _parse_instants(text: pd.Series, fmt: str | None, tz: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Date-times with an explicit offset are instants; those without are local times in ``tz``.

    A local time in the hour an autumn clock change repeats is read as its first pass (summer time),
    and flagged (second result); one in the hour a spring change skips did not happen: NaT, flagged
    (third result).
    """
    with_offset = text.str.contains(_OFFSET, regex=True)
    out = pd.Series(pd.NaT, index=text.index, dtype=f"datetime64[ns, {tz}]")
    repeated = pd.Series(False, index=text.index)
    skipped = pd.Series(False, index=text.index)
    if with_offset.any():
        out[with_offset] = pd.to_datetime(text[with_offset], format=fmt or "ISO8601", errors="coerce", utc=True)
    if (~with_offset).any():
        naive = pd.to_datetime(text[~with_offset], format=fmt or "ISO8601", errors="coerce")
        if isinstance(naive.dtype, pd.DatetimeTZDtype) or naive.dtype == object:
            out[~with_offset] = _localise(naive, tz)
        else:
            first = naive.dt.tz_localize(tz, ambiguous=np.ones(len(naive), bool), nonexistent="NaT")
            second = naive.dt.tz_localize(tz, ambiguous=np.zeros(len(naive), bool), nonexistent="NaT")
            out[~with_offset] = first
            repeated[~with_offset] = (first.notna() & second.notna() & (first != second)).to_numpy()
            skipped[~with_offset] = (naive.notna() & first.isna()).to_numpy()
    return out, repeated, skipped


def _localise(parsed: pd.Series, tz: str) -> pd.Series:
    if parsed.empty:
        return parsed.astype(f"datetime64[ns, {tz}]")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed
    if parsed.dtype == object:  # mixed offsets: normalise through UTC
        return pd.to_datetime(parsed, utc=True, errors="coerce")
    return parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")


def _parse_positions(rows: RawRows, texts: _FieldText) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, ok, reason) from lon/lat or from x/y in the source CRS."""
    a, b = ("lon", "lat") if "lon" in rows.fields else ("x", "y")
    missing = texts.blank(a) | texts.blank(b)
    fa, fb = _numbers(texts(a)), _numbers(texts(b))
    unparseable = ~missing & ~(np.isfinite(fa) & np.isfinite(fb))
    if "lon" in rows.fields:
        lon, lat = fa, fb
        crs = "EPSG:4326"
    else:
        crs = rows.options.get("coord_crs", "EPSG:4326")
        lon, lat = (unproject(fa, fb, crs) if crs != "EPSG:4326" else (fa, fb))
    out_of_range = ~missing & ~unparseable & ~((np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    reason = np.full(lon.size, "", dtype=object)
    reason[missing] = "missing coordinates"
    reason[unparseable] = "unparseable coordinates"
    reason[out_of_range] = "coordinates out of range"
    ok = reason == ""
    return lon, lat, ok, reason


def _flag(text: pd.Series | None, truthy: list[str] | None = None) -> np.ndarray:
    """Stripped text flags to a nullable boolean (True/False/None)."""
    if text is None:
        return np.full(0, None, dtype=object)
    low = text.str.lower()
    true = set(truthy) if truthy else _TRUE
    out = np.full(low.size, None, dtype=object)
    out[low.isin(true).to_numpy()] = True
    out[low.isin(_FALSE).to_numpy() & ~low.isin(true).to_numpy()] = False
    return out


_BAND = re.compile(r"^\s*(\d+)\s*(?:-|to|–)\s*(\d+)\s*$")


def victim_under_25(bands: np.ndarray) -> np.ndarray:
    """Victim age band text to an under-25 flag; None where the band straddles 25 or is unknown.

    '18-24' -> True, '25-34' -> False, 'under 18' -> True, '65+' / 'over 34' -> False, '20-29' -> None.
    """
    text = pd.Series(np.asarray(bands, dtype=object), dtype=object).astype(str)
    return _per_distinct(text, lambda band: _band_under_25(band.strip().lower()), None, object)


def _band_under_25(key: str):
    if not key:
        return None
    m = _BAND.match(key)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        return True if hi < 25 else False if lo >= 25 else None
    m = re.match(r"^(?:under|<)\s*(\d+)$", key)
    if m:
        return True if int(m.group(1)) <= 25 else None
    m = re.match(r"^(?:over\s*(\d+)|(\d+)\s*\+|(\d+)\s*and over)$", key)
    if m:
        lo = int(next(g for g in m.groups() if g))
        return False if lo >= 24 else None
    if key.isdigit():
        return int(key) < 25
    return None


def _content_ids(rows: RawRows, keep: np.ndarray, texts: _FieldText | None = None) -> np.ndarray:
    """Stable 128-bit content hashes for the ``keep`` rows, which have no source id.

    Identical rows are real in police data (two crimes of one type at one snapped point in one
    month), so the k-th copy of a row gets ``#k`` in its hash: loading the file again gives the
    same ids, and the copies are not collapsed into one.
    """
    names = sorted(k for k in rows.fields if k != "source_id")
    texts = texts or _FieldText(rows)
    frame = pd.DataFrame({k: texts(k) for k in names})
    frame = frame[keep]
    repeat = frame.groupby(names, sort=False, dropna=False).cumcount().astype(str)
    # BLAKE2 over the joined fields, not a library's internal hash: ids must stay the same for
    # as long as the store lives, across library upgrades.
    frame["_repeat"] = repeat
    frame["_reader"] = rows.reader
    text = frame[names[0]].str.cat([frame[c] for c in [*names[1:], "_repeat", "_reader"]], sep="\x1f")
    return np.asarray(["h" + hashlib.blake2b(t.encode(), digest_size=16).hexdigest() for t in text], dtype=object)


def _repeated_source_ids(rows: RawRows, ids: np.ndarray, with_id: np.ndarray, warnings: list[str]) -> np.ndarray:
    """Handle a source id that appears more than once in a file; returns the rows to drop.

    An exact repeat of a row is the same crime printed twice: dropped and counted. The same
    Crime ID on rows that differ (data.police.uk has these, at different places) is kept as
    separate records, the later ones stored as ``<id>#2``, ``<id>#3``, ... in file order, which
    loading the file again reproduces.
    """
    drop = np.zeros(len(rows), dtype=bool)
    idx = np.flatnonzero(with_id)
    if idx.size == 0 or not pd.Series(ids[idx]).duplicated().any():
        return drop
    content = pd.DataFrame({k: pd.Series(v[idx], dtype=object).astype(str) for k, v in sorted(rows.fields.items())})
    content["_id"] = ids[idx]
    exact = content.duplicated().to_numpy()
    drop[idx[exact]] = True
    rest = idx[~exact]
    repeat = pd.Series(ids[rest]).groupby(ids[rest]).cumcount().to_numpy()
    renamed = rest[repeat > 0]
    ids[renamed] = [f"{i}#{k + 1}" for i, k in zip(ids[renamed], repeat[repeat > 0], strict=True)]
    if exact.any():
        warnings.append(f"{rows.source.name}: {int(exact.sum())} row(s) repeat an earlier row exactly "
                        f"(first at line {int(rows.lines[idx[exact][0]])}); kept once")
    if renamed.size:
        warnings.append(f"{rows.source.name}: {renamed.size} row(s) reuse the Crime ID of a different row "
                        f"(first at line {int(rows.lines[renamed[0]])}); kept, with '#2', '#3' added to the id")
    return drop


def normalise(rows: RawRows, ctx: IngestContext) -> Normalised:
    """Turn a file's raw rows into incidents and rejects (see module docstring)."""
    n = len(rows)
    reasons = np.full(n, "", dtype=object)
    reasons[_holds_nul(rows)] = "a field holds a NUL byte (0x00), which text cannot hold"
    texts = _FieldText(rows)
    times = _parse_times(rows, ctx.timezone, texts)
    time_ok = times.ok
    reasons[(reasons == "") & ~time_ok] = times.reason[(reasons == "") & ~time_ok]
    lon, lat, pos_ok, pos_reason = _parse_positions(rows, texts)
    reasons[(reasons == "") & ~pos_ok] = pos_reason[(reasons == "") & ~pos_ok]
    # Projection and H3 run in C with the GIL released: done for every placed row on a second
    # thread while this one checks areas, offences and ids (a million rows: 0.9 s to 0.4 s).
    with ThreadPoolExecutor(max_workers=1) as pool:
        placed = np.flatnonzero(pos_ok)
        indexed = pool.submit(_place, lon[placed], lat[placed], ctx.projected_crs, ctx.h3_resolution)
        return _normalise_rest(rows, ctx, texts, reasons, times, lon, lat, pos_ok, placed, indexed)


def _place(lon: np.ndarray, lat: np.ndarray, crs: str, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projected x, y and H3 cell (as text) of WGS84 points."""
    x, y = project(lon, lat, crs)
    return x, y, h3cells.to_strings(h3cells.points_to_cells(lon, lat, resolution))


def _normalise_rest(rows: RawRows, ctx: IngestContext, texts: _FieldText, reasons: np.ndarray, times: _Times,
                    lon: np.ndarray, lat: np.ndarray, pos_ok: np.ndarray, placed: np.ndarray,
                    indexed: Future) -> Normalised:
    """:func:`normalise` once times and positions are read (``indexed`` places the ``placed`` rows)."""
    n = len(rows)
    start, end, precision = times.start, times.end, times.precision
    if ctx.force_area is not None:
        inside = ctx.force_area.contains(lon, lat)
        outside = (reasons == "") & ~inside
        reasons[outside] = f"outside the force area ({ctx.force_area.name})"
    else:
        far, limit = implausible_positions(np.where(pos_ok, lon, np.nan), np.where(pos_ok, lat, np.nan))
        if far.any():
            log.info("%s: no force area, so positions over %.0f km from the file's median centre (%g times the "
                     "median distance, at least %g km) are rejected as implausible", rows.source.name, limit,
                     PLAUSIBLE_SPREAD, PLAUSIBLE_MIN_KM)
        reasons[(reasons == "") & far] = f"implausible location (lat/lon swapped?): over {limit:.0f} km from the " \
                                         "file's other points"
    keep = reasons == ""

    warnings: list[str] = []
    gaps = missing_months(start[keep], ctx.timezone) if keep.any() else []
    if gaps:
        warnings.append(f"{rows.source.name}: no incident in {months_text(gaps)} inside the file's span; a month "
                        "with no crime is more likely a month missing from the export")
    twice = keep & times.repeated_hour
    if twice.any():
        warnings.append(f"{rows.source.name}: {int(twice.sum())} row(s) at a local time the autumn clock change "
                        f"repeats (first at line {int(rows.lines[np.flatnonzero(twice)[0]])}) read as its first "
                        "pass, in summer time; the source does not say which")
    offence_text = rows.fields.get("offence", np.full(n, "", dtype=object))
    codes, known = ctx.vocabulary.lookup(offence_text)
    unknown = keep & ~known
    if unknown.any():
        counts = Counter(str(v) for v in offence_text[unknown])
        first_line = {str(v): int(rows.lines[i]) for i, v in reversed(list(zip(np.flatnonzero(unknown), offence_text[unknown], strict=True)))}
        for name, count in counts.most_common():
            warnings.append(
                f"{rows.source.name}: unknown offence {name!r} on {count} row(s) (first at line {first_line[name]}) "
                "kept as 'other'"
            )

    ids = np.full(n, None, dtype=object)
    source_id = rows.fields.get("source_id")
    if source_id is not None:
        sid = texts("source_id")
        has = (sid != "").to_numpy()
        ids[has] = sid[has].to_numpy()
        source_id_text = ids.copy()
    else:
        has = np.zeros(n, dtype=bool)
        source_id_text = ids
    need_hash = keep & ~has
    if need_hash.any():
        ids[need_hash] = _content_ids(rows, need_hash, texts)
    dup_in_file = _repeated_source_ids(rows, ids, keep & has, warnings)
    keep &= ~dup_in_file

    idx = np.flatnonzero(keep)
    x, y, cell_ids = (values[np.searchsorted(placed, idx)] for values in indexed.result())
    kept_codes = codes[idx]
    knife = _flag(texts.get("knife"), rows.options.get("knife_true"))
    under25 = (
        _flag(texts("victim_under_25")) if "victim_under_25" in rows.fields
        else victim_under_25(rows.fields["victim_age"]) if "victim_age" in rows.fields
        else np.full(n, None, dtype=object)
    )
    incidents = pd.DataFrame(
        {name: _as_object(values) for name, values in {
            "incident_id": ids[idx],
            "source_id": np.where(has[idx], source_id_text[idx], None),
            "source_line": rows.lines[idx],
            "occurred_from": start.iloc[idx].dt.tz_convert("UTC").reset_index(drop=True),
            "occurred_to": end.iloc[idx].dt.tz_convert("UTC").reset_index(drop=True),
            "time_precision": precision[idx],
            "lon": lon[idx],
            "lat": lat[idx],
            "x": x,
            "y": y,
            "h3_cell": cell_ids,
            "offence": kept_codes,
            "offence_group": ctx.vocabulary.group_of(kept_codes),
            "source_offence": _text(texts.get("source_offence") if "source_offence" in rows.fields
                                    else texts.get("offence"), idx, 120),
            "knife_enabled": knife[idx] if knife.size else np.full(idx.size, None, dtype=object),
            "victim_under_25": under25[idx],
            "harm_weight": _per_distinct(kept_codes, lambda code: ctx.harm.get(code, np.nan), np.nan, float),
            "location": _text(texts.get("location"), idx, 200),
            "lsoa_code": _text(texts.get("lsoa_code"), idx, 16),
        }.items()},
        columns=INCIDENT_COLUMNS,
    )
    rejected = np.flatnonzero(~keep & ~dup_in_file)
    rejects = pd.DataFrame(
        {
            "source_file": rows.source.name,
            "line": np.concatenate([[r[0] for r in rows.early_rejects], rows.lines[rejected]]).astype(np.int64),
            "reason": [r[1] for r in rows.early_rejects] + list(reasons[rejected]),
            # NUL is written out as \x00: PostgreSQL text cannot hold the byte itself.
            "raw": [r.replace("\x00", "\\x00") for r in [r[2] for r in rows.early_rejects] + rows.raw_text(rejected)],
        },
        columns=REJECT_COLUMNS,
    ).sort_values("line", kind="stable", ignore_index=True)
    return Normalised(incidents=incidents, rejects=rejects, warnings=warnings, duplicates_in_file=int(dup_in_file.sum()))


def _as_object(values):
    """Text columns stay Python strings (object): pandas would turn each into Arrow strings, which
    the store's insert turns straight back; numbers and times pass as they are."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return pd.Series(values, dtype=object, copy=False)
    return values


def _per_distinct(values, fn, missing, dtype) -> np.ndarray:
    """``fn(v)`` for each of ``values``, called once per distinct value (``missing`` for NA)."""
    index, distinct = pd.factorize(pd.Series(values, dtype=object), sort=False)
    # NA is index -1: it takes the last entry, ``missing``.
    return np.asarray([fn(v) for v in distinct] + [missing], dtype=dtype)[index]


def _text(text: pd.Series | None, idx: np.ndarray, width: int) -> np.ndarray:
    """The ``idx`` rows of a stripped text field cut to ``width``, None where empty."""
    if text is None:
        return np.full(idx.size, None, dtype=object)
    s = text.iloc[idx].str.slice(0, width)
    return s.where(s != "", None).to_numpy(dtype=object)
