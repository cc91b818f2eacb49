"""Incident files into the store, and stored incidents read back for the other jobs.

Each file is one all-or-nothing batch. A file whose bytes were loaded before is recognised by
its SHA-256 and adds nothing; a crime already stored under the same id (its Crime ID, or the
hash of its content) is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from hotspots.core.config import get_settings
from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.core.filecache import ArrayFileCache
from hotspots.crime.aggregate import counted_groups
from hotspots.geo.areas import Area
from hotspots.ingest.files import (
    IngestOptions,
    LoadReport,
    expand_paths,
    file_sha256,
    ingest_context,
    write_rejects,
)
from hotspots.ingest.normalise import normalise
from hotspots.ingest.readers import read
from hotspots.store.audit import record
from hotspots.store.db import Store
from hotspots.store.incidents import batch_of, batch_rejects, projected_crs, read_incidents, write_batch

log = logging.getLogger(__name__)


def load_area(path: str | Path) -> Area:
    """A boundary file as an area whose H3 cover is kept in ``data_dir/cache/areas``, so a
    process loading one file does not first spend seconds covering the force outline again."""
    return Area.from_file(path, store=ArrayFileCache(get_settings().data_dir / "cache" / "areas"))


def ingest_file(
    path: str | Path, store: Store, opts: IngestOptions, progress: Callable[[int], None] | None = None
) -> LoadReport:
    """Load one file as one batch (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{str(path)!r}: no such file")
    sha = file_sha256(path)
    earlier = batch_of(store, sha)
    if earlier is not None:
        return LoadReport(source=path, batch_id=earlier, skipped_reason=f"already loaded as batch {earlier}")

    rows = read(path, opts.fmt, opts.reader_options())
    res = store.meta("h3_resolution")
    ctx = ingest_context(store.meta("projected_crs"), int(res) if res is not None else None, rows, opts, "store")
    result = normalise(rows, ctx)
    report = LoadReport(
        source=path, batch_id=None, reader=rows.reader,
        rows_read=len(rows) + len(rows.early_rejects), rejected=len(result.rejects), warnings=result.warnings,
    )
    stored = write_batch(store, source_file=str(path), sha256=sha, reader=rows.reader, rows_read=report.rows_read,
                         incidents_frame=result.incidents, rejects=result.rejects, warnings=result.warnings,
                         duplicates_in_file=result.duplicates_in_file, projected_crs=ctx.projected_crs,
                         h3_resolution=ctx.h3_resolution, progress=progress)
    if stored.already_loaded:
        return LoadReport(source=path, batch_id=stored.batch_id,
                          skipped_reason=f"already loaded as batch {stored.batch_id}")
    report.batch_id, report.loaded = stored.batch_id, stored.loaded
    report.already_stored = len(result.incidents) - stored.loaded + result.duplicates_in_file
    for warning in result.warnings:
        log.warning(warning)
    if len(result.rejects) and opts.rejects_dir is not None:
        report.rejects_csv = write_rejects(result.rejects, Path(opts.rejects_dir), f"batch{stored.batch_id:05d}", path)
    return report


def ingest_upload(path: Path, store: Store, opts: IngestOptions, *, filename: str, actor: str,
                  shown_rejects: int = 100) -> tuple[LoadReport, list[dict]]:
    """Load an uploaded file as :func:`ingest_file` does, audited as ``actor``.

    Parameters
    ----------
    path : the saved upload. store, opts : as for :func:`ingest_file`.
    filename : the file's name as the client sent it (for the audit event).
    actor : who uploaded it.
    shown_rejects : how many rejected rows to return (all are kept in the store).

    Returns
    -------
    (LoadReport, list[dict])
        The report and the first ``shown_rejects`` rejected rows (line, reason, raw), in line order.
    """
    report = ingest_file(path, store, opts)
    rejects = []
    if report.rejected and report.batch_id is not None:
        rejects = batch_rejects(store, report.batch_id, shown_rejects)
    with store.engine.begin() as conn:
        record(conn, actor, "incidents.upload", "batch", report.batch_id,
               {"file": filename, "loaded": report.loaded, "rejected": report.rejected})
    return report, rejects


def ingest_files(
    paths: Sequence[str | Path], store: Store, opts: IngestOptions, progress: Callable[[int], None] | None = None
) -> list[LoadReport]:
    """Load several files, each its own batch; folders are expanded to the files in them."""
    return [ingest_file(f, store, opts, progress) for f in expand_paths(paths)]


def stored_incidents(store: Store, offence_groups: list[str] | None = None, since: pd.Timestamp | None = None,
                     until: pd.Timestamp | None = None, allow_empty: bool = False,
                     name: str = "offence_group") -> pd.DataFrame:
    """Stored incidents of the chosen offence groups; by default recorded crime that patrols do not find.

    Parameters
    ----------
    store : the store to read.
    offence_groups : groups to keep; None for recorded crime except offences detected by police.
    since, until : keep incidents whose interval overlaps [since, until) (aware timestamps).
    allow_empty : return an empty frame instead of raising when nothing matches.
    name : what the front end calls ``offence_groups``, for the message naming an unknown group.

    Returns
    -------
    pandas.DataFrame
        INCIDENT_COLUMNS (times aware, positions in WGS84 and the store's projected metres, harm weight).

    Raises
    ------
    ValidationError
        For an unknown group (the message lists the valid ones).
    NotReadyError
        When nothing matches, unless ``allow_empty``.
    """
    frame = read_incidents(store, counted_groups(offence_groups, name), since, until)
    if frame.empty and not allow_empty:
        raise NotReadyError("the store holds no incidents of those offence groups and dates; load some with 'hotspots ingest'")
    return frame


def stored_frame(store: Store) -> tuple[pd.DataFrame, str]:
    """Every stored incident, and the projected CRS the store was loaded in."""
    frame = read_incidents(store)
    if frame.empty:
        raise NotReadyError("the store holds no incidents; load some with 'hotspots ingest'")
    return frame, projected_crs(store)
