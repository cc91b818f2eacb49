"""Incidents in the store: each file's batch written in one transaction, and incidents read back.

A batch is one transaction: its row in ``load_batches``, its incidents and its rejected rows
commit together or not at all, so a process killed half-way leaves the store as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hotspots.store.bulk import insert_incidents
from hotspots.store.db import Store
from hotspots.store.schema import incidents, load_batches, rejected_rows

#: Columns an incident is read with (the stored ones, less the load bookkeeping).
READ_COLUMNS = ["incident_id", "occurred_from", "occurred_to", "time_precision", "lon", "lat", "x", "y",
                "h3_cell", "offence", "offence_group", "knife_enabled", "victim_under_25", "harm_weight",
                "location"]


@dataclass(frozen=True)
class StoredBatch:
    """What writing one batch did: its id, the incidents it added, and whether the file was
    committed by another process first (then ``batch_id`` is that earlier batch and nothing was added)."""

    batch_id: int
    loaded: int
    already_loaded: bool = False


def batch_of(store: Store, sha256: str) -> int | None:
    """The batch that loaded a file with these bytes, or None."""
    with store.engine.connect() as conn:
        return conn.execute(select(load_batches.c.batch_id).where(load_batches.c.sha256 == sha256)).scalar()


def write_batch(store: Store, *, source_file: str, sha256: str, reader: str, rows_read: int,
                incidents_frame: pd.DataFrame, rejects: pd.DataFrame, warnings: list[str], duplicates_in_file: int,
                projected_crs: str, h3_resolution: int,
                progress: Callable[[int], None] | None = None) -> StoredBatch:
    """Write one file's normalised incidents and rejected rows as one batch, all or nothing.

    Incidents whose id is already stored are skipped; the store's projected CRS and H3 resolution
    are recorded by its first batch that stores an incident (a file whose rows were all rejected
    fixes nothing: its CRS was chosen from positions that turned out to be wrong).

    Parameters
    ----------
    source_file, sha256, reader : the file, the SHA-256 of its bytes, and the reader that read it.
    rows_read : data rows in the file, rejected ones included.
    incidents_frame : normalised incidents, one row each (the ``incidents`` columns less ``batch_id``).
    rejects : rejected rows (source_file, line, reason, raw).
    warnings : what the normaliser warned of, kept with the batch.
    duplicates_in_file : rows repeating an incident earlier in the same file.
    projected_crs, h3_resolution : the store-wide settings the incidents were normalised with.
    progress : called with the number of rows written after each chunk.

    Returns
    -------
    StoredBatch
    """
    try:
        with store.engine.begin() as conn:
            if len(incidents_frame):
                store.set_meta(conn, "projected_crs", projected_crs)
                store.set_meta(conn, "h3_resolution", str(h3_resolution))
            batch_id = conn.execute(
                load_batches.insert().values(
                    source_file=source_file, sha256=sha256, reader=reader, loaded_at=dt.datetime.now(dt.UTC),
                    rows_read=rows_read, rows_loaded=0, rows_already_stored=0,
                    rows_rejected=len(rejects), warnings=json.dumps(warnings),
                )
            ).inserted_primary_key[0]
            loaded = insert_incidents(conn, incidents_frame, batch_id, progress)
            if len(rejects):
                conn.execute(rejected_rows.insert(), rejects.assign(batch_id=batch_id).to_dict("records"))
            conn.execute(
                update(load_batches).where(load_batches.c.batch_id == batch_id).values(
                    rows_loaded=loaded, rows_already_stored=len(incidents_frame) - loaded + duplicates_in_file
                )
            )
    except IntegrityError:
        # Another process committed the same file between the caller's check and this insert.
        earlier = batch_of(store, sha256)
        if earlier is None:
            raise
        return StoredBatch(earlier, 0, already_loaded=True)
    return StoredBatch(batch_id, loaded)


def read_incidents(
    store: Store,
    offence_groups: list[str] | None = None,
    since: pd.Timestamp | None = None,
    until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Incidents from the store (no personal data is held there), optionally filtered; READ_COLUMNS."""
    query = select(*[incidents.c[c] for c in READ_COLUMNS])
    if offence_groups:
        query = query.where(incidents.c.offence_group.in_(offence_groups))
    if since is not None:
        query = query.where(incidents.c.occurred_to >= since.to_pydatetime())
    if until is not None:
        query = query.where(incidents.c.occurred_from < until.to_pydatetime())
    with store.engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    for col in ("occurred_from", "occurred_to"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def projected_crs(store: Store) -> str:
    """The projected CRS the store's x/y are in (British National Grid before any load)."""
    return store.meta("projected_crs") or "EPSG:27700"


def batch_rejects(store: Store, batch_id: int, limit: int) -> list[dict]:
    """The first ``limit`` rejected rows of a batch, in line order: line, reason, raw."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(rejected_rows.c.line, rejected_rows.c.reason, rejected_rows.c.raw)
                            .where(rejected_rows.c.batch_id == batch_id)
                            .order_by(rejected_rows.c.line).limit(limit)).mappings().all()
    return [dict(r) for r in rows]
