"""Incident files read and normalised, ready for a store or a data set: options, reports, rejects.

Loading into the store (one all-or-nothing batch per file) is a use case:
:mod:`hotspots.services.ingest`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from hotspots.core.errors import ValidationError
from hotspots.core.tables import write_csv
from hotspots.core.textfile import check_delimiter, check_encoding
from hotspots.core.validate import check_resolution
from hotspots.crime.aggregate import missing_months, months_text
from hotspots.crime.offences import harm_weights, vocabulary
from hotspots.geo.areas import Area
from hotspots.geo.projection import check_crs, choose_crs, implausible_positions, unproject
from hotspots.ingest.normalise import IngestContext, normalise, text_numbers
from hotspots.ingest.readers import read
from hotspots.national.dataset import META_FILE, check_force, dataset_crs, write_incidents_dataset

log = logging.getLogger(__name__)

#: The projection a first file with no usable position is read in; never stored (nothing is).
UNFIXED_CRS = "EPSG:3857"


@dataclass
class LoadReport:
    """What loading one file did."""

    source: Path
    batch_id: int | None
    reader: str = ""
    rows_read: int = 0
    loaded: int = 0
    already_stored: int = 0
    rejected: int = 0
    warnings: list[str] = field(default_factory=list)
    skipped_reason: str = ""
    rejects_csv: Path | None = None

    def summary(self) -> str:
        if self.skipped_reason:
            return f"{self.source.name}: {self.skipped_reason}; nothing added"
        text = (
            f"{self.source.name}: {self.rows_read} rows read, {self.loaded} loaded, "
            f"{self.already_stored} already stored, {self.rejected} rejected "
            f"({f'batch {self.batch_id}' if self.batch_id is not None else 'data set'})"
        )
        return text + (f"; rejects in {self.rejects_csv}" if self.rejects_csv else "")


@dataclass
class IngestOptions:
    """Per-run choices: reader, mapping file, text encoding and delimiter, force area, store CRS and
    resolution, harm table, rejects folder."""

    fmt: str = "auto"
    mapping: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    force_area: Area | None = None
    projected_crs: str = "auto"
    h3_resolution: int = 10
    timezone: str = "Europe/London"
    harm_table: str | None = None
    rejects_dir: Path | None = None

    def __post_init__(self) -> None:
        check_encoding(self.encoding)
        self.delimiter = check_delimiter(self.delimiter)

    def reader_options(self) -> dict:
        """What the readers take: the mapping, and the encoding and delimiter when they were named."""
        named = {"mapping": self.mapping, "encoding": self.encoding, "delimiter": self.delimiter}
        return {k: v for k, v in named.items() if v}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_context(crs: str | None, resolution: int | None, rows, opts: IngestOptions, holder: str) -> IngestContext:
    """The context of a load into a store or data set that holds x/y in ``crs`` (``None``: new).

    Parameters
    ----------
    crs : the projected CRS the holder already uses, or None when it holds nothing yet (then
        ``opts.projected_crs``, or one chosen from the rows' positions for ``"auto"``).
    resolution : the H3 resolution the holder uses, or None (then ``opts.h3_resolution``).
    rows : the parsed file, for its positions when a CRS must be chosen.
    opts : the load's options (time zone, harm table, force area).
    holder : "store" or "data set", for the message when ``opts`` asks for another CRS.

    Returns
    -------
    IngestContext
    """
    if crs is None and opts.projected_crs != "auto":
        crs = check_crs(opts.projected_crs)
    elif crs is None:
        lon, lat = _sample_lonlat(rows, opts.force_area)
        valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        # A file with no usable position stores no incident, and a batch that stores none fixes no
        # CRS: any projection serves to reject its rows.
        crs = choose_crs(lon[valid], lat[valid]) if valid.any() else UNFIXED_CRS
    elif opts.projected_crs not in ("auto", crs):
        raise ValidationError(f"projected_crs={opts.projected_crs!r}: this {holder} already holds x/y in {crs}", arguments="projected_crs")
    return IngestContext(
        projected_crs=crs,
        h3_resolution=resolution if resolution is not None else check_resolution(opts.h3_resolution),
        timezone=opts.timezone,
        vocabulary=vocabulary(),
        harm=harm_weights(opts.harm_table),
        force_area=opts.force_area,
    )


def _sample_lonlat(rows, force_area=None) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 positions of a first load, to choose the store's CRS from: with a force area, only
    those inside its bounds, without one only the plausible ones (rows that will be rejected must
    not place the projection)."""
    first, second = ("lon", "lat") if "lon" in rows.fields else ("x", "y")
    a, b = text_numbers(rows.fields[first]), text_numbers(rows.fields[second])
    lon, lat = (a, b) if first == "lon" else unproject(a, b, rows.options.get("coord_crs", "EPSG:4326"))
    if force_area is not None:
        x0, y0, x1, y1 = force_area.geometry.bounds
        inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
        if inside.any():
            return lon[inside], lat[inside]
        return lon, lat
    plausible = ~implausible_positions(lon, lat)[0]
    return lon[plausible], lat[plausible]


def write_rejects(rejects: pd.DataFrame, folder: Path, label: str, source: Path) -> Path:
    """Write a batch's rejected rows as CSV (file, line, reason, raw), atomically, named after
    ``label`` (the batch) and the source file."""
    name = source.name.removesuffix(".gz")
    return write_csv(rejects, folder / f"{label}-{Path(name).stem}.rejects.csv")


def ingest_file_to_dataset(path: str | Path, root: str | Path, force: str, opts: IngestOptions) -> LoadReport:
    """Normalise one file and add its incidents to the partitioned data set at ``root``
    (:mod:`hotspots.national.dataset`) under ``force``.

    Each month's new incidents become one file, written whole and then renamed into place;
    incidents already in their partition (the same export again, or an overlapping one) are
    counted as already stored. Rejected rows go to ``opts.rejects_dir`` with line and reason.
    """
    path = Path(path)
    check_force(force, "force")
    if not path.is_file():
        raise ValidationError(f"{str(path)!r}: no such file")
    rows = read(path, opts.fmt, opts.reader_options())
    ctx = ingest_context(dataset_crs(root), None, rows, opts, "data set")
    result = normalise(rows, ctx)
    written = write_incidents_dataset(result.incidents, root, force, ctx.projected_crs, opts.timezone)
    loaded = sum(pq.ParquetFile(p).metadata.num_rows for p in written)
    report = LoadReport(source=path, batch_id=None, reader=rows.reader, rows_read=len(rows) + len(rows.early_rejects),
                        loaded=loaded, already_stored=len(result.incidents) - loaded + result.duplicates_in_file,
                        rejected=len(result.rejects), warnings=result.warnings)
    if len(result.rejects) and opts.rejects_dir is not None:
        report.rejects_csv = write_rejects(result.rejects, Path(opts.rejects_dir), f"dataset-{force}", path)
    return report


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, and the files in folders named (sorted, hidden ones left out); the folder of a
    partitioned data set gives every file of its partitions."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir() and (p / META_FILE).is_file():
            files.extend(sorted(p.glob("force=*/month=*/*.parquet")))
        elif p.is_dir():
            files.extend(sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")))
        elif p.is_file():
            files.append(p)
        else:
            raise ValidationError(f"{str(p)!r}: no such file or folder")
    return files


def normalise_files(paths: Sequence[str | Path], opts: IngestOptions) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Read and normalise files without a store: ``(incidents, rejects, warnings)``.

    For commands that work straight from files (``hotspots model predict``). The CRS is
    ``opts.projected_crs`` or chosen from the first file's positions; every rejected row is
    returned with its file, line number and reason, and a crime id seen in an earlier file is
    kept once, as a store would.
    """
    files = expand_paths(paths)
    if not files:
        raise ValidationError("no incident files in " + ", ".join(map(str, paths)))
    frames, rejects, warnings = [], [], []
    ctx = None
    for f in files:
        rows = read(f, opts.fmt, opts.reader_options())
        if ctx is None:
            ctx = ingest_context(None, None, rows, opts, "run")
        result = normalise(rows, ctx)
        frames.append(result.incidents)
        rejects.append(result.rejects)
        warnings += result.warnings
    incidents_frame = pd.concat(frames, ignore_index=True).drop_duplicates("incident_id", ignore_index=True)
    gaps = missing_months(incidents_frame["occurred_from"], opts.timezone) if len(files) > 1 else []
    if gaps:
        warnings.append(f"the {len(files)} files hold no incident in {months_text(gaps)} inside their span: a "
                        "missing file, not a month without crime")
    incidents_frame.attrs["projected_crs"] = ctx.projected_crs
    return incidents_frame, pd.concat(rejects, ignore_index=True), warnings
